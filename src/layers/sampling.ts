import type * as tfl from '@tensorflow/tfjs-layers';
import { SeedStream } from '../random';
import { checkNumber, checkOneOf, checkOptions, invalidArgument } from '../validation';

/**
 * How a stochastic layer turns its posterior into an output on one call.
 * - `'flipout'`: one weight perturbation per call, decorrelated across examples by random sign
 *   flips (Wen et al. 2018). Low-variance gradients; TFP's default.
 * - `'sample'`: one weight sample per call, shared by the whole batch (reparameterisation).
 * - `'local'`: each example's pre-activation drawn from its own Gaussian, N(x·loc + b, x²·σ²)
 *   (local reparameterisation, Kingma et al. 2015). Exact and independent per example for dense
 *   layers: the Monte Carlo predictor's fast path.
 * - `'mean'`: no noise, the posterior mean: deterministic predictions and explanations.
 */
export type SamplingMode = 'flipout' | 'sample' | 'local' | 'mean';
/** Every sampling mode, for validation and for iterating over them in tests and docs. */
export const SAMPLING_MODES: readonly SamplingMode[] = ['flipout', 'sample', 'local', 'mean'];

/** A temporary, model-wide replacement of each stochastic layer's own mode and seed. */
export interface SamplingOverride {
  mode?: SamplingMode;
  seeds?: SeedStream;
}

/** What the library needs to know of any layer that samples (variational layers, MC dropout). */
export interface StochasticLayer extends tfl.layers.Layer {
  readonly stochastic: true;
  readonly supportedModes: readonly SamplingMode[];
  /**
   * The mode in which every row of a batch is an independent, exact draw from that row's
   * predictive distribution, or null when no mode is. Tiling a batch S times is then the same as
   * S independent passes, which is what the Monte Carlo fast path relies on.
   */
  readonly independentRowsMode: SamplingMode | null;
  samplingOverride: SamplingOverride | null;
}

/**
 * What a stochastic layer samples with on one call: the call's own `kwargs.mode` (validated), else
 * the model-wide override of `withSampling`, else the layer's own mode and seeds.
 */
export function callSampling(
  who: string,
  kwargsMode: unknown,
  layer: { samplingOverride: SamplingOverride | null; mode: SamplingMode },
  ownSeeds: SeedStream,
): { mode: SamplingMode; seeds: SeedStream } {
  const mode =
    kwargsMode === undefined ? (layer.samplingOverride?.mode ?? layer.mode) : checkOneOf(who, 'kwargs.mode', kwargsMode, SAMPLING_MODES);
  return { mode, seeds: layer.samplingOverride?.seeds ?? ownSeeds };
}

/** Whether a layer samples (a variational layer, MC dropout): the type guard every model walk uses. */
export function isStochastic(layer: tfl.layers.Layer): layer is StochasticLayer {
  return (layer as Partial<StochasticLayer>).stochastic === true;
}

/** Every layer of a model, nested models' layers included, in topological order. */
export function allLayers(model: { layers: tfl.layers.Layer[] }): tfl.layers.Layer[] {
  if (!Array.isArray(model?.layers)) {
    invalidArgument('allLayers', 'model', 'a tf.LayersModel (an object with a layers array)', model);
  }
  return model.layers.flatMap((layer) => {
    const nested = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
    return Array.isArray(nested) ? [layer, ...allLayers({ layers: nested })] : [layer];
  });
}

/** The stochastic layers of a model, nested models included. */
export function stochasticLayers(model: { layers: tfl.layers.Layer[] }): StochasticLayer[] {
  return allLayers(model).filter(isStochastic);
}

/**
 * Runs `fn` with every stochastic layer of `model` switched to `mode` and, when `seed` is given,
 * to a fresh seed stream, then restores each layer's own settings, even if `fn` throws.
 * This is how explanations run in `'mean'` mode and how a seeded Monte Carlo run is reproducible.
 */
export function withSampling<T>(
  model: { layers: tfl.layers.Layer[] },
  options: { mode?: SamplingMode; seed?: number },
  fn: () => T,
): T {
  const who = 'withSampling';
  const { mode, seed } = checkOptions(who, options, ['mode', 'seed']);
  if (mode !== undefined) checkOneOf(who, 'options.mode', mode, SAMPLING_MODES);
  if (seed !== undefined) checkNumber(who, 'options.seed', seed, { integer: true });
  if (typeof fn !== 'function') invalidArgument(who, 'fn', 'a function', fn);
  const layers = stochasticLayers(model);
  const saved = layers.map((layer) => layer.samplingOverride);
  layers.forEach((layer, index) => {
    const seeds = seed === undefined ? undefined : new SeedStream(seed, `${index}:${layer.getClassName()}`);
    layer.samplingOverride = { mode, seeds };
  });
  try {
    return fn();
  } finally {
    layers.forEach((layer, index) => {
      layer.samplingOverride = saved[index];
    });
  }
}
