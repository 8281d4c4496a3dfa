import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SeedStream } from '../random';
import { checkBoolean, checkModel, checkNumber, checkOneOf, checkOptions, invalidArgument } from '../validation';
import { Conv1DFlipout } from './conv1d_flipout';
import { Conv1DReparameterization } from './conv1d_reparameterization';
import { Conv2DFlipout } from './conv2d_flipout';
import { Conv2DReparameterization } from './conv2d_reparameterization';
import { Conv3DFlipout } from './conv3d_flipout';
import { Conv3DReparameterization } from './conv3d_reparameterization';
import { DenseFlipout } from './dense_flipout';
import { DenseLocalReparameterization } from './dense_local_reparameterization';
import { DenseReparameterization } from './dense_reparameterization';
import { MCDropout } from './mc_dropout';
import { layerWeight, MOPED_DELTA, mopedInitialize } from './moped';
import type { PriorSpec } from './priors';
import { allLayers, isStochastic } from './sampling';
import type { VariationalLayer } from './variational';

type Layer = tfl.layers.Layer;
type ConfigDict = serialization.ConfigDict;
/** One entry of a model config's `layers` list (functional entries also carry `name` and `inboundNodes`). */
interface LayerEntry {
  className: string;
  config: ConfigDict;
  [key: string]: unknown;
}

/** Which estimator the converted layers sample with; `'local'` exists for Dense layers only. */
export type ConverterEstimator = 'flipout' | 'sample' | 'local';
/** Which Dense and Conv (1-D, 2-D, 3-D) layers to convert: all, the last n in topological order, or by name. */
export type LayerSelection = 'all' | { last: number } | string[];

/** Options of `toBayesian`: which layers become variational, and how they start, regularise and sample. */
export interface ToBayesianOptions {
  /** Layers to convert, nested models included. Default `'all'`. */
  layers?: LayerSelection;
  /** MOPED's δ: each posterior sigma starts at δ·|w|. Default 0.1. */
  delta?: number;
  /** Also centre each weight's prior on its trained value (MOPED's empirical-Bayes prior). Default false. */
  priorFromWeights?: boolean;
  /** The prior of the converted layers. Default N(0, 1). */
  prior?: PriorSpec;
  /** klWeight of every converted layer: set it to 1 / (number of training examples). Default 1. */
  klWeight?: number;
  /** `'flipout'` (default), `'sample'` (one shared weight sample) or `'local'` (Dense only). */
  estimator?: ConverterEstimator;
  /** Seed: each converted layer gets its own seed derived from it. Default: fresh randomness. */
  seed?: number;
  /**
   * `'keep'` (default): Dropout layers stay as they are (off at prediction). `'mc'`: every Dropout
   * becomes an MCDropout of the same rate, on at prediction time (MC dropout, Gal & Ghahramani 2016).
   */
  dropout?: 'keep' | 'mc';
}

const OPTION_NAMES = ['layers', 'delta', 'priorFromWeights', 'prior', 'klWeight', 'estimator', 'seed', 'dropout'];
const ESTIMATOR_NAMES: readonly ConverterEstimator[] = ['flipout', 'sample', 'local'];

/** The variational counterpart of each convertible class, per estimator. */
const COUNTERPARTS: Record<string, Partial<Record<ConverterEstimator, string>>> = {
  Dense: {
    flipout: DenseFlipout.className,
    sample: DenseReparameterization.className,
    local: DenseLocalReparameterization.className,
  },
  Conv1D: { flipout: Conv1DFlipout.className, sample: Conv1DReparameterization.className },
  Conv2D: { flipout: Conv2DFlipout.className, sample: Conv2DReparameterization.className },
  Conv3D: { flipout: Conv3DFlipout.className, sample: Conv3DReparameterization.className },
};
/** The convertible classes, for messages. */
const CONVERTIBLE = 'Dense, Conv1D, Conv2D or Conv3D';
/** What every convolution keeps of its deterministic config. */
const CONV_KEYS = ['filters', 'kernelSize', 'strides', 'padding', 'dilationRate', 'activation', 'useBias'];

/**
 * The config keys a replacement keeps, besides COMMON_KEYS. Initialisers, regularisers and
 * constraints are dropped: MOPED replaces the former, the KL term the regularisers.
 */
const KEPT_KEYS: Record<string, string[]> = {
  Dense: ['units', 'activation', 'useBias'],
  Conv1D: CONV_KEYS,
  Conv2D: CONV_KEYS,
  Conv3D: CONV_KEYS,
  Dropout: ['rate'],
};
const COMMON_KEYS = ['name', 'trainable', 'dtype', 'batchInputShape'];

interface Settings {
  estimator: ConverterEstimator;
  klWeight: number;
  prior: PriorSpec;
  delta: number;
  dropout: 'keep' | 'mc';
}

/**
 * Returns a NEW model in which the chosen Dense and Conv1D/2D/3D layers (nested models included)
 * are their variational counterparts (Dense → DenseFlipout, ConvND → ConvNDFlipout by default),
 * MOPED-initialised from the trained weights (loc = w, sigma = δ·|w|; Krishnan et al. 2020).
 * With `dropout: 'mc'` every Dropout becomes an MCDropout. Every other layer is rebuilt from its
 * config with its weights copied; frozen layers stay frozen.
 * The original model is not modified. The new model is not compiled.
 *
 * A Sequential whose first layer is a nested model holding variational layers comes back as the
 * equivalent functional model (input → same layers), since a tfjs-layers Sequential drops such a
 * model's losses (see `dropsNestedLosses`); every other model keeps its class and layer list.
 */
export function toBayesian(model: tfl.LayersModel, options: ToBayesianOptions = {}): tfl.LayersModel {
  const who = 'toBayesian';
  checkModel(who, 'model', model);
  const opts = checkOptions(who, options, OPTION_NAMES);
  const settings = resolveSettings(who, opts);
  const chosen = selectLayers(who, model, opts.layers ?? 'all');
  const seeds = new SeedStream(opts.seed === undefined ? undefined : checkNumber(who, 'options.seed', opts.seed, { integer: true }), who);
  const replacements = new Map(chosen.map((layer) => [layer, counterpartEntry(who, layer, settings, seeds.next())]));
  if (settings.dropout === 'mc') {
    for (const layer of allLayers(model).filter((l) => l.getClassName() === 'Dropout')) {
      replacements.set(layer, mcDropoutEntry(who, layer, seeds.next()));
    }
  }
  const { className, config } = rewriteContainer(model, { className: model.getClassName(), config: model.getConfig() }, replacements);
  const [cls, fromConfig] = serialization.SerializationMap.getMap().classNameMap[className];
  const converted = fromConfig(cls, config) as tfl.LayersModel;
  transferWeights(model, converted, new Set(chosen), settings.delta);
  return converted;
}

function resolveSettings(who: string, opts: ToBayesianOptions): Settings {
  const prior = opts.prior ?? {};
  if (typeof prior !== 'object' || prior === null) invalidArgument(who, 'options.prior', 'a prior spec object', prior);
  const meanFromWeights =
    opts.priorFromWeights === undefined ? prior.meanFromWeights : checkBoolean(who, 'options.priorFromWeights', opts.priorFromWeights);
  return {
    estimator: checkOneOf(who, 'options.estimator', opts.estimator ?? 'flipout', ESTIMATOR_NAMES),
    klWeight: checkNumber(who, 'options.klWeight', opts.klWeight ?? 1, { min: 0 }),
    prior: { ...prior, meanFromWeights: meanFromWeights ?? false },
    delta: checkNumber(who, 'options.delta', opts.delta ?? MOPED_DELTA, { min: 0 }),
    dropout: checkOneOf(who, 'options.dropout', opts.dropout ?? 'keep', ['keep', 'mc']),
  };
}

/** The convertible layers `selection` names, in topological order. */
function selectLayers(who: string, model: tfl.LayersModel, selection: LayerSelection): Layer[] {
  const candidates = allLayers(model).filter((layer) => layer.getClassName() in COUNTERPARTS);
  if (candidates.length === 0) {
    invalidArgument(who, 'model', `a model with ${CONVERTIBLE} layers`, model.name, 'There is nothing to convert.');
  }
  if (selection === 'all') return candidates;
  if (Array.isArray(selection)) {
    const names = candidates.map((layer) => `'${layer.name}'`).join(', ');
    for (const name of selection) {
      if (!candidates.some((layer) => layer.name === name)) {
        invalidArgument(who, 'options.layers', `names of the model's ${CONVERTIBLE} layers (${names})`, name);
      }
    }
    return candidates.filter((layer) => selection.includes(layer.name));
  }
  if (typeof selection === 'object' && selection !== null && 'last' in selection) {
    const last = checkNumber(who, 'options.layers.last', selection.last, { min: 1, max: candidates.length, integer: true });
    return candidates.slice(-last);
  }
  return invalidArgument(who, 'options.layers', "'all', { last: n } or an array of layer names", selection);
}

/** The config entry of `layer`'s variational counterpart. */
function counterpartEntry(who: string, layer: Layer, settings: Settings, seed: number | undefined): LayerEntry {
  const kind = layer.getClassName();
  const className = COUNTERPARTS[kind][settings.estimator];
  if (!className) {
    invalidArgument(
      who,
      'options.estimator',
      `'flipout' or 'sample' when converting a ${kind} layer`,
      settings.estimator,
      `'${layer.name}' is a ${kind}, and local reparameterisation is exact only for dense layers. Pick another estimator, or leave it out of options.layers.`,
    );
  }
  const source = layer.getConfig();
  if (source.dataFormat === 'channelsFirst') {
    invalidArgument(who, `layer '${layer.name}' dataFormat`, "'channelsLast'", source.dataFormat, 'The variational conv layers are channels-last.');
  }
  const config = keptConfig(kind, source);
  return {
    className,
    config: { ...config, klWeight: settings.klWeight, prior: settings.prior as ConfigDict, seed: seed ?? null },
  };
}

/** The config entry of the MCDropout replacing a Dropout layer. */
function mcDropoutEntry(who: string, layer: Layer, seed: number | undefined): LayerEntry {
  const source = layer.getConfig();
  if (source.noiseShape != null) {
    invalidArgument(who, `layer '${layer.name}' noiseShape`, 'null (MCDropout drops each element on its own)', source.noiseShape, "Use dropout: 'keep'.");
  }
  return { className: MCDropout.className, config: { ...keptConfig('Dropout', source), seed: seed ?? null } };
}

/** The keys of a deterministic layer's config that its replacement takes over. */
function keptConfig(kind: string, source: ConfigDict): ConfigDict {
  const kept = [...COMMON_KEYS, ...KEPT_KEYS[kind]].filter((key) => source[key] !== undefined);
  return Object.fromEntries(kept.map((key) => [key, source[key]]));
}

/** `container`'s config entry with the chosen layers swapped for their counterparts, recursively. */
function rewriteContainer(container: Layer, entry: LayerEntry, replacements: Map<Layer, LayerEntry>): LayerEntry {
  const layers = (entry.config.layers as unknown as LayerEntry[]).map((child) => {
    const layer = childNamed(container, child.config.name as string);
    const replacement = layer && replacements.get(layer);
    if (replacement) return { ...child, ...replacement };
    return layer && nestedLayers(layer) ? rewriteContainer(layer, child, replacements) : child;
  });
  const rewritten = { ...entry, config: { ...entry.config, layers: layers as unknown as ConfigDict[] } };
  return dropsNestedLosses(container, replacements) ? sequentialAsFunctional(rewritten, nestedLayers(container)![0] as tfl.LayersModel) : rewritten;
}

/**
 * Whether `container` is a Sequential whose first layer is a nested model holding layers with a
 * KL. tfjs-layers' Sequential.add reuses such a first model's own graph, so the Sequential gets no
 * node of it and its `calculateLosses()` (what an enclosing model reads) returns none of its KL.
 */
function dropsNestedLosses(container: Layer, replacements: Map<Layer, LayerEntry>): boolean {
  const first = nestedLayers(container)?.[0];
  return (
    container.getClassName() === 'Sequential' &&
    first !== undefined &&
    nestedLayers(first) !== undefined &&
    allLayers(first as tfl.LayersModel).some((layer) => replacements.has(layer) || isStochastic(layer))
  );
}

/** The functional-model config of a chain of layers (a Sequential's): input → first → … → last. */
function sequentialAsFunctional(entry: LayerEntry, first: tfl.LayersModel): LayerEntry {
  const [input] = first.inputs;
  const inputName = `${entry.config.name as string}_input`;
  const chain: LayerEntry[] = [
    {
      name: inputName,
      className: 'InputLayer',
      config: { batchInputShape: input.shape, dtype: input.dtype, sparse: false, name: inputName },
      inboundNodes: [],
    },
  ];
  for (const layer of entry.config.layers as unknown as LayerEntry[]) {
    const previous = chain[chain.length - 1];
    chain.push({ ...layer, name: layer.config.name, inboundNodes: [[[previous.name, outputNode(previous), 0, {}]]] });
  }
  const last = chain[chain.length - 1];
  const config = {
    name: entry.config.name,
    layers: chain,
    inputLayers: [[inputName, 0, 0]],
    outputLayers: [[last.name, outputNode(last), 0]],
  };
  return { ...entry, className: 'Model', config: config as unknown as ConfigDict };
}

/** The node a layer's output comes from in a functional config: a nested model's node 0 is its own graph. */
function outputNode(entry: LayerEntry): number {
  return MODEL_CLASSES.includes(entry.className) ? 1 : 0;
}
const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];

/** Copies weights and trainable flags from `source` into its rebuilt twin; MOPED for the converted layers. */
function transferWeights(source: Layer, target: Layer, chosen: Set<Layer>, delta: number): void {
  target.trainable = source.trainable;
  for (const targetLayer of nestedLayers(target) ?? []) {
    const sourceLayer = childNamed(source, targetLayer.name);
    if (!sourceLayer) continue; // the InputLayer rewriteContainer added
    if (chosen.has(sourceLayer)) {
      const weights = { kernel: layerWeight(sourceLayer, 'kernel')!.read(), bias: layerWeight(sourceLayer, 'bias')?.read() };
      mopedInitialize(targetLayer as VariationalLayer, weights, { delta });
      targetLayer.trainable = sourceLayer.trainable;
    } else if (nestedLayers(sourceLayer)) {
      transferWeights(sourceLayer, targetLayer, chosen, delta);
    } else {
      targetLayer.setWeights(sourceLayer.getWeights());
      targetLayer.trainable = sourceLayer.trainable;
    }
  }
}

/** The layers of a nested model, or undefined for a plain layer. */
function nestedLayers(layer: Layer): Layer[] | undefined {
  const nested = (layer as unknown as { layers?: Layer[] }).layers;
  return Array.isArray(nested) ? nested : undefined;
}

function childNamed(container: Layer, name: string): Layer | undefined {
  return nestedLayers(container)?.find((layer) => layer.name === name);
}

