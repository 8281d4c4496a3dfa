/**
 * The HAM10000 dermoscopy pipeline (Node only): dataset, VGG16 transfer learning with a Bayesian
 * head, crash-safe training, evaluation, prediction with uncertainty and Grad-CAM, HTML reports.
 */
import { checkTfjsCore } from '../compatibility';
export * from './data';
export { vgg16, compactCnn } from './vgg16';
export type { Vgg16Options, CompactCnnOptions } from './vgg16';
export { resnetSmall } from './resnet_small';
export type { ResnetSmallOptions } from './resnet_small';
export { mobilenetV2 } from './mobilenet_v2';
export type { MobileNetV2Options } from './mobilenet_v2';
export { resnet50 } from './resnet50';
export type { ResNet50Options } from './resnet50';
export { batchNorm } from './backbone';
export type { Backbone, BackboneOptions } from './backbone';
export { loadWeightsByName } from './weights_by_name';
export { buildClassifier, splitClassifier, defaultPooling, defaultTrainableLayers, ARCHITECTURES, POOLINGS, HEADS, DEFAULT_TRAINABLE_LAYERS } from './model';
export type { Architecture, Pooling, Head, Classifier, ClassifierOptions, SplitClassifier } from './model';
export { FeatureCache, buildFeatureCache } from './feature_cache';
export type { BuildFeatureCacheOptions } from './feature_cache';
export { train, learningRateAt } from './train';
export type { TrainOptions, TrainEvent, TrainResult } from './train';
export { readRunConfig, latestCheckpoint, runPaths, loadRun, recordsOfSplit, evaluationRecords, runExplanation, explanationName, localizationFile, runDefaults, ARCH_DEFAULTS, ARCH_EXPLANATIONS, BALANCES, LR_SCHEDULES, RUN_DEFAULTS, EVALUATION_SAMPLES, CAM_SAMPLES, EVALUATION_SPLITS, RUN_MODELS } from './run';
export type { RunConfig, TrainState, EpochRecord, Balance, LrSchedule, LoadedRun, RunModel, EvaluationSplit, DefaultedSetting, Explanation, RecipeSetting } from './run';
export { evaluateRun, predictRecords, metricsOf, operatingPoints, DECISION_RULES, DEFAULT_MIN_RECALL } from './evaluate';
export type { Evaluation, ImagePredictionRecord, EvaluateOptions, OperatingPoint, DecisionRule, MinRecall, PerClassMetrics, RecordPredictions, PredictRecordsOptions } from './evaluate';
export { posthocLaplace, POSTHOC_METHODS } from './posthoc';
export type { PosthocMethod, PosthocSummary } from './posthoc';
export { compareEvaluationFiles } from './compare';
export type { EvaluationComparison } from './compare';
export { localizeRun, centredBlob } from './localize';
export type { LocalizeOptions, LocalizationReport, MapScore } from './localize';
export { predictImage, explainImage, DISPLAY_SIZE } from './predict';
export type { PredictImageOptions, ImagePrediction, ImageExplanation, ExplainImageOptions, ClassDistribution } from './predict';
export { writeReport } from './report';
export type { ReportOptions } from './report';
export { densityPlotSvg, reliabilitySvg, accuracyCoverageSvg } from './charts';
export { main as runCli } from './cli';
export type { CliIo } from './cli';

checkTfjsCore();
