import * as tf from '@tensorflow/tfjs-core';
import { colormap, overlay } from '../../src';
import { expectNoLeaks, maxAbsDiff } from '../helpers';

/** Colours sampled from matplotlib 3.11 (its 256-entry tables, interpolated linearly). */
const MATPLOTLIB: Array<[name: 'jet' | 'viridis' | 'turbo', value: number, rgb: number[]]> = [
  ['jet', 0, [0, 0, 0.5]],
  ['jet', 1, [0.5, 0, 0]],
  // jet is piecewise linear: at 0.5, red = (0.5 − 0.35) / 0.31, green = 1, blue = 1 − (0.5 − 0.34) / 0.31.
  ['jet', 0.5, [0.15 / 0.31, 1, 1 - 0.16 / 0.31]],
  ['viridis', 0, [0.267004, 0.004874, 0.329415]],
  ['viridis', 1, [0.993248, 0.906157, 0.143936]],
  ['viridis', 0.5, [0.12815, 0.56511, 0.55089]],
  ['viridis', 0.3, [0.20583, 0.37375, 0.55333]],
  ['turbo', 0, [0.18995, 0.07176, 0.23217]],
  ['turbo', 1, [0.4796, 0.01583, 0.01055]],
  ['turbo', 0.25, [0.16015, 0.73318, 0.92519]],
];

describe('colormap', () => {
  it.each(MATPLOTLIB)('%s(%p) is matplotlib’s colour within 0.5/255', (name, value, rgb) => {
    const colour = tf.tidy(() => colormap(tf.scalar(value), name));
    expect(colour.shape).toEqual([3]);
    expect(maxAbsDiff(colour, rgb)).toBeLessThan(0.5 / 255);
    colour.dispose();
  });

  it('clips values outside [0, 1] to the end colours and keeps the input shape', () => {
    const values = tf.tensor2d([[-3, 0], [1, 7]]);
    const colours = colormap(values, 'jet');
    expect(colours.shape).toEqual([2, 2, 3]);
    expect(Array.from(colours.dataSync())).toEqual([0, 0, 0.5, 0, 0, 0.5, 0.5, 0, 0, 0.5, 0, 0]);
    tf.dispose([values, colours]);
  });

  it('leaks nothing and refuses unknown names', async () => {
    const values = tf.randomUniform([4, 5], 0, 1, 'float32', 1);
    await expectNoLeaks(() => colormap(values, 'turbo'));
    expect(() => colormap(values, 'rainbow' as 'jet')).toThrow("colormap: name must be one of 'jet', 'viridis', 'turbo'; got 'rainbow'.");
    values.dispose();
  });
});

describe('overlay', () => {
  const image = tf.tensor3d([10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220], [2, 2, 3]);
  const heatmap = tf.tensor2d([[0, 1], [1, 0]]);
  afterAll(() => tf.dispose([image, heatmap]));

  it('alpha 0 gives the image, alpha 1 the colour map, as int32', () => {
    const plain = overlay(image, heatmap, { alpha: 0 });
    expect(plain.dtype).toBe('int32');
    expect(Array.from(plain.dataSync())).toEqual(Array.from(image.dataSync()));
    const colours = overlay(image, heatmap, { alpha: 1 });
    // jet(0) = (0, 0, 0.5) and jet(1) = (0.5, 0, 0), times 255 and rounded.
    expect(Array.from(colours.dataSync())).toEqual([0, 0, 128, 128, 0, 0, 128, 0, 0, 0, 0, 128]);
    tf.dispose([plain, colours]);
  });

  it('blends (1 − alpha)·image + alpha·255·colour, rounded', () => {
    const blended = overlay(image, heatmap, { alpha: 0.25, colormap: 'viridis' });
    // Pixel (0, 0): heat 0, viridis(0) ≈ (0.267, 0.0049, 0.3294).
    const expected = [10, 20, 30].map((v, c) => Math.round(0.75 * v + 0.25 * 255 * [0.267, 0.0049, 0.3294][c]));
    expect(Array.from(blended.dataSync()).slice(0, 3)).toEqual(expected);
    blended.dispose();
  });

  it('upsamples a heat map at the layer’s resolution to the image size', () => {
    const big = tf.fill([6, 4, 3], 100) as tf.Tensor3D;
    const flat = tf.fill([2, 2], 1) as tf.Tensor2D;
    const blended = overlay(big, flat, { alpha: 1 });
    expect(blended.shape).toEqual([6, 4, 3]);
    const pixels = Array.from(blended.dataSync());
    expect(pixels.every((v, i) => v === [128, 0, 0][i % 3])).toBe(true);
    tf.dispose([big, flat, blended]);
  });

  it('leaks nothing, and explains wrong shapes and alphas', async () => {
    await expectNoLeaks(() => overlay(image, heatmap, { colormap: 'turbo', alpha: 0.4 }));
    const batch = tf.zeros([1, 2, 2, 3]);
    expect(() => overlay(batch as unknown as tf.Tensor3D, heatmap)).toThrow(
      /^overlay: image must be an RGB tensor \[height, width, 3\] in 0\.\.255; got shape \[1, 2, 2, 3\]\. Take one image/,
    );
    expect(() => overlay(image, batch as unknown as tf.Tensor2D)).toThrow(
      /^overlay: heatmap must be a 2-D tensor \[height, width\] in \[0, 1\]; got shape \[1, 2, 2, 3\]/,
    );
    expect(() => overlay(image, heatmap, { alpha: 1.5 })).toThrow('overlay: options.alpha must be a number >= 0 and <= 1; got 1.5.');
    batch.dispose();
  });
});
