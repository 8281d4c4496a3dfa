import * as tf from '@tensorflow/tfjs-core';
import type { CamMethodDefinition } from '../method';

/**
 * HiResCAM: the gradient multiplies the activations position by position instead of being
 * averaged first, so the map shows exactly where the layer's evidence sits (provably so when the
 * layer is followed by a flatten and a dense layer, where Grad-CAM's averaging can move it).
 *
 * Reference: Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful explanations of
 * convolutional neural networks".
 */
export const hiResCamMethod: CamMethodDefinition = {
  usesGradients: true,
  // Draelos & Carin 2020: M_ij = Σ_k ∂y^c/∂A^k_ij · A^k_ij (the engine sums over k and applies the ReLU).
  contributions: ({ activations, gradients }) => tf.mul(gradients, activations) as tf.Tensor4D,
};
