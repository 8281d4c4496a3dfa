import * as tf from '@tensorflow/tfjs-core';
import { backendHasKernel } from '../kernel_hooks';
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
 * What an estimator draws from: the posterior mean, σ (computed when first asked), and draws of
 * the perturbation ΔW = σ ⊙ ε, which a layer may compute in a fused kernel (VariationalLayer).
 */
export interface KernelSampler {
  loc: tf.Tensor;
  sigma(): tf.Tensor;
  perturbation(seeds: SeedStream): tf.Tensor;
}

/** A draw a layer made before its estimator ran: the mean to use, and ΔW = σ ⊙ ε. */
export interface KernelDraw {
  loc: tf.Tensor;
  perturbation: tf.Tensor;
}

/**
 * A sampler over the posterior with mean `loc` whose σ is `sigma()`, called once, when an estimator
 * first needs it; ΔW is drawn as σ ⊙ ε, or is `drawn` when the caller drew it already.
 */
export function kernelSampler(loc: tf.Tensor, sigma: () => tf.Tensor, drawn: tf.Tensor | null = null): KernelSampler {
  let cached: tf.Tensor | undefined;
  const sampler: KernelSampler = {
    loc,
    sigma: () => (cached ??= sigma()),
    perturbation: (seeds) => drawn ?? tf.mul(sampler.sigma(), seeds.normal(loc.shape)),
  };
  return sampler;
}

/**
 * An estimator applies a random kernel drawn from the posterior to a batch, without the bias.
 * All four give outputs with the same per-example mean and variance; they differ in cost and in
 * how the noise is shared across the batch.
 */
export type KernelEstimator = (linear: LinearMap, x: tf.Tensor, kernel: KernelSampler, seeds: SeedStream) => tf.Tensor;

/** Keeps sqrt differentiable where an input row is all zeros (a dead ReLU): far below float32 noise. */
const VARIANCE_FLOOR = 1e-16;

/** Per-example sign shape: one sign per example and channel, shared over any spatial axes. */
function signShape(t: tf.Tensor): number[] {
  return t.shape.map((size, axis) => (axis === 0 || axis === t.rank - 1 ? size : 1));
}

/**
 * A kernel a backend may register to compute `flipSigns` in one pass without the signs as a
 * tensor (input `t`, attribute `seed`), with its gradient: `registerNativeTrainingKernels`
 * registers one for `tensorflow`.
 */
export const FLIP_SIGNS_KERNEL = 'TfjsTrustFlipSigns';

/** t ⊙ s, with Rademacher signs s drawn from `seeds`, one per example and channel. */
function flipSigns(t: tf.Tensor, seeds: SeedStream): tf.Tensor {
  if (seeds.drawsOwnNoise && t.dtype === 'float32' && backendHasKernel(FLIP_SIGNS_KERNEL)) {
    return tf.engine().runKernel(FLIP_SIGNS_KERNEL, { t }, { seed: seeds.drawSeed() }) as tf.Tensor;
  }
  return tf.mul(t, seeds.rademacher(signShape(t)));
}

/** Wen et al. 2018, eq. 4: x·μ + ((x ⊙ s_in)·ΔW) ⊙ s_out with ΔW ~ N(0, σ²) drawn once per call. */
const flipout: KernelEstimator = (linear, x, kernel, seeds) => {
  const deltaKernel = kernel.perturbation(seeds);
  const flipped = flipSigns(x, seeds);
  const mean = linear(x, kernel.loc);
  return tf.add(mean, flipSigns(linear(flipped, deltaKernel), seeds));
};

/** Blundell et al. 2015: W = μ + σ ⊙ ε, one ε per call shared by the batch. */
const sample: KernelEstimator = (linear, x, kernel, seeds) => linear(x, tf.add(kernel.loc, kernel.perturbation(seeds)));

/** Kingma et al. 2015, eq. 6: each output ~ N(x·μ, x²·σ²), drawn per example and unit. */
const local: KernelEstimator = (linear, x, kernel, seeds) => {
  const mean = linear(x, kernel.loc);
  const variance = linear(tf.square(x), tf.square(kernel.sigma()));
  return tf.add(mean, tf.mul(tf.sqrt(tf.add(variance, VARIANCE_FLOOR)), seeds.normal(mean.shape)));
};

const posteriorMean: KernelEstimator = (linear, x, { loc }) => linear(x, loc);

export const ESTIMATORS: Record<SamplingMode, KernelEstimator> = {
  flipout,
  sample,
  local,
  mean: posteriorMean,
};
