import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError, ShapeError } from '../errors';
import { describe } from '../validation';
import { readModelArtifacts } from '../node/model_io';

/**
 * Copies weights into `layers` by name (`block1_conv1/kernel`), from a tfjs layers-format model.
 * Names match on the last two path segments, so a base saved inside a bigger model still loads.
 * Every weight of every named layer must be found with the right shape: a half-loaded base
 * would be silently wrong.
 */
export function loadWeightsByName(layers: tfl.layers.Layer[], location: string): void {
  const artifacts = readModelArtifacts(location);
  const named = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs ?? []);
  try {
    const byShortName = new Map(Object.entries(named).map(([name, tensor]) => [shortName(name), tensor]));
    const missing: string[] = [];
    for (const layer of layers) {
      if (layer.weights.length === 0) continue;
      const values = layer.weights.map((weight) => {
        const value = byShortName.get(shortName(weight.originalName));
        if (!value) missing.push(shortName(weight.originalName));
        else if (!tf.util.arraysEqual(value.shape, weight.shape as number[])) {
          throw new ShapeError(
            `loadWeightsByName: weight '${shortName(weight.originalName)}' in ${location} must have shape ${describe(weight.shape)}; ` +
              `got ${describe(value.shape)}. Use weights of the same architecture (Keras VGG16, include_top=False).`,
          );
        }
        return value;
      });
      if (values.every((value) => value !== undefined)) layer.setWeights(values as tf.Tensor[]);
    }
    if (missing.length > 0) {
      throw new DataError(
        `loadWeightsByName: ${location} must hold every weight of the network by name; missing ${describe(missing.slice(0, 6))}` +
          `${missing.length > 6 ? ` and ${missing.length - 6} more` : ''}. Convert Keras VGG16 (include_top=False) with tensorflowjs_converter.`,
      );
    }
  } finally {
    Object.values(named).forEach((tensor) => tensor.dispose());
  }
}

/** `vgg16/block1_conv1/kernel_1` → `block1_conv1/kernel`: the layer and weight, without scopes or uniqueness suffixes. */
function shortName(name: string): string {
  const parts = name.split('/');
  return parts.slice(-2).join('/').replace(/_\d+$/, '').replace(/:\d+$/, '');
}
