/**
 * Puts the Grad-CAM overlay and its uncertainty map on canvases: the library's `overlay` blends
 * (and upsamples the layer-resolution map); the canvas only receives the RGB bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { overlay, type ColormapName } from '../../../src';

/** Blends `map` [h][w] (values in [0, 1]) over `image` [H, W, 3] in 0..255 and draws it. */
export async function drawOverlay(canvas: HTMLCanvasElement, image: tf.Tensor3D, map: number[][], options: { alpha: number; colormap: ColormapName }): Promise<void> {
  const blended = tf.tidy(() => overlay(image, tf.tensor2d(map), options));
  const [height, width] = blended.shape;
  const rgb = await blended.data();
  blended.dispose();
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 255], 4 * i);
  }
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, width, height), 0, 0);
}

/** The standard deviation map scaled by its maximum, so its shape shows; returns that maximum. */
export function scaleToUnit(map: number[][]): { scaled: number[][]; max: number } {
  const max = Math.max(...map.flat());
  return { scaled: map.map((row) => row.map((value) => (max > 0 ? value / max : 0))), max };
}
