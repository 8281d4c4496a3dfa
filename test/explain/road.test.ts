import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { classSum, roadScore, type TargetFunction } from '../../src';
import { expectNoLeaks } from '../helpers';

// A linear scorer on 4×4 grey images: y_c = Σ_p V[p][c] x_p, so a score change is Σ_p V[p][c] (x'_p − x_p).
const V = Array.from({ length: 16 }, (_, p) => [((p * 7) % 5) - 2, p % 3]);
const pixels = Array.from({ length: 16 }, (_, p) => ((p * 11) % 7) / 7);

function linearScorer(): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 2, useBias: false, name: 'head' })] });
  model.getLayer('head').setWeights([tf.tensor2d(V)]);
  return model;
}

/** A map whose largest value is at pixel `top` and smallest at pixel `bottom`. */
function mapWith(top: number, bottom: number): tf.Tensor3D {
  const values = Array.from({ length: 16 }, (_, p) => 0.2 + 0.03 * p);
  values[top] = 1;
  values[bottom] = 0;
  return tf.tensor3d(values, [1, 4, 4]);
}

describe('ROAD', () => {
  const model = linearScorer();
  const image = tf.tensor4d(pixels, [1, 4, 4, 1]);
  afterAll(() => image.dispose());
  // At percentile 95 of 16 values (rank 14.25) only the single most (or least) relevant pixel is removed.
  const one = { percentiles: [95], noise: 0 };
  const at = (row: number, col: number) => pixels[row * 4 + col];

  it('an inner pixel is imputed as the 1/6-edge, 1/12-corner weighted mean of its 8 neighbours (Rong et al. 2022, sec. 4)', () => {
    const maps = mapWith(5, 0); // pixel (1, 1) is the most relevant
    const road = roadScore(model, 0, image, maps, one);
    const edges = at(0, 1) + at(1, 0) + at(1, 2) + at(2, 1);
    const corners = at(0, 0) + at(0, 2) + at(2, 0) + at(2, 2);
    const imputed = edges / 6 + corners / 12;
    expect(road.mostRelevantFirst[0][0]).toBeCloseTo(V[5][0] * (imputed - pixels[5]), 5);
    maps.dispose();
  });

  it('a corner pixel, least relevant: only its 3 in-image neighbours count, weights renormalised to 5/12', () => {
    const maps = mapWith(5, 15); // pixel (3, 3) is the least relevant
    const road = roadScore(model, 1, image, maps, one);
    const imputed = (at(2, 3) / 6 + at(3, 2) / 6 + at(2, 2) / 12) / (5 / 12);
    expect(road.leastRelevantFirst[0][0]).toBeCloseTo(V[15][1] * (imputed - pixels[15]), 5);
    expect(road.combined[0]).toBeCloseTo((road.leastRelevantFirst[0][0] - road.mostRelevantFirst[0][0]) / 2, 6);
    maps.dispose();
  });

  it('removing several adjacent pixels solves for them jointly: the imputed values satisfy every neighbour equation', () => {
    // Remove 80% most relevant (13 pixels); with the identity scorer of each pixel the changes give the imputed image back.
    const identity = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 16, useBias: false, kernelInitializer: 'identity' })] });
    const maps = tf.tensor3d(Array.from({ length: 16 }, (_, p) => (p * 5) % 16 / 16), [1, 4, 4]);
    const imputed = Array.from({ length: 16 }, (_, p) => pixels[p] + roadScore(identity, p, image, maps, { percentiles: [20], noise: 0 }).mostRelevantFirst[0][0]);
    // The 20th percentile of 0, 1/16, ..., 15/16 is the value of rank 0.2 · 15 = 3: 3/16 and above are removed.
    const removed = (maps.arraySync()[0].flat() as number[]).map((v) => v >= 3 / 16);
    for (let p = 0; p < 16; p++) {
      if (!removed[p]) {
        expect(imputed[p]).toBeCloseTo(pixels[p], 6);
        continue;
      }
      const [row, col] = [Math.floor(p / 4), p % 4];
      let sum = 0;
      let weight = 0;
      for (const [dr, dc] of [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]]) {
        const [r, q] = [row + dr, col + dc];
        if (r < 0 || q < 0 || r > 3 || q > 3) continue;
        const w = dr === 0 || dc === 0 ? 1 / 6 : 1 / 12;
        sum += w * imputed[r * 4 + q];
        weight += w;
      }
      expect(imputed[p]).toBeCloseTo(sum / weight, 4);
    }
    maps.dispose();
  });

  it('the noise is seeded: the same seed gives the same scores, another seed others', () => {
    const maps = mapWith(5, 0);
    const options = { percentiles: [50], noise: 0.05 };
    const [r1, r2, r3] = [1, 1, 2].map((seed) => roadScore(model, 0, image, maps, { ...options, seed }));
    expect(r1).toEqual(r2);
    expect(r1.mostRelevantFirst[0][0]).not.toBeCloseTo(r3.mostRelevantFirst[0][0], 6);
    maps.dispose();
  });

  it('no leaks, also when the target function throws; errors name the option', async () => {
    const maps = mapWith(5, 0);
    await expectNoLeaks(() => roadScore(model, classSum([0, 1]), image, maps), () => undefined);
    const failing: TargetFunction = () => {
      throw new Error('target failed');
    };
    await expectNoLeaks(() => expect(() => roadScore(model, failing, image, maps)).toThrow('target failed'), () => undefined);
    expect(() => roadScore(model, 0, image, maps, { percentile: [50] } as never)).toThrow(/^roadScore: options has unknown 'percentile'; did you mean 'percentile' → 'percentiles'\?/);
    expect(() => roadScore(model, 0, image, maps, { percentiles: [0, 50] })).toThrow(
      'roadScore: options.percentiles must be a non-empty array of numbers in (0, 100); got [0, 50].',
    );
    maps.dispose();
  });
});
