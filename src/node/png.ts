import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { ShapeError } from '../errors';
import { describe, isTensor } from '../validation';
import { overlay, type OverlayOptions } from '../explain/overlay';

/** Channel counts a PNG holds: grey, RGB, RGBA. */
const PNG_CHANNELS = [1, 3, 4];

/**
 * Encodes an image [height, width, 3] (or 1 grey, 4 RGBA channels) with values in 0..255 as a PNG.
 * Values are rounded and clipped to 0..255; a float image in [0, 1] must be scaled by 255 first.
 */
export async function encodePng(rgb: tf.Tensor3D): Promise<Buffer> {
  if (!isTensor(rgb) || rgb.rank !== 3 || !PNG_CHANNELS.includes(rgb.shape[2])) {
    throw new ShapeError(
      `encodePng: rgb must be a tensor [height, width, 3] (or 1 or 4 channels) in 0..255; got ${isTensor(rgb) ? `shape ${describe(rgb.shape)}` : describe(rgb)}. ` +
        'Take one image of a batch with tf.gather(images, i) or tf.squeeze.',
    );
  }
  const [height, width, channels] = rgb.shape;
  const bytes = tf.tidy(() => tf.cast(tf.clipByValue(tf.round(tf.cast(rgb, 'float32')), 0, 255), 'int32'));
  const data = Uint8Array.from(await bytes.data());
  bytes.dispose();
  return sharp(data, { raw: { width, height, channels: channels as 1 | 3 | 4 } }).png().toBuffer();
}

/** Writes an image [height, width, 3] in 0..255 to `file` as a PNG, creating its folder if needed. */
export async function writePng(file: string, rgb: tf.Tensor3D): Promise<void> {
  const png = await encodePng(rgb);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, png);
}

/** Blends `heatmap` over `image` (see `overlay`) and writes the result to `file` as a PNG. */
export async function writeOverlayPng(
  file: string,
  image: tf.Tensor3D,
  heatmap: tf.Tensor2D,
  options: OverlayOptions = {},
): Promise<void> {
  const blended = overlay(image, heatmap, options);
  try {
    await writePng(file, blended);
  } finally {
    blended.dispose();
  }
}
