import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { deletionCurve, insertionCurve, localization } from '../../src';
import { expectNoLeaks } from '../helpers';

/** Class 0 scores the mean of the top-left 2×2 pixels of a 4×4 image; class 1 scores 0. */
function quadrantScorer(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 2, useBias: false, name: 'head' })],
  });
  const kernel = Array.from({ length: 16 }, (_, p) => [[0, 1, 4, 5].includes(p) ? 0.25 : 0, 0]);
  model.getLayer('head').setWeights([tf.tensor2d(kernel)]);
  return model;
}

/** Saliency 1 on the top-left quadrant (the evidence) and 0 elsewhere; and its reverse. */
function goodAndReversedMaps(): tf.Tensor3D {
  const good = Array.from({ length: 16 }, (_, p) => ([0, 1, 4, 5].includes(p) ? 1 : 0));
  return tf.tensor3d([...good, ...good.map((v) => 1 - v)], [2, 4, 4]);
}

describe('deletion and insertion curves on a constructed case', () => {
  const model = quadrantScorer();
  const ones = tf.ones([2, 4, 4, 1]) as tf.Tensor4D;
  const maps = goodAndReversedMaps();
  afterAll(() => tf.dispose([ones, maps]));

  it('deletion: the faithful map drops the score at the first step, the reversed one at the last', () => {
    const curve = deletionCurve(model, 0, ones, maps, { steps: 4, score: 'logit' });
    expect(curve.fractions).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(curve.scores.map((s) => s.map((v) => +v.toFixed(6)))).toEqual([[1, 0, 0, 0, 0], [1, 1, 1, 1, 0]]);
    // Trapezoids of width 1/4: (1 + 0)/8 = 0.125, and 3/4 + 1/8 = 0.875.
    expect(curve.auc[0]).toBeCloseTo(0.125, 6);
    expect(curve.auc[1]).toBeCloseTo(0.875, 6);
  });

  it('insertion from a zero baseline: the mirror image', () => {
    const curve = insertionCurve(model, [0, 0], ones, maps, { steps: 4, score: 'logit', baseline: 'zero' });
    expect(curve.scores.map((s) => s.map((v) => +v.toFixed(6)))).toEqual([[0, 1, 1, 1, 1], [0, 0, 0, 0, 1]]);
    expect(curve.auc[0]).toBeCloseTo(0.875, 6);
    expect(curve.auc[1]).toBeCloseTo(0.125, 6);
  });

  it("the 'blur' and 'mean' baselines of a constant image are that image: the curve stays flat", () => {
    const grey = tf.fill([2, 4, 4, 1], 0.6) as tf.Tensor4D;
    for (const baseline of ['blur', 'mean'] as const) {
      const curve = deletionCurve(model, 0, grey, maps, { steps: 2, score: 'logit', baseline });
      curve.scores.flat().forEach((v) => expect(v).toBeCloseTo(0.6, 5));
    }
    grey.dispose();
  });

  it("the default score is the probability: softmax([s, 0])_0 = sigmoid(s)", () => {
    const curve = deletionCurve(model, 0, ones, maps, { steps: 4 });
    const sigmoid = (s: number) => 1 / (1 + Math.exp(-s));
    expect(curve.scores[0][0]).toBeCloseTo(sigmoid(1), 5);
    expect(curve.scores[0][1]).toBeCloseTo(sigmoid(0), 5);
  });

  it('leaks nothing and refuses maps that do not match the images', async () => {
    await expectNoLeaks(() => deletionCurve(model, 'predicted', ones, maps, { steps: 3, baseline: 'blur' }), () => undefined);
    await expectNoLeaks(() => insertionCurve(model, 1, ones, maps, { steps: 3, baseline: 'mean' }), () => undefined);
    const raw = tf.zeros([2, 2, 2]) as tf.Tensor3D;
    expect(() => deletionCurve(model, 0, ones, raw)).toThrow(
      'deletionCurve: maps must have shape [2, 4, 4] (one map per image, at the image size); got [2, 2, 2]. Pass cam() maps without the raw option.',
    );
    expect(() => insertionCurve(model, 0, ones, maps, { steps: 0 })).toThrow('insertionCurve: options.steps must be an integer >= 1; got 0.');
    raw.dispose();
  });
});

describe('localization against a constructed mask', () => {
  // The mask: the top-left 2×2 of a 4×4 image.
  const mask = Array.from({ length: 16 }, (_, p) => ([0, 1, 4, 5].includes(p) ? 1 : 0));

  it('energy inside and the pointing game, with and without tolerance', () => {
    const inside = mask.map((m) => (m ? 1 : 0.5)); // 4·1 / (4·1 + 12·0.5) = 0.4, peak inside
    const outside = mask.map((_, p) => (p === 15 ? 1 : 0)); // all energy at the far corner
    const nextTo = mask.map((_, p) => (p === 2 ? 1 : 0)); // peak one pixel right of the mask
    const zero = mask.map(() => 0);
    const maps = tf.tensor3d([...inside, ...outside, ...nextTo, ...zero], [4, 4, 4]);
    const masks = tf.tensor3d([...mask, ...mask, ...mask, ...mask], [4, 4, 4]);
    const exact = localization(maps, masks);
    expect(exact.energyInside.map((v) => +v.toFixed(6))).toEqual([0.4, 0, 0, 0]);
    expect(exact.pointingHit).toEqual([true, false, false, false]);
    const tolerant = localization(maps, masks, { tolerance: 1 });
    expect(tolerant.pointingHit).toEqual([true, false, true, false]);
    tf.dispose([maps, masks]);
  });

  it('leaks nothing and refuses masks of another shape', async () => {
    const maps = tf.randomUniform([2, 4, 4], 0, 1, 'float32', 3) as tf.Tensor3D;
    const masks = tf.tensor3d([...mask, ...mask], [2, 4, 4]);
    await expectNoLeaks(() => localization(maps, masks, { tolerance: 2 }), () => undefined);
    const small = tf.zeros([2, 2, 2]) as tf.Tensor3D;
    expect(() => localization(maps, small)).toThrow(
      "localization: masks must have the maps' shape [2, 4, 4]; got [2, 2, 2]. Resize the masks to the image size (nearest neighbour) and pass cam() maps without the raw option.",
    );
    tf.dispose([maps, masks, small]);
  });
});
