export { VariationalLayer, sigmaOf, rhoOf, SIGMA_FLOOR } from './variational';
export type { VariationalLayerArgs, ActivationIdentifier } from './variational';
export { DenseVariational } from './dense_variational';
export type { DenseVariationalArgs } from './dense_variational';
export { DenseFlipout, denseFlipout } from './dense_flipout';
export type { DenseFlipoutArgs } from './dense_flipout';
export { DenseReparameterization, denseReparameterization } from './dense_reparameterization';
export type { DenseReparameterizationArgs } from './dense_reparameterization';
export { DenseLocalReparameterization, denseLocalReparameterization } from './dense_local_reparameterization';
export type { DenseLocalReparameterizationArgs } from './dense_local_reparameterization';
export { ConvVariational } from './conv_variational';
export type { ConvVariationalArgs, ConvRank, SpatialSize } from './conv_variational';
export { Conv1DVariational } from './conv1d_variational';
export type { Conv1DVariationalArgs } from './conv1d_variational';
export { Conv2DVariational } from './conv2d_variational';
export type { Conv2DVariationalArgs, SpatialPair } from './conv2d_variational';
export { Conv3DVariational } from './conv3d_variational';
export type { Conv3DVariationalArgs, SpatialTriple } from './conv3d_variational';
export { Conv1DFlipout, conv1dFlipout } from './conv1d_flipout';
export type { Conv1DFlipoutArgs } from './conv1d_flipout';
export { Conv1DReparameterization, conv1dReparameterization } from './conv1d_reparameterization';
export type { Conv1DReparameterizationArgs } from './conv1d_reparameterization';
export { Conv2DFlipout, conv2dFlipout } from './conv2d_flipout';
export type { Conv2DFlipoutArgs } from './conv2d_flipout';
export { Conv2DReparameterization, conv2dReparameterization } from './conv2d_reparameterization';
export type { Conv2DReparameterizationArgs } from './conv2d_reparameterization';
export { Conv3DFlipout, conv3dFlipout } from './conv3d_flipout';
export type { Conv3DFlipoutArgs } from './conv3d_flipout';
export { Conv3DReparameterization, conv3dReparameterization } from './conv3d_reparameterization';
export type { Conv3DReparameterizationArgs } from './conv3d_reparameterization';
export { MCDropout, mcDropout } from './mc_dropout';
export { LaplaceDense, LAPLACE_STRUCTURES } from './laplace_dense';
export type { LaplaceDenseArgs, LaplaceStructure } from './laplace_dense';
export type { MCDropoutArgs } from './mc_dropout';
export { NormalPrior, ScaleMixturePrior, createPrior, DEFAULT_PRIOR, DEFAULT_SCALE_MIXTURE } from './priors';
export type { Prior, PriorSpec, NormalPriorSpec, ScaleMixturePriorSpec, DivergenceContext } from './priors';
export { mopedInitialize, layerWeight, MOPED_DELTA } from './moped';
export type { DeterministicWeights, MopedOptions } from './moped';
export { toBayesian } from './to_bayesian';
export type { ToBayesianOptions, LayerSelection, ConverterEstimator } from './to_bayesian';
export type { Initializer, InitializerSpec } from './initializers';
export type { KernelDraw, KernelPosterior, LinearMap } from './estimators';
export { SAMPLING_MODES, isStochastic, stochasticLayers, allLayers, withSampling } from './sampling';
export type { SamplingMode, SamplingOverride, StochasticLayer } from './sampling';
export { DenseVariationalV2, denseVariationalV2 } from './dense_variational_v2';
export type { DenseVariationalV2Args } from './dense_variational_v2';
export { MAX_FULL_COVARIANCE_WEIGHTS, MAX_LOW_RANK, DEFAULT_JOINT_POSTERIOR, DEFAULT_JOINT_PRIOR } from './joint_posteriors';
export type {
  AddWeight,
  JointPosterior,
  JointPrior,
  JointPosteriorSpec,
  MeanFieldPosteriorSpec,
  FullCovariancePosteriorSpec,
  LowRankPosteriorSpec,
  JointPriorSpec,
  FixedNormalPriorSpec,
  LearnableNormalPriorSpec,
} from './joint_posteriors';
export { TFP_WEIGHT_NAMES, fromTfpWeightNames, toTfpWeightNames } from './tfp_names';
export { klLoss, negativeElbo, negativeElboTerms } from './elbo';
export type { NegativeElbo, NegativeElboOptions } from './elbo';
