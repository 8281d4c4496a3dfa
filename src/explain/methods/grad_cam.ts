import * as tf from '@tensorflow/tfjs-core';
import type { CamMethodDefinition } from '../method';

/**
 * Grad-CAM: each channel is weighted by the spatial mean of the class score's gradient, a linear
 * approximation of the network downstream of the layer. Smooth, coarse maps; the default.
 *
 * Reference: Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
 * Gradient-based Localization".
 */
export const gradCamMethod: CamMethodDefinition = {
  usesGradients: true,
  // Selvaraju et al. 2017, eq. 1: α_k = (1/Z) Σ_ij ∂y^c/∂A^k_ij.
  channelWeights: ({ gradients }) => tf.mean(gradients, [1, 2]) as tf.Tensor2D,
};
