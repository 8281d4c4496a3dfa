import * as tf from '@tensorflow/tfjs-core';
import type { SeedStream } from '../random';
import type { SamplingMode } from './sampling';

/** The kernel's linear map (a matrix product for dense layers, a convolution for conv layers). */
export type LinearMap = (x: tf.Tensor, kernel: tf.Tensor) => tf.Tensor;

/** A mean-field Normal kernel posterior: independent N(loc, sigma²) per weight. */
export interface KernelPosterior {
  /** Per-weight posterior mean μ, shaped like the kernel. */
  loc: tf.Tensor;
  /** Per-weight posterior standard deviation σ > 0, shaped like the kernel. */
  sigma: tf.Tensor;
}

/**
 * An estimator applies a random kernel drawn from the posterior to a batch, without the bias.
 * All four give outputs with the same per-example mean and variance; they differ in cost and in
 * how the noise is shared across the batch.
 */
export type KernelEstimator = (linear: LinearMap, x: tf.Tensor, kernel: KernelPosterior, seeds: SeedStream) => tf.Tensor;

/** Keeps sqrt differentiable where an input row is all zeros (a dead ReLU): far below float32 noise. */
const VARIANCE_FLOOR = 1e-16;

/** Per-example sign shape: one sign per example and channel, shared over any spatial axes. */
function signShape(t: tf.Tensor): number[] {
  return t.shape.map((size, axis) => (axis === 0 || axis === t.rank - 1 ? size : 1));
}

/** Wen et al. 2018, eq. 4: x·μ + ((x ⊙ s_in)·ΔW) ⊙ s_out with ΔW ~ N(0, σ²) drawn once per call. */
const flipout: KernelEstimator = (linear, x, { loc, sigma }, seeds) => {
  const deltaKernel = tf.mul(sigma, seeds.normal(sigma.shape));
  const signIn = seeds.rademacher(signShape(x));
  const mean = linear(x, loc);
  const perturbation = linear(tf.mul(x, signIn), deltaKernel);
  const signOut = seeds.rademacher(signShape(mean));
  return tf.add(mean, tf.mul(perturbation, signOut));
};

/** Blundell et al. 2015: W = μ + σ ⊙ ε, one ε per call shared by the batch. */
const sample: KernelEstimator = (linear, x, { loc, sigma }, seeds) =>
  linear(x, tf.add(loc, tf.mul(sigma, seeds.normal(sigma.shape))));

/** Kingma et al. 2015, eq. 6: each output ~ N(x·μ, x²·σ²), drawn per example and unit. */
const local: KernelEstimator = (linear, x, { loc, sigma }, seeds) => {
  const mean = linear(x, loc);
  const variance = linear(tf.square(x), tf.square(sigma));
  return tf.add(mean, tf.mul(tf.sqrt(tf.add(variance, VARIANCE_FLOOR)), seeds.normal(mean.shape)));
};

const posteriorMean: KernelEstimator = (linear, x, { loc }) => linear(x, loc);

export const ESTIMATORS: Record<SamplingMode, KernelEstimator> = {
  flipout,
  sample,
  local,
  mean: posteriorMean,
};
