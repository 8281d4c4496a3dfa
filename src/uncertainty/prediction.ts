import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError } from '../errors';
import { checkOptions, optionKeys } from '../validation';
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
 * probabilities. Every tensor is owned by this object: `dispose()` frees them all. Nothing is read
 * back to JavaScript until asked (`summary()`, or `summaryAsync()` where a blocking read would
 * stall a WebGL page), so a caller that keeps only tensors never waits on the device.
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
  /** The samples [S, B, C], held on the device for `summary()`'s densities until `dispose()`. */
  private readonly sampleTensor: tf.Tensor3D;

  /** Takes ownership of `samples`: exposed as `samples` when `keepSamples`, private otherwise. */
  constructor(samples: tf.Tensor3D, options: { quantileLevels: number[]; keepSamples: boolean; strategy: McStrategy }) {
    this.strategy = options.strategy;
    this.quantileLevels = [...options.quantileLevels];
    this.sampleCount = samples.shape[0];
    this.sampleTensor = samples;
    if (options.keepSamples) this.samples = samples;
    // One tidy: if a step throws, nothing computed so far survives it.
    [this.mean, this.std, this.quantiles, this.predictiveEntropy, this.expectedEntropy, this.mutualInformation] = tf.tidy(() => {
      const [mean, std, quantiles] = moments(samples, this.quantileLevels);
      return [mean, std, quantiles, ...entropies(samples, mean)] as const;
    });
  }

  /** Frees every tensor of the prediction, the samples included. */
  dispose(): void {
    tf.dispose([this.mean, this.std, this.quantiles, this.predictiveEntropy, this.expectedEntropy, this.mutualInformation, this.sampleTensor]);
  }

  /** Everything as plain arrays, with a kernel density curve per image and class. Reads synchronously. */
  summary(options: McSummaryOptions = {}): McSummary {
    const wanted = this.checkSummary(options);
    const read = (tensor: tf.Tensor) => tensor.arraySync();
    return this.assemble(options, {
      mean: read(this.mean) as number[][],
      std: read(this.std) as number[][],
      quantiles: read(this.quantiles) as number[][][],
      predictiveEntropy: read(this.predictiveEntropy) as number[],
      expectedEntropy: read(this.expectedEntropy) as number[],
      mutualInformation: read(this.mutualInformation) as number[],
      samples: wanted.density ? (this.sampleTensor.dataSync() as Float32Array) : null,
    });
  }

  /** `summary()` with the reads awaited, all at once: no blocking read on WebGL. */
  async summaryAsync(options: McSummaryOptions = {}): Promise<McSummary> {
    const wanted = this.checkSummary(options);
    const [mean, std, quantiles, predictiveEntropy, expectedEntropy, mutualInformation, samples] = await Promise.all([
      this.mean.array(),
      this.std.array(),
      this.quantiles.array(),
      this.predictiveEntropy.array(),
      this.expectedEntropy.array(),
      this.mutualInformation.array(),
      wanted.density ? (this.sampleTensor.data() as Promise<Float32Array>) : null,
    ]);
    return this.assemble(options, { mean, std, quantiles, predictiveEntropy, expectedEntropy, mutualInformation, samples });
  }

  private checkSummary(options: McSummaryOptions): { density: boolean } {
    const who = 'McPrediction.summary';
    checkOptions(who, options, SUMMARY_OPTIONS);
    const classes = this.quantiles.shape[2];
    if (options.classNames && options.classNames.length !== classes) {
      throw new ArgumentError(`${who}: options.classNames must have one name per class (${classes}); got ${options.classNames.length}.`);
    }
    return { density: options.density !== false };
  }

  private assemble(options: McSummaryOptions, values: SummaryValues): McSummary {
    const [, batch, classes] = this.quantiles.shape;
    const summary: McSummary = {
      strategy: this.strategy,
      samples: this.sampleCount,
      ...(options.classNames ? { classNames: [...options.classNames] } : {}),
      mean: values.mean,
      std: values.std,
      quantiles: this.quantileLevels.map((level, index) => ({ level, values: values.quantiles[index] })),
      predictiveEntropy: values.predictiveEntropy,
      expectedEntropy: values.expectedEntropy,
      mutualInformation: values.mutualInformation,
    };
    const samples = values.samples;
    if (samples) {
      const densityOptions: KernelDensityOptions = { range: [0, 1], ...(options.density || {}) };
      summary.densities = Array.from({ length: batch }, (_, image) =>
        Array.from({ length: classes }, (_, cls) => kernelDensity(column(samples, image, cls, batch, classes), densityOptions)),
      );
    }
    return summary;
  }
}

/** The arrays a summary is assembled from, however they were read. */
interface SummaryValues {
  mean: number[][];
  std: number[][];
  quantiles: number[][][];
  predictiveEntropy: number[];
  expectedEntropy: number[];
  mutualInformation: number[];
  samples: Float32Array | null;
}

const SUMMARY_OPTIONS = optionKeys<McSummaryOptions>({ classNames: true, density: true });

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
