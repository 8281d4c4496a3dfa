import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError } from '../errors';
import { kernelDensity, type KernelDensity, type KernelDensityOptions } from './density';

/** Which sampler produced a prediction: the batched, tiled suffix or the loop of S passes. */
export type McStrategy = 'fast' | 'naive';

/** Options of `McPrediction.summary`: class names and density curves to include. */
export interface McSummaryOptions {
  /** Names of the classes, in output order, copied into the summary. */
  classNames?: string[];
  /** Density curves per image and class: kernel density options, or false to leave them out. Default range [0, 1]. */
  density?: KernelDensityOptions | false;
}

/** A prediction as plain arrays, ready for `JSON.stringify`. Arrays are indexed [image][class]. */
export interface McSummary {
  strategy: McStrategy;
  samples: number;
  classNames?: string[];
  mean: number[][];
  std: number[][];
  quantiles: Array<{ level: number; values: number[][] }>;
  predictiveEntropy: number[];
  expectedEntropy: number[];
  mutualInformation: number[];
  /** Kernel density of each class probability over the samples, [image][class]. */
  densities?: KernelDensity[][];
}

/** Keeps p·log p finite where p = 0 (its limit is 0): log(max(p, TINY)) times p = 0 is 0. */
const TINY = 1e-30;

/**
 * The Monte Carlo predictive distribution of a batch, from samples [S, B, C] of class
 * probabilities. Every tensor is owned by this object: `dispose()` frees them all.
 *
 * Uncertainty decomposition (Depeweg et al. 2018, eq. 6; Houlsby et al. 2011, BALD):
 * predictiveEntropy H[E_w p] (total) = expectedEntropy E_w H[p] (aleatoric) + mutualInformation (epistemic).
 */
export class McPrediction {
  /** Per image and class: the mean probability over samples, the Bayesian model average [B, C]. */
  readonly mean: tf.Tensor2D;
  /** Per image and class: the sample standard deviation (divisor S − 1; zero when S = 1) [B, C]. */
  readonly std: tf.Tensor2D;
  /** Per level, image and class: the sample quantiles (type-7 interpolation) [Q, B, C]. */
  readonly quantiles: tf.Tensor3D;
  readonly quantileLevels: number[];
  /** Entropy of the mean prediction, in nats [B]. */
  readonly predictiveEntropy: tf.Tensor1D;
  /** Mean entropy of the sampled predictions, in nats [B]. */
  readonly expectedEntropy: tf.Tensor1D;
  /** predictiveEntropy − expectedEntropy, clipped at 0 against rounding, in nats [B]. */
  readonly mutualInformation: tf.Tensor1D;
  /** The samples themselves [S, B, C], only with `keepSamples`. */
  readonly samples?: tf.Tensor3D;
  readonly strategy: McStrategy;
  readonly sampleCount: number;
  /** Sample values [S, B, C] kept in memory for `summary()` when the tensor is not kept. */
  private readonly sampleValues: Float32Array | null;

  /** Takes ownership of `samples`: kept when `keepSamples`, disposed otherwise. */
  constructor(samples: tf.Tensor3D, options: { quantileLevels: number[]; keepSamples: boolean; strategy: McStrategy }) {
    this.strategy = options.strategy;
    this.quantileLevels = [...options.quantileLevels];
    this.sampleCount = samples.shape[0];
    [this.mean, this.std, this.quantiles] = tf.tidy(() => moments(samples, this.quantileLevels));
    [this.predictiveEntropy, this.expectedEntropy, this.mutualInformation] = tf.tidy(() => entropies(samples, this.mean));
    if (options.keepSamples) {
      this.samples = samples;
      this.sampleValues = null;
    } else {
      this.sampleValues = samples.dataSync() as Float32Array;
      samples.dispose();
    }
  }

  /** Frees every tensor of the prediction (the samples too, when kept). */
  dispose(): void {
    tf.dispose([this.mean, this.std, this.quantiles, this.predictiveEntropy, this.expectedEntropy, this.mutualInformation]);
    this.samples?.dispose();
  }

  /** Everything as plain arrays, with a kernel density curve per image and class. */
  summary(options: McSummaryOptions = {}): McSummary {
    const [, batch, classes] = this.quantiles.shape;
    if (options.classNames && options.classNames.length !== classes) {
      throw new ArgumentError(
        `McPrediction.summary: options.classNames must have one name per class (${classes}); got ${options.classNames.length}.`,
      );
    }
    const quantileValues = this.quantiles.arraySync();
    const summary: McSummary = {
      strategy: this.strategy,
      samples: this.sampleCount,
      ...(options.classNames ? { classNames: [...options.classNames] } : {}),
      mean: this.mean.arraySync(),
      std: this.std.arraySync(),
      quantiles: this.quantileLevels.map((level, index) => ({ level, values: quantileValues[index] })),
      predictiveEntropy: this.predictiveEntropy.arraySync(),
      expectedEntropy: this.expectedEntropy.arraySync(),
      mutualInformation: this.mutualInformation.arraySync(),
    };
    if (options.density !== false) {
      const values = this.sampleValues ?? (this.samples!.dataSync() as Float32Array);
      const densityOptions: KernelDensityOptions = { range: [0, 1], ...options.density };
      summary.densities = Array.from({ length: batch }, (_, image) =>
        Array.from({ length: classes }, (_, cls) => kernelDensity(column(values, image, cls, batch, classes), densityOptions)),
      );
    }
    return summary;
  }
}

/** The S samples of one image and class out of a flat [S, B, C] array. */
function column(values: Float32Array, image: number, cls: number, batch: number, classes: number): number[] {
  const count = values.length / (batch * classes);
  return Array.from({ length: count }, (_, s) => values[(s * batch + image) * classes + cls]);
}

function moments(samples: tf.Tensor3D, levels: number[]): [tf.Tensor2D, tf.Tensor2D, tf.Tensor3D] {
  const count = samples.shape[0];
  const mean = tf.mean(samples, 0) as tf.Tensor2D;
  const sumSquares = tf.sum(tf.square(tf.sub(samples, mean)), 0);
  const std = (count > 1 ? tf.sqrt(tf.div(sumSquares, count - 1)) : tf.zerosLike(mean)) as tf.Tensor2D;
  // Sort each image-class column ascending: topk sorts descending, so reverse its positions.
  const descending = tf.topk(tf.transpose(samples, [1, 2, 0]), count).values;
  const ascending = (rank: number): tf.Tensor => tf.gather(descending, [count - 1 - rank], 2);
  const perLevel = levels.map((level) => {
    // Type-7 quantile (Hyndman & Fan 1996): interpolate the order statistics around level · (S − 1).
    const position = level * (count - 1);
    const lower = Math.floor(position);
    const upper = Math.min(lower + 1, count - 1);
    const low = ascending(lower);
    return tf.add(low, tf.mul(tf.sub(ascending(upper), low), position - lower));
  });
  const quantiles = tf.transpose(tf.concat(perLevel, 2), [2, 0, 1]) as tf.Tensor3D;
  return [mean, std, quantiles];
}

function entropies(samples: tf.Tensor3D, mean: tf.Tensor2D): [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D] {
  const entropy = (p: tf.Tensor): tf.Tensor => tf.neg(tf.sum(tf.mul(p, tf.log(tf.maximum(p, TINY))), -1));
  const predictive = entropy(mean) as tf.Tensor1D;
  const expected = tf.mean(entropy(samples), 0) as tf.Tensor1D;
  // MI ≥ 0 by Jensen's inequality; the clip only removes float rounding of a deterministic model.
  const mutual = tf.relu(tf.sub(predictive, expected)) as tf.Tensor1D;
  return [predictive, expected, mutual];
}
