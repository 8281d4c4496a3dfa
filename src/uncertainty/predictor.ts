import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ArgumentError, ShapeError, TrustError } from '../errors';
import { SeedStream } from '../random';
import { DEFAULT_SAMPLES, SCORE_KINDS, type ScoreKind } from '../conventions';
import { deprecated } from '../deprecation';
import { assertFinite, checkBoolean, checkNumber, checkOneOf, checkOptions, describe, invalidArgument, isTensor, optionKeys } from '../validation';
import { stochasticLayers, withSampling, type SamplingMode, type StochasticLayer } from '../layers/sampling';
import { runNodes, splitModel, type Feed, type ModelSplit } from './graph';
import { McPrediction, type McStrategy } from './prediction';
import type { InputView } from './views';

/** Options of `mcPredict`: how many samples, how reproducibly, in what memory, and what to check. */
export interface McPredictOptions {
  /** Number of Monte Carlo samples S. Default `DEFAULT_SAMPLES` (100). */
  samples?: number;
  /** Seed of the whole run: the same seed, samples and chunkSize give the same result. Default: fresh randomness. */
  seed?: number;
  /**
   * Rows (sample × image pairs) per batched call of the stochastic suffix, rounded down to whole
   * samples (at least one). Bounds memory. Default: as many as keep the tiled input of the suffix
   * under 2^24 numbers (64 MB of float32).
   */
  chunkSize?: number;
  /** Quantile levels in [0, 1]. Default [0.05, 0.5, 0.95]. */
  quantiles?: number[];
  /** Keep the samples [S, B, C] on the prediction. Default false. */
  keepSamples?: boolean;
  /**
   * `'fast'`: the batched suffix, exact only when every stochastic layer has an independent-rows
   * mode (an error otherwise); `'naive'`: S passes of the suffix; `'auto'` (default): fast where exact.
   */
  strategy?: 'auto' | McStrategy;
  /** The caller needs epistemic uncertainty (mutual information): refuse a model with no stochastic layer. */
  epistemicOnly?: boolean;
  /**
   * What the model outputs: `'probability'` (default; a softmax output) or `'logit'`, turned into
   * probabilities per sample. The 0.1 spellings 'probabilities' and 'logits' still work until 0.3.0.
   */
  outputs?: ScoreKind | 'probabilities' | 'logits';
  /** Refuse images holding NaN or ±Infinity (one reduction over the batch), instead of returning NaN probabilities. Default true. */
  checkFinite?: boolean;
  /**
   * Test-time augmentation (e.g. `dihedralViews()`): sample s sees view s mod V of the images, so
   * the samples mix weight noise and views at the cost of V runs of the deterministic prefix.
   * The mutual information then also counts disagreement between views. Default: the images only.
   */
  views?: InputView[];
}

const WHO = 'mcPredict';
const DEFAULTS = {
  samples: DEFAULT_SAMPLES,
  quantiles: [0.05, 0.5, 0.95],
  keepSamples: false,
  strategy: 'auto',
  epistemicOnly: false,
  outputs: 'probability',
  checkFinite: true,
} as const;
/** The option names of `mcPredict` (and of `ensemblePredict`, which takes the same). */
export const MC_PREDICT_OPTIONS = optionKeys<McPredictOptions>({
  samples: true,
  seed: true,
  chunkSize: true,
  quantiles: true,
  keepSamples: true,
  strategy: true,
  epistemicOnly: true,
  outputs: true,
  checkFinite: true,
  views: true,
});
/** The 0.1 spellings of `outputs`, deprecated: the vocabulary is ScoreKind's. */
const OLD_OUTPUTS: Record<string, ScoreKind> = { probabilities: 'probability', logits: 'logit' };
/** Default chunk: the tiled suffix input stays under this many numbers. */
const MAX_CHUNK_ELEMENTS = 2 ** 24;

/**
 * The Monte Carlo predictor, prepared once for a model and reused across batches.
 *
 * The model is cut at its first stochastic layers (see `splitModel`): the deterministic prefix
 * (e.g. a frozen VGG16 base) runs once per batch, and only the suffix (the stochastic head) is
 * sampled. On the fast path the suffix input is tiled S times, chunked, and every stochastic layer
 * runs in its `independentRowsMode` (for mean-field dense layers the local reparameterisation,
 * Kingma et al. 2015, eq. 6), in which each row is an exact, independent draw of its own
 * predictive distribution: the S × B rows are then S independent samples for each image, in a
 * handful of calls. When a stochastic layer has no such mode, the suffix runs S times instead,
 * with one weight sample per pass (`'sample'` mode where the layer supports it).
 */
export class McPredictor {
  private readonly model: tfl.LayersModel;
  private readonly split: ModelSplit;
  private readonly stochastic: StochasticLayer[];
  /** The first stochastic layer whose rows are not independent in any mode, if any: it rules out the fast path. */
  private readonly notIndependent: StochasticLayer | undefined;
  private readonly defaults: McPredictOptions;
  private disposed = false;

  constructor(model: tfl.LayersModel, options: McPredictOptions = {}) {
    if (!model || !Array.isArray((model as Partial<tfl.LayersModel>).layers)) {
      invalidArgument(WHO, 'model', 'a tfjs-layers LayersModel', model);
    }
    this.model = model;
    this.split = splitModel(WHO, model);
    this.stochastic = stochasticLayers(model);
    this.notIndependent = this.stochastic.find((layer) => layer.independentRowsMode === null);
    resolveOptions(options);
    this.defaults = { ...options };
  }

  /** Samples the predictive distribution of `images` [B, ...input shape]. Synchronous. */
  predict(images: tf.Tensor, options: McPredictOptions = {}): McPrediction {
    if (this.disposed) throw new TrustError(`${WHO}: this McPredictor was disposed. Create a new one.`);
    const resolved = resolveOptions({ ...this.defaults, ...options });
    this.checkImages(images);
    if (resolved.checkFinite) assertFinite(WHO, 'images', images, 'Clean or impute the images, or pass checkFinite: false.');
    if (resolved.epistemicOnly && this.stochastic.length === 0) {
      throw new ArgumentError(
        `${WHO}: the model must hold a stochastic layer to measure epistemic uncertainty; got none in model '${this.model.name}'. ` +
          'Add a variational or MC dropout layer, or drop epistemicOnly to get its (zero) uncertainty.',
      );
    }
    const strategy = this.chooseStrategy(resolved.strategy);
    const samples = tf.tidy(() => {
      const raw = this.sample(images, resolved, strategy);
      this.checkOutput(raw);
      return (resolved.outputs === 'logit' ? tf.softmax(raw) : raw) as tf.Tensor3D;
    });
    try {
      return new McPrediction(samples, { quantileLevels: resolved.quantiles, keepSamples: resolved.keepSamples, strategy });
    } catch (error) {
      samples.dispose();
      throw error;
    }
  }

  /** Drops the references to the model; the predictor holds no tensors of its own. */
  dispose(): void {
    this.disposed = true;
  }

  private chooseStrategy(requested: 'auto' | McStrategy): McStrategy {
    if (requested === 'fast' && this.notIndependent) {
      const layer = this.notIndependent;
      throw new ArgumentError(
        `${WHO}: options.strategy must be 'auto' or 'naive' for this model; got 'fast'. Layer '${layer.name}' ` +
          `(${layer.getClassName()}) has no mode whose rows are independent samples, so tiled samples would be correlated.`,
      );
    }
    if (requested === 'auto') return this.notIndependent ? 'naive' : 'fast';
    return requested;
  }

  /**
   * Runs the prefix once per view and the suffix for all S samples: the raw outputs [S, B, C],
   * grouped by view (the statistics do not depend on the order of the samples).
   */
  private sample(images: tf.Tensor, options: ResolvedOptions, strategy: McStrategy): tf.Tensor {
    const views = options.views ?? [(x: tf.Tensor) => x];
    const modeOf = strategy === 'fast' ? independentMode : referenceMode;
    return withModes(this.stochastic, modeOf, options.seed, () => {
      const groups = views.flatMap((view, v) => {
        const count = samplesOfView(options.samples, views.length, v);
        return count === 0 ? [] : [tf.tidy(() => this.sampleView(this.viewOf(images, view, v), count, options, strategy))];
      });
      return groups.length === 1 ? groups[0] : tf.concat(groups, 0);
    });
  }

  /** `count` samples [count, B, C] of one view of the images. */
  private sampleView(images: tf.Tensor, count: number, options: ResolvedOptions, strategy: McStrategy): tf.Tensor {
    const { prefix, suffix, cut, input, output } = this.split;
    const inputFeed: Feed = new Map([[input.id, images]]);
    if (suffix.length === 0) {
      // No stochastic layer: every sample is the one deterministic output.
      const [probs] = runNodes(prefix, inputFeed, [output]);
      return tf.tile(tf.expandDims(probs, 0), [count, 1, 1]);
    }
    const cutValues = runNodes(prefix, inputFeed, cut);
    const batch = images.shape[0];
    const perCall = strategy === 'fast' ? this.samplesPerCall(options, count, batch, cutValues) : 1;
    const chunks: tf.Tensor[] = [];
    for (let done = 0; done < count; done += perCall) {
      const rows = Math.min(perCall, count - done);
      chunks.push(
        tf.tidy(() => {
          // Rows are sample-major: row s · B + b is sample s of image b.
          const feed: Feed = new Map(cut.map((tensor, i) => [tensor.id, tileRows(cutValues[i], rows)]));
          const [probs] = runNodes(suffix, feed, [output]);
          return tf.reshape(probs, [rows, batch, ...probs.shape.slice(1)]);
        }),
      );
    }
    return chunks.length === 1 ? chunks[0] : tf.concat(chunks, 0);
  }

  /** One view of the images, which must keep their shape. */
  private viewOf(images: tf.Tensor, view: InputView, index: number): tf.Tensor {
    const viewed = view(images);
    if (!isTensor(viewed) || !tf.util.arraysEqual(viewed.shape, images.shape)) {
      throw new ShapeError(
        `${WHO}: options.views[${index}] must return images of the input's shape ${describe(images.shape)}; ` +
          `got ${isTensor(viewed) ? describe(viewed.shape) : describe(viewed)}. Use views that keep the shape (square images for quarter turns).`,
      );
    }
    return viewed;
  }

  private samplesPerCall(options: ResolvedOptions, samples: number, batch: number, cutValues: tf.Tensor[]): number {
    const rowElements = cutValues.reduce((sum, value) => sum + value.size / batch, 0);
    const rows = options.chunkSize ?? Math.floor(MAX_CHUNK_ELEMENTS / Math.max(rowElements, 1));
    return Math.max(1, Math.min(samples, Math.floor(rows / batch)));
  }

  private checkImages(images: tf.Tensor): void {
    if (!isTensor(images)) invalidArgument(WHO, 'images', 'a tf.Tensor [batch, ...input shape]', images);
    const expected = this.split.input.shape;
    const matches =
      images.rank === expected.length && images.shape[0] > 0 && expected.every((size, axis) => size === null || size === images.shape[axis]);
    if (!matches) {
      throw new ShapeError(
        `${WHO}: images must have shape ${describe(expected.map((size) => size ?? 'batch'))}; got ${describe(images.shape)}. ` +
          'Resize the images to the model input, and add a batch axis for a single image.',
      );
    }
  }

  private checkOutput(raw: tf.Tensor): void {
    if (raw.rank !== 3) {
      throw new ShapeError(
        `${WHO}: the model output must have shape [batch, classes]; got ${describe(raw.shape.slice(1))}. ` +
          'End the model with a Dense (softmax) layer over the classes.',
      );
    }
  }
}

/** Predicts with a new McPredictor and disposes it: see McPredictor for the method. */
export function mcPredict(model: tfl.LayersModel, images: tf.Tensor, options: McPredictOptions = {}): McPrediction {
  const predictor = new McPredictor(model, options);
  try {
    return predictor.predict(images);
  } finally {
    predictor.dispose();
  }
}

type ResolvedOptions = Required<Omit<McPredictOptions, 'seed' | 'chunkSize' | 'views' | 'outputs'>> &
  Pick<McPredictOptions, 'seed' | 'chunkSize' | 'views'> & { outputs: ScoreKind };

function resolveOptions(given: McPredictOptions): ResolvedOptions {
  const options = checkOptions(WHO, given, MC_PREDICT_OPTIONS);
  const quantiles = options.quantiles ?? [...DEFAULTS.quantiles];
  if (!Array.isArray(quantiles) || quantiles.length === 0) {
    invalidArgument(WHO, 'options.quantiles', 'a non-empty array of levels in [0, 1]', quantiles);
  }
  quantiles.forEach((level, i) => checkNumber(WHO, `options.quantiles[${i}]`, level, { min: 0, max: 1 }));
  return {
    samples: checkNumber(WHO, 'options.samples', options.samples ?? DEFAULTS.samples, { min: 1, integer: true }),
    seed: options.seed === undefined ? undefined : checkNumber(WHO, 'options.seed', options.seed, { integer: true }),
    chunkSize:
      options.chunkSize === undefined ? undefined : checkNumber(WHO, 'options.chunkSize', options.chunkSize, { min: 1, integer: true }),
    quantiles,
    keepSamples: checkBoolean(WHO, 'options.keepSamples', options.keepSamples ?? DEFAULTS.keepSamples),
    strategy: checkOneOf(WHO, 'options.strategy', options.strategy ?? DEFAULTS.strategy, ['auto', 'fast', 'naive']),
    epistemicOnly: checkBoolean(WHO, 'options.epistemicOnly', options.epistemicOnly ?? DEFAULTS.epistemicOnly),
    outputs: resolveOutputs(options.outputs ?? DEFAULTS.outputs),
    checkFinite: checkBoolean(WHO, 'options.checkFinite', options.checkFinite ?? DEFAULTS.checkFinite),
    views: options.views === undefined ? undefined : checkViews(options.views),
  };
}

function resolveOutputs(outputs: string): ScoreKind {
  if (Object.prototype.hasOwnProperty.call(OLD_OUTPUTS, outputs)) {
    deprecated(`mcPredict option outputs: '${outputs}'`, `outputs: '${OLD_OUTPUTS[outputs]}'`);
    return OLD_OUTPUTS[outputs];
  }
  return checkOneOf(WHO, 'options.outputs', outputs, SCORE_KINDS);
}

function checkViews(views: unknown): InputView[] {
  if (!Array.isArray(views) || views.length === 0 || views.some((view) => typeof view !== 'function')) {
    invalidArgument(WHO, 'options.views', 'a non-empty array of functions (images => images of the same shape)', views, 'Use dihedralViews(), or leave views out.');
  }
  return views as InputView[];
}

/** How many of `samples` samples see view `view` of `views` when sample s sees view s mod views. */
function samplesOfView(samples: number, views: number, view: number): number {
  return view < samples ? Math.floor((samples - 1 - view) / views) + 1 : 0;
}

/** Tiles a batch `count` times along the batch axis (a no-op for one). */
function tileRows(value: tf.Tensor, count: number): tf.Tensor {
  return count === 1 ? value : tf.tile(value, [count, ...value.shape.slice(1).map(() => 1)]);
}

/** Fast path: each layer in the mode whose rows are independent, exact draws. */
const independentMode = (layer: StochasticLayer): SamplingMode | undefined => layer.independentRowsMode ?? undefined;

/** Loop: one weight sample per pass (the textbook predictive), or the layer's own mode if it cannot. */
const referenceMode = (layer: StochasticLayer): SamplingMode | undefined =>
  layer.supportedModes.includes('sample') ? 'sample' : undefined;

/**
 * `withSampling` with a mode per layer: layers are grouped by mode and each group switched (and
 * seeded from one stream, so the whole run follows `seed`) around `fn`.
 */
function withModes<T>(
  layers: StochasticLayer[],
  modeOf: (layer: StochasticLayer) => SamplingMode | undefined,
  seed: number | undefined,
  fn: () => T,
): T {
  const groups = new Map<SamplingMode | undefined, StochasticLayer[]>();
  for (const layer of layers) groups.set(modeOf(layer), [...(groups.get(modeOf(layer)) ?? []), layer]);
  const seeds = new SeedStream(seed, WHO);
  const switches = [...groups].map(([mode, group]) => ({ mode, group, seed: seeds.next() }));
  const run = (index: number): T =>
    index === switches.length
      ? fn()
      : withSampling({ layers: switches[index].group }, { mode: switches[index].mode, seed: switches[index].seed }, () => run(index + 1));
  return run(0);
}
