import * as tf from '@tensorflow/tfjs-core';
import { McPrediction } from '../../src';
import { expectNoLeaks } from '../helpers';

/** Two samples of two images: image 0 sways between [1, 0] and [0.5, 0.5]; image 1 never moves. */
const SAMPLES = [
  [[1, 0], [0.2, 0.8]],
  [[0.5, 0.5], [0.2, 0.8]],
];

function predictionOf(samples: number[][][], quantileLevels = [0, 0.25, 0.5, 1], keepSamples = false): McPrediction {
  return new McPrediction(tf.tensor3d(samples), { quantileLevels, keepSamples, strategy: 'fast' });
}

describe('McPrediction: the uncertainty decomposition against hand-computed values', () => {
  it('mean, standard deviation and type-7 quantiles', () => {
    const prediction = predictionOf(SAMPLES);
    expect(Array.from(prediction.mean.dataSync())).toEqual([0.75, 0.25, 0.2, 0.8].map(Math.fround));
    // Divisor S − 1: std of {1, 0.5} is 0.5 / sqrt(2).
    const std = prediction.std.arraySync();
    expect(std[0][0]).toBeCloseTo(0.5 / Math.SQRT2, 6);
    expect(std[1]).toEqual([0, 0]);
    // Class 0 of image 0 sorted: [0.5, 1] → levels 0, 0.25, 0.5, 1 give 0.5, 0.625, 0.75, 1.
    const quantiles = prediction.quantiles.arraySync();
    expect(quantiles.map((level) => level[0][0])).toEqual([0.5, 0.625, 0.75, 1]);
    expect(quantiles.map((level) => level[1][1])).toEqual([0.8, 0.8, 0.8, 0.8].map(Math.fround));
    prediction.dispose();
  });

  it('predictive entropy = expected entropy + mutual information, each by hand', () => {
    const prediction = predictionOf(SAMPLES);
    const [pe, ee, mi] = [prediction.predictiveEntropy, prediction.expectedEntropy, prediction.mutualInformation].map((t) =>
      Array.from(t.dataSync()),
    );
    // Image 0: H[0.75, 0.25]; E H = (H[1, 0] + H[0.5, 0.5]) / 2 = ln 2 / 2, with 0 · log 0 = 0.
    const h = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
    expect(pe[0]).toBeCloseTo(h, 6);
    expect(ee[0]).toBeCloseTo(Math.LN2 / 2, 6);
    expect(mi[0]).toBeCloseTo(h - Math.LN2 / 2, 6);
    // Image 1 never moves: all uncertainty is aleatoric, none epistemic.
    expect(pe[1]).toBeCloseTo(-(0.2 * Math.log(0.2) + 0.8 * Math.log(0.8)), 6);
    expect(ee[1]).toBeCloseTo(pe[1], 6);
    expect(mi[1]).toBeLessThan(1e-6);
    prediction.dispose();
  });

  it('one sample: zero standard deviation, every quantile equal to it', () => {
    const prediction = predictionOf([[[0.3, 0.7]]]);
    expect(Array.from(prediction.std.dataSync())).toEqual([0, 0]);
    expect(Array.from(prediction.quantiles.dataSync())).toEqual([0.3, 0.7, 0.3, 0.7, 0.3, 0.7, 0.3, 0.7].map(Math.fround));
    prediction.dispose();
  });

  it('summary: plain JSON, with a density curve per image and class over [0, 1]', () => {
    const prediction = predictionOf(SAMPLES, [0.5]);
    const summary = prediction.summary({ classNames: ['mel', 'nv'], density: { points: 101 } });
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
    expect(summary.classNames).toEqual(['mel', 'nv']);
    expect(summary.samples).toBe(2);
    expect(summary.quantiles[0].level).toBe(0.5);
    expect(summary.densities).toHaveLength(2);
    const curve = summary.densities![0][0];
    expect(curve.x[0]).toBe(0);
    expect(curve.x[100]).toBe(1);
    // Two samples, 0.5 and 1: the curve peaks near them, not in between.
    expect(curve.density[50]).toBeGreaterThan(curve.density[75]);
    expect(prediction.summary({ density: false }).densities).toBeUndefined();
    expect(() => prediction.summary({ classNames: ['mel'] })).toThrow(
      /McPrediction.summary: options.classNames must have one name per class \(2\); got 1/,
    );
    prediction.dispose();
  });

  it('kept samples give the same summary as dropped ones, and dispose frees every tensor', async () => {
    const kept = await expectNoLeaks(() => {
      const prediction = predictionOf(SAMPLES, [0.5], true);
      const summary = prediction.summary();
      prediction.dispose();
      return summary;
    });
    const dropped = predictionOf(SAMPLES, [0.5], false);
    expect(dropped.samples).toBeUndefined();
    expect(dropped.summary()).toEqual(kept);
    dropped.dispose();
  });
});
