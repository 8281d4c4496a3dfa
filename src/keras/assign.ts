import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ArgumentError, DataError } from '../errors';
import { describe } from '../validation';
import { readKerasWeights, type KerasLayerWeights, type KerasWeightFile, type KerasWeightFormat } from './read';

/** What `loadKerasWeights` loaded. */
export interface KerasWeightsLoaded {
  format: KerasWeightFormat;
  /** Layers of the model that received weights. */
  layers: number;
  /** Weight tensors set. */
  weights: number;
}

type Layer = tfl.layers.Layer;

/**
 * Fills a tfjs-layers model with the weights of a Keras file (`.h5`, `.weights.h5`, `.keras`),
 * given as bytes, matching layers by their Keras name and, within a layer, weights by order (as
 * Keras' own loader does: the Applications files name their weights `block1_conv1_W_1:0`).
 * Nested models are searched too. All or nothing: every layer with weights must be in the file
 * with the same number and shapes of weights, and every layer of the file must be in the model;
 * otherwise one DataError names every missing, extra and wrongly shaped weight, and no weight
 * has changed. In Node, `tfjs-trust/node`'s `loadKerasWeights` also takes a path.
 */
export async function loadKerasWeights(model: tfl.LayersModel, bytes: Uint8Array | ArrayBuffer): Promise<KerasWeightsLoaded> {
  checkModel(model);
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
    throw new ArgumentError(`loadKerasWeights: bytes must be a Uint8Array or ArrayBuffer of a Keras file; got ${describe(bytes)}. In Node, import loadKerasWeights from 'tfjs-trust/node' to give a path.`);
  }
  return assignKerasWeights(model, await readKerasWeights(bytes), 'the Keras file');
}

export function checkModel(model: unknown): asserts model is tfl.LayersModel {
  if (typeof model !== 'object' || model === null || !Array.isArray((model as tfl.LayersModel).layers)) {
    throw new ArgumentError(`loadKerasWeights: model must be a tfjs-layers model (tf.LayersModel); got ${describe(model)}. Build the architecture first, then load its weights.`);
  }
}

/** Checks every weight of `file` against `model` first, then sets them all (see `loadKerasWeights`). */
export function assignKerasWeights(model: tfl.LayersModel, file: KerasWeightFile, source: string): KerasWeightsLoaded {
  const byName = new Map<string, KerasLayerWeights>();
  const problems: string[] = [];
  for (const entry of file.layers) {
    if (byName.has(entry.layer)) problems.push(`layer '${entry.layer}' appears twice in the file`);
    byName.set(entry.layer, entry);
  }
  const layers = weightedLayers(model);
  const missing = layers.filter((layer) => !byName.has(layer.name)).map((layer) => layer.name);
  const known = new Set(layers.map((layer) => layer.name));
  const extra = file.layers.filter((entry) => !known.has(entry.layer)).map((entry) => entry.layer);
  if (missing.length > 0) problems.push(`missing from the file: ${missing.map((name) => `'${name}'`).join(', ')}`);
  if (extra.length > 0) problems.push(`in the file but not in the model: ${extra.map((name) => `'${name}'`).join(', ')}`);
  for (const layer of layers) {
    const entry = byName.get(layer.name);
    if (!entry) continue;
    if (entry.weights.length !== layer.weights.length) {
      problems.push(`layer '${layer.name}' has ${layer.weights.length} weights in the model and ${entry.weights.length} in the file`);
      continue;
    }
    layer.weights.forEach((weight, i) => {
      if (!tf.util.arraysEqual(weight.shape as number[], entry.weights[i].shape)) {
        problems.push(`'${weight.originalName}' has shape ${describe(weight.shape)} in the model and ${describe(entry.weights[i].shape)} in the file`);
      }
    });
  }
  if (problems.length > 0) {
    throw new DataError(
      `loadKerasWeights: ${source} (${file.format}) must hold the weights of exactly the model's layers, matched by Keras layer name; ` +
        `${problems.join('; ')}. Nothing was loaded. Build the architecture the file was saved from, with the same layer names ` +
        '(for a convolutional base: include_top=False), or give the file of this architecture.',
    );
  }
  let count = 0;
  for (const layer of layers) {
    const values = byName.get(layer.name)!.weights.map((weight) => tf.tensor(weight.values, weight.shape, 'float32'));
    try {
      layer.setWeights(values);
      count += values.length;
    } finally {
      tf.dispose(values);
    }
  }
  return { format: file.format, layers: layers.length, weights: count };
}

/** The layers that own weights, nested models opened up (their weights belong to their layers). */
function weightedLayers(model: { layers: Layer[] }): Layer[] {
  return model.layers.flatMap((layer) => {
    const nested = (layer as unknown as { layers?: Layer[] }).layers;
    if (Array.isArray(nested)) return weightedLayers({ layers: nested });
    return layer.weights.length > 0 ? [layer] : [];
  });
}
