import * as tf from '@tensorflow/tfjs-core';
import type { CamMethodDefinition } from '../method';
import { firstComponentProjection } from '../pca';

/**
 * Eigen-Grad-CAM: Eigen-CAM on the activations times their gradients (HiResCAM's per-channel
 * contributions), so the principal component is class-specific: cleaner than HiResCAM, and,
 * unlike Eigen-CAM, a different map per class.
 *
 * Reference: pytorch-grad-cam's EigenGradCAM (Gildenblat et al. 2021), after Muhammad & Yeasin
 * 2020, "Eigen-CAM".
 */
export const eigenGradCamMethod: CamMethodDefinition = {
  usesGradients: true,
  map: ({ activations, gradients }) => tf.tidy(() => firstComponentProjection(tf.mul(gradients, activations) as tf.Tensor4D)),
};
