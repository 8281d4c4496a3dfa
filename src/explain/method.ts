import type * as tf from '@tensorflow/tfjs-core';

/** The CAM methods, all behind the same call (`cam(..., { method })`). */
export type CamMethod =
  | 'gradcam'
  | 'gradcam++'
  | 'hirescam'
  | 'xgradcam'
  | 'layercam'
  | 'scorecam'
  | 'eigencam'
  | 'eigengradcam'
  | 'ablationcam';
/** Every CAM method, for validation and for iterating over them (CLI choices, tests). */
export const CAM_METHODS: readonly CamMethod[] = [
  'gradcam',
  'gradcam++',
  'hirescam',
  'xgradcam',
  'layercam',
  'scorecam',
  'eigencam',
  'eigengradcam',
  'ablationcam',
];

/** What the engine hands a method: the target layer's activations and what is needed to score images. */
export interface CamContext {
  /** A: the target layer's output [batch, height, width, channels] (after the reshapeTransform, if any). */
  activations: tf.Tensor4D;
  /** The explained images [batch, H, W, C]. */
  images: tf.Tensor4D;
  /**
   * Scores a batch of images in the model's current set-up (score kind, sampling): row i for what
   * image `rows[i]` of the explained batch is explained for. `edit`, when given, replaces the
   * target layer's output O (before any reshapeTransform) by `edit(O)` for this pass.
   */
  scoreImages(images: tf.Tensor4D, rows: number[], edit?: (layerOutput: tf.Tensor) => tf.Tensor): tf.Tensor1D;
  /** How many images a gradient-free method sends through the model at once. */
  scoreCamBatchSize: number;
}

/** The context of a gradient method: also d(class score)/dA, the same shape as A. */
export interface GradientCamContext extends CamContext {
  gradients: tf.Tensor4D;
}

/**
 * How a method turns its context into a map. Most supply channel weights w [batch, channels], and
 * the engine forms ReLU(Σ_k w_k A_k); element-wise methods supply the per-channel contributions
 * [batch, height, width, channels] whose channel sum is the map; a method whose map is not a sum
 * over channels (Eigen-CAM) supplies the map [batch, height, width] before the ReLU.
 * `eigenSmooth` replaces the channel sum by the first principal component of the contributions.
 */
export type MapRule<C> =
  | {
      /** The channel weights w [batch, channels] of a weighted-sum method. */
      channelWeights(context: C): tf.Tensor2D;
      contributions?: never;
      map?: never;
    }
  | {
      /** Each channel's share of the map, [batch, height, width, channels], of an element-wise method. */
      contributions(context: C): tf.Tensor4D;
      channelWeights?: never;
      map?: never;
    }
  | {
      /** The map [batch, height, width] before the ReLU, of a method that is not a sum over channels. */
      map(context: C): tf.Tensor3D;
      channelWeights?: never;
      contributions?: never;
    };

/**
 * One CAM method. `usesGradients: false` tells the engine to skip the backward pass (Score-CAM).
 * The engine owns everything else: layer lookup, forward, scores, ReLU, normalisation, resizing.
 */
export type CamMethodDefinition =
  | ({ usesGradients: true } & MapRule<GradientCamContext>)
  | ({ usesGradients: false } & MapRule<CamContext>);

/** Keeps divisions finite where a denominator is 0 (pytorch-grad-cam's choice for XGrad-CAM; Grad-CAM++ has its own). */
export const EPSILON = 1e-7;
