import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors';
import { checkNumber, checkOptions, describe, isTensor, optionKeys } from '../validation';

/** Options of `localization`. */
export interface LocalizationOptions {
  /** Pointing game: a peak within this many pixels of the mask counts as a hit. Default 0; Zhang et al. used 15 at 224 px. */
  tolerance?: number;
}

const LOCALIZATION_OPTIONS = optionKeys<LocalizationOptions>({ tolerance: true });

/** The result of `localization`: two measures, per image, of how well a map points at the lesion or object. */
export interface Localization {
  /** Per image, the share of the map's total energy (sum of values) inside the mask; 0 for an all-zero map. */
  energyInside: number[];
  /** Per image, whether the map's maximum falls inside the mask (the pointing game); false for an all-zero map. */
  pointingHit: boolean[];
}

/**
 * How well maps [batch, H, W] point at the object given by binary masks [batch, H, W] (1 inside):
 * the energy-based pointing score (Wang et al. 2020, Score-CAM) and the pointing game
 * (Zhang et al. 2016, "Top-down Neural Attention by Excitation Backprop").
 */
export function localization(maps: tf.Tensor3D, masks: tf.Tensor3D, options: LocalizationOptions = {}): Localization {
  const who = 'localization';
  const { tolerance: givenTolerance } = checkOptions(who, options, LOCALIZATION_OPTIONS);
  for (const [name, value] of [['maps', maps], ['masks', masks]] as const) {
    if (!isTensor(value) || value.rank !== 3) {
      throw new ShapeError(`${who}: ${name} must be a 3-D tensor [batch, height, width]; got ${isTensor(value) ? `shape ${describe(value.shape)}` : describe(value)}.`);
    }
  }
  if (maps.shape.some((size, axis) => size !== masks.shape[axis])) {
    throw new ShapeError(
      `${who}: masks must have the maps' shape ${describe(maps.shape)}; got ${describe(masks.shape)}. ` +
        'Resize the masks to the image size (nearest neighbour) and pass cam() maps without the raw option.',
    );
  }
  if (maps.shape[1] * maps.shape[2] === 0) {
    throw new ShapeError(`${who}: maps must have at least one pixel; got shape ${describe(maps.shape)}. Pass cam() maps.`);
  }
  const tolerance = checkNumber(who, 'options.tolerance', givenTolerance ?? 0, { min: 0, integer: true });
  // tfjs' batched gather cannot reshape an empty batch: no maps, nothing to measure.
  if (maps.shape[0] === 0) return { energyInside: [], pointingHit: [] };
  const [energy, total, hit] = tf.tidy(() => {
    const inside = tf.cast(tf.greater(masks, 0.5), 'float32');
    const [batch, height, width] = maps.shape;
    const flatMaps = tf.reshape(maps, [batch, height * width]);
    // The tolerance dilates the mask: a max pool of size 2t + 1 marks every pixel within t of it.
    const dilated = tolerance === 0 ? inside : tf.squeeze(tf.maxPool(tf.expandDims(inside, -1) as tf.Tensor4D, 2 * tolerance + 1, 1, 'same'), [3]);
    const peak = tf.argMax(flatMaps, 1);
    // The mask value at each map's peak (a gather, not a one-hot: tf.oneHot refuses a 1-pixel map),
    // on the flattened batch: the WASM backend's batched gather (batchDims 1) reads out of bounds.
    const flatPeak = tf.add(peak, tf.mul(tf.range(0, batch, 1, 'int32'), tf.scalar(height * width, 'int32')));
    const hitAtPeak = tf.gather(tf.reshape(dilated, [batch * height * width]), flatPeak);
    return [tf.sum(tf.mul(maps, inside), [1, 2]), tf.sum(maps, [1, 2]), hitAtPeak];
  });
  const [energyValues, totals, hits] = [energy, total, hit].map((t) => Array.from(t.dataSync() as Float32Array));
  tf.dispose([energy, total, hit]);
  return {
    energyInside: totals.map((sum, i) => (sum > 0 ? energyValues[i] / sum : 0)),
    pointingHit: totals.map((sum, i) => sum > 0 && hits[i] > 0.5),
  };
}
