import type * as tf from '@tensorflow/tfjs-core';

/** The CAM methods, all behind the same call (`cam(..., { method })`). */
export type CamMethod = 'gradcam' | 'gradcam++' | 'hirescam' | 'xgradcam' | 'layercam' | 'scorecam';
/** Every CAM method, for validation and for iterating over them (CLI choices, tests). */
export const CAM_METHODS: readonly CamMethod[] = ['gradcam', 'gradcam++', 'hirescam', 'xgradcam', 'layercam', 'scorecam'];

/** What the engine hands a method: the target layer's activations and what is needed to score images. */
export interface CamContext {
  /** A: the target layer's output [batch, height, width, channels]. */
  activations: tf.Tensor4D;
  /** The explained images [batch, H, W, C]. */
  images: tf.Tensor4D;
  /** The explained class of each image. */
  classes: number[];
  /** Scores a batch of images, row i for class `classes[i]`, in the model's current set-up (score kind, sampling). */
  scoreImages(images: tf.Tensor4D, classes: number[]): tf.Tensor1D;
  /** How many masked images a gradient-free method sends through the model at once. */
  scoreCamBatchSize: number;
}

/** The context of a gradient method: also d(class score)/dA, the same shape as A. */
export interface GradientCamContext extends CamContext {
  gradients: tf.Tensor4D;
}

/**
 * How a method turns its context into a map. Most supply channel weights w [batch, channels], and
 * the engine forms ReLU(Σ_k w_k A_k); element-wise methods supply the map [batch, height, width]
 * before the ReLU instead.
 */
export type MapRule<C> =
  | {
      /** The channel weights w [batch, channels] of a weighted-sum method. */
      channelWeights(context: C): tf.Tensor2D;
      map?: never;
    }
  | {
      /** The map [batch, height, width] of an element-wise method, before the ReLU. */
      map(context: C): tf.Tensor3D;
      channelWeights?: never;
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
