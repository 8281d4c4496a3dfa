import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors';
import { checkNumber, checkOptions, describe, isTensor, optionKeys } from '../validation';
import { colormap, type ColormapName } from './colormap';
import { resizeMaps } from './maps';

/** Options of `overlay`: the colour map and how strongly the heat map covers the image. */
export interface OverlayOptions {
  /** Colour map of the heat map. Default 'jet', as most Grad-CAM figures. */
  colormap?: ColormapName;
  /** Weight of the heat map in the blend, in [0, 1]: 0 shows only the image. Default 0.5. */
  alpha?: number;
}

const DEFAULT_ALPHA = 0.5;
const OVERLAY_OPTIONS = optionKeys<OverlayOptions>({ colormap: true, alpha: true });
const MAX_INTENSITY = 255;

/**
 * Blends a heat map [h, w] in [0, 1] over an RGB image [H, W, 3] in 0..255:
 * (1 − alpha)·image + alpha·255·colour(heatmap). A heat map at another resolution (a raw CAM) is
 * upsampled bilinearly first. Returns int32 RGB in 0..255, ready for `writePng`.
 */
export function overlay(image: tf.Tensor3D, heatmap: tf.Tensor2D, options: OverlayOptions = {}): tf.Tensor3D {
  const who = 'overlay';
  checkOptions(who, options, OVERLAY_OPTIONS);
  if (!isTensor(image) || image.rank !== 3 || image.shape[2] !== 3) {
    throw new ShapeError(
      `${who}: image must be an RGB tensor [height, width, 3] in 0..255; got ${isTensor(image) ? `shape ${describe(image.shape)}` : describe(image)}. ` +
        'Take one image of a batch with tf.gather(images, i) or tf.squeeze, and drop or add channels to make 3.',
    );
  }
  if (!isTensor(heatmap) || heatmap.rank !== 2) {
    throw new ShapeError(
      `${who}: heatmap must be a 2-D tensor [height, width] in [0, 1]; got ${isTensor(heatmap) ? `shape ${describe(heatmap.shape)}` : describe(heatmap)}. ` +
        'Take one map of a cam() batch, e.g. tf.gather(maps, i).',
    );
  }
  const alpha = checkNumber(who, 'options.alpha', options.alpha ?? DEFAULT_ALPHA, { min: 0, max: 1 });
  return tf.tidy(() => {
    const [height, width] = image.shape;
    const map = tf.squeeze(resizeMaps(tf.expandDims(heatmap, 0) as tf.Tensor3D, height, width), [0]);
    const colours = tf.mul(colormap(map, options.colormap ?? 'jet'), MAX_INTENSITY);
    const blended = tf.add(tf.mul(tf.cast(image, 'float32'), 1 - alpha), tf.mul(colours, alpha));
    return tf.cast(tf.clipByValue(tf.round(blended), 0, MAX_INTENSITY), 'int32') as tf.Tensor3D;
  });
}
