import * as tf from '@tensorflow/tfjs-core';
import type { CamMethodDefinition } from '../method';

/**
 * LayerCAM: like HiResCAM, position by position, but only positive gradients count, which keeps
 * maps clean at shallow layers too: it is the method to use below the last convolutional layer.
 *
 * Reference: Jiang et al. 2021, "LayerCAM: Exploring Hierarchical Class Activation Maps for
 * Localization", IEEE TIP.
 */
export const layerCamMethod: CamMethodDefinition = {
  usesGradients: true,
  // Jiang et al. 2021: M_ij = ReLU(Σ_k ReLU(∂y^c/∂A^k_ij) · A^k_ij) (the engine sums over k and applies the outer ReLU).
  contributions: ({ activations, gradients }) => tf.mul(tf.relu(gradients), activations) as tf.Tensor4D,
};
