/**
 * Puts the Grad-CAM overlay and its uncertainty map on canvases: the library's `overlay` blends
 * (and upsamples the layer-resolution map); the canvas only receives the RGB bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { colormapHex, overlay, type ColormapName } from '../../../src';

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

/** A colour bar under a map: the colour map from 0 to `top` with five labelled ticks, so colours keep their values. */
export function drawColourScale(canvas: HTMLCanvasElement, name: ColormapName, top: number): void {
  const context = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const [left, right, barTop, barHeight] = [22, width - 22, 4, 12];
  context.fillStyle = '#fff';
  context.fillRect(0, 0, width, height);
  const gradient = context.createLinearGradient(left, 0, right, 0);
  for (let i = 0; i <= 10; i++) gradient.addColorStop(i / 10, colormapHex(i / 10, name));
  context.fillStyle = gradient;
  context.fillRect(left, barTop, right - left, barHeight);
  context.fillStyle = '#333';
  context.font = '11px sans-serif';
  context.textAlign = 'center';
  for (let t = 0; t <= 4; t++) {
    const value = (top * t) / 4;
    context.fillText(value === 0 ? '0' : Number(value.toPrecision(3)).toString(), left + ((right - left) * t) / 4, barTop + barHeight + 13);
  }
}
