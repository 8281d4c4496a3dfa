/**
 * Monte Carlo uncertainty: the predictor (a deterministic prefix run once, a stochastic suffix
 * sampled in batched calls), the uncertainty decomposition, density curves, calibration and
 * selective-prediction metrics, referral thresholds fitted on validation, paired comparisons of two models, temperature scaling, conformal prediction sets, test-time
 * augmentation views that the Monte Carlo samples can mix with the weight noise, decision rules on
 * top of the predictive distribution (cost matrices, prior shift, fitted class weights); and
 * uncertainty for an already trained deterministic model: a last-layer Laplace posterior and deep ensembles.
 */
export { McPredictor, mcPredict } from './predictor';
export type { McPredictOptions } from './predictor';
export { McPrediction } from './prediction';
export { dihedralTransform, dihedralViews } from './views';
export type { InputView } from './views';
export type { McStrategy, McSummary, McSummaryOptions } from './prediction';
export { kernelDensity, DEGENERATE_BANDWIDTH, BANDWIDTH_RULES } from './density';
export type { KernelDensity, KernelDensityOptions, BandwidthRule } from './density';
export { accuracy, balancedAccuracy, negativeLogLikelihood, brierScore, confusionMatrix, rocAuc, accuracyCoverage } from './metrics';
export type { RocAuc, AccuracyCoverage } from './metrics';
export { calibration, calibrationNoise, fitTemperature, applyTemperature } from './calibration';
export type { Calibration, CalibrationBin, CalibrationOptions, CalibrationNoise, CalibrationNoiseOptions, TemperatureFit } from './calibration';
export { comparePredictions } from './compare';
export type { Comparison, CompareOptions, MetricDifference } from './compare';
export { ConformalClassifier, setMetrics } from './conformal';
export type { ConformalOptions, ConformalScore } from './conformal';
export { fitReferral, referralVerdict, referralOutcome, DEFAULT_TARGET_ACCURACY, DEFAULT_MUTUAL_INFORMATION_QUANTILE } from './referral';
export type { ReferralThresholds, ReferralOutcome, ReferralVerdict, FitReferralOptions } from './referral';
export { fitLastLayerLaplace, LastLayerLaplace, MAX_FULL_PARAMETERS, DEFAULT_LAPLACE_STRUCTURE } from './laplace';
export type { LastLayerLaplaceOptions } from './laplace';
export { ensemblePredict } from './ensemble';
export { minimumExpectedCost, weightedDecisions, priorShiftWeights, fitClassWeights, decisionMetrics } from './decision';
export type { FitClassWeightsOptions, ClassWeightsFit, DecisionMetrics } from './decision';
