import * as tf from '@tensorflow/tfjs-core';
import { EPSILON, type CamMethodDefinition } from '../method';

/**
 * XGrad-CAM: the gradient is averaged with each position weighted by its share of the channel's
 * activation, the weighting that best satisfies the sensitivity and conservation axioms. Equal to
 * Grad-CAM when the layer is followed by global average pooling and a dense layer.
 *
 * Reference: Fu et al. 2020, "Axiom-based Grad-CAM: Towards Accurate Visualization and
 * Explanation of CNNs".
 */
export const xGradCamMethod: CamMethodDefinition = {
  usesGradients: true,
  channelWeights: ({ activations, gradients }) =>
    tf.tidy(() => {
      const activationSums = tf.sum(activations, [1, 2], true);
      // Fu et al. 2020, the XGrad-CAM weight: w_k = Σ_ij (A^k_ij / Σ_ab A^k_ab) ∂y^c/∂A^k_ij.
      return tf.sum(tf.div(tf.mul(activations, gradients), tf.add(activationSums, EPSILON)), [1, 2]) as tf.Tensor2D;
    }),
};
