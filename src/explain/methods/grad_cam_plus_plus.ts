import * as tf from '@tensorflow/tfjs-core';
import type { CamMethodDefinition } from '../method';

/** pytorch-grad-cam's epsilon in α's denominator (grad_cam_plusplus.py), so maps agree where gradients are small. */
const ALPHA_EPSILON = 1e-6;

/**
 * Grad-CAM++: each position's positive gradient is weighted by α, which gives every instance of a
 * class a similar share of the weight, so several objects of the class all light up (plain
 * Grad-CAM tends to pick the largest). Higher-order derivatives are replaced by powers of the
 * first, exact when the score is the exponential of the logit.
 *
 * Reference: Chattopadhay et al. 2018, "Grad-CAM++: Generalized Gradient-Based Visual Explanations
 * for Deep Convolutional Networks".
 */
export const gradCamPlusPlusMethod: CamMethodDefinition = {
  usesGradients: true,
  channelWeights: ({ activations, gradients }) =>
    tf.tidy(() => {
      const squared = tf.square(gradients);
      const cubed = tf.mul(squared, gradients);
      const activationSums = tf.sum(activations, [1, 2], true);
      // Chattopadhay et al. 2018, eq. 19: α_ij = g² / (2 g² + Σ_ab A_ab g³), g = ∂y^c/∂A_ij.
      const alpha = tf.div(squared, tf.add(tf.add(tf.mul(squared, 2), tf.mul(activationSums, cubed)), ALPHA_EPSILON));
      const alphaWhereGradient = tf.where(tf.notEqual(gradients, 0), alpha, tf.zerosLike(alpha));
      // The channel weight: w_k = Σ_ij α_ij ReLU(g_ij).
      return tf.sum(tf.mul(alphaWhereGradient, tf.relu(gradients)), [1, 2]) as tf.Tensor2D;
    }),
};
