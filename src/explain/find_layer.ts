import type * as tfl from '@tensorflow/tfjs-layers';
import { ArgumentError, ShapeError } from '../errors';
import { describe } from '../validation';

type Layer = tfl.layers.Layer;

/** A layer together with its address in the model: `'base/block5_conv3'` for a nested layer. */
export interface LayerAddress {
  layer: Layer;
  path: string;
}

function nestedLayers(layer: Layer): Layer[] | null {
  const nested = (layer as unknown as { layers?: Layer[] }).layers;
  return Array.isArray(nested) ? nested : null;
}

/** Every layer of the model with its address, nested models' layers included, in topological order. */
export function layerAddresses(model: { layers: Layer[] }, prefix = ''): LayerAddress[] {
  return model.layers.flatMap((layer) => {
    const path = `${prefix}${layer.name}`;
    const nested = nestedLayers(layer);
    return nested ? [{ layer, path }, ...layerAddresses({ layers: nested }, `${path}/`)] : [{ layer, path }];
  });
}

/** The layer's output shape, or null when it has none (or several, for a layer applied more than once). */
export function outputShapeOf(layer: Layer): (number | null)[] | null {
  try {
    const shape = layer.outputShape;
    return Array.isArray(shape) && !Array.isArray(shape[0]) ? (shape as (number | null)[]) : null;
  } catch {
    return null;
  }
}

/**
 * The layers a Grad-CAM user most likely meant: the convolutional ones (by class name), or, in a
 * model without any, every layer with a 4-D output.
 */
export function camCandidates(model: { layers: Layer[] }): string[] {
  const spatial = layerAddresses(model).filter(({ layer }) => outputShapeOf(layer)?.length === 4);
  const convolutional = spatial.filter(({ layer }) => /conv/i.test(layer.getClassName()));
  return (convolutional.length > 0 ? convolutional : spatial).map(({ path }) => path);
}

function candidatesHint(model: { layers: Layer[] }): string {
  const candidates = camCandidates(model);
  return candidates.length === 0
    ? 'The model has no layer with a 4-D output [batch, height, width, channels] to explain.'
    : `Layers it could mean: ${candidates.map((c) => `'${c}'`).join(', ')} (the last one is the usual Grad-CAM choice).`;
}

/**
 * Finds a layer by its address: `'base/block5_conv3'` walks into the nested model named `base`,
 * and a bare name is looked up everywhere, nested models included, when it is unique.
 * Throws an ArgumentError listing the convolutional layers when nothing matches.
 */
export function findLayer(model: tfl.LayersModel, layerName: string, who = 'findLayer'): Layer {
  if (typeof layerName !== 'string' || layerName === '') {
    throw new ArgumentError(`${who}: layerName must be a non-empty string; got ${describe(layerName)}. ${candidatesHint(model)}`);
  }
  const matches = layerName.includes('/')
    ? layerAddresses(model).filter(({ path }) => path === layerName)
    : layerAddresses(model).filter(({ layer }) => layer.name === layerName);
  if (matches.length === 1) return matches[0].layer;
  if (matches.length > 1) {
    throw new ArgumentError(
      `${who}: layerName ${describe(layerName)} names ${matches.length} layers; ` +
        `address the one you mean by its path: ${matches.map(({ path }) => `'${path}'`).join(', ')}.`,
    );
  }
  throw new ArgumentError(`${who}: layerName must name a layer of the model; got ${describe(layerName)}. ${candidatesHint(model)}`);
}

/**
 * Resolves the target layer and checks that it outputs a 4-D, channels-last map to explain (any
 * single output when `reshaped`: a reshapeTransform makes it 4-D).
 */
export function findTargetLayer(model: tfl.LayersModel, layerName: string, who: string, reshaped = false): Layer {
  const layer = findLayer(model, layerName, who);
  const shape = outputShapeOf(layer);
  if (reshaped ? shape === null : shape?.length !== 4) {
    throw new ShapeError(
      `${who}: layer '${layerName}' (${layer.getClassName()}) must output a 4-D tensor [batch, height, width, channels]; ` +
        `got ${shape ? `shape ${describe(shape)}` : 'no single output shape'}. ${candidatesHint(model)}`,
    );
  }
  const dataFormat = (layer as unknown as { dataFormat?: string }).dataFormat;
  if (dataFormat === 'channelsFirst') {
    throw new ShapeError(
      `${who}: layer '${layerName}' must be channels-last; got dataFormat 'channelsFirst'. Use a channelsLast model.`,
    );
  }
  return layer;
}
