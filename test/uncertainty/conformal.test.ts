import * as tf from '@tensorflow/tfjs-core';
import { accuracy, ConformalClassifier, SeedStream, applyTemperature, setMetrics, type ConformalOptions } from '../../src';

const CAL_PROBS = [
  [0.6, 0.3, 0.1],
  [0.5, 0.4, 0.1],
  [0.2, 0.5, 0.3],
  [0.7, 0.2, 0.1],
];
const CAL_LABELS = [0, 1, 0, 2];

describe('ConformalClassifier: thresholds and sets by hand', () => {
  it('APS without randomisation: the threshold is the ⌈(n + 1)(1 − α)⌉-th smallest cumulative score', () => {
    // Scores (mass of the classes ranked up to the label): 0.6, 0.9, 1.0, 1.0. α = 0.6: ⌈5 · 0.4⌉ = 2nd.
    const conformal = ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 0.6, randomized: false });
    expect(conformal.threshold).toBeCloseTo(0.9, 12);
    // [0.6, 0.3, 0.1]: 0.6 + 0.3 ≤ 0.9 admits class 1; + 0.1 does not admit class 2.
    expect(conformal.predictSets([[0.6, 0.3, 0.1], [0.05, 0.05, 0.9]])).toEqual([[0, 1], [2]]);
  });

  it('RAPS adds λ per class beyond kReg', () => {
    // Scores 0.6 + 0, 0.9 + 1, 1.0 + 2, 1.0 + 2 with λ = 1, kReg = 1: the 2nd smallest is 1.9.
    const conformal = ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 0.6, score: 'raps', lambda: 1, kReg: 1, randomized: false });
    expect(conformal.threshold).toBeCloseTo(1.9, 12);
    expect(conformal.predictSets([[0.6, 0.3, 0.1]])).toEqual([[0, 1]]);
  });

  it('too few calibration examples for α give every class; the top class is always in', () => {
    const all = ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 0.01 });
    expect(all.threshold).toBe(Infinity);
    expect(all.predictSets([[0.1, 0.7, 0.2]])).toEqual([[1, 2, 0]]);
    const tight = ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 0.99, randomized: false });
    expect(tight.predictSets([[0.2, 0.3, 0.5]])).toEqual([[2]]);
  });

  it('the same seed gives the same randomised sets', () => {
    const options: ConformalOptions = { alpha: 0.5, seed: 4 };
    const sets = () => ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, options).predictSets(CAL_PROBS);
    expect(sets()).toEqual(sets());
  });
});

/** A synthetic classifier of a given quality: logits = quality · onehot(label) + N(0, 1) noise. */
function synthetic(count: number, quality: number, seed: number): { probs: number[][]; labels: number[] } {
  const classes = 5;
  const seeds = new SeedStream(seed, 'conformal-test');
  const labels = Array.from({ length: count }, () => seeds.next()! % classes);
  const noise = tf.tidy(() => tf.randomNormal([count, classes], 0, 1, 'float32', seed).arraySync() as number[][]);
  const logits = noise.map((row, i) => row.map((v, c) => v + (c === labels[i] ? quality : 0)));
  return { probs: applyTemperature(logits, 1), labels };
}

describe('ConformalClassifier: coverage on held-out data', () => {
  const [CAL, TEST, ALPHA] = [1000, 2000, 0.1];
  // Coverage given the calibration set is Beta-distributed around 1 − α (sd sqrt(α(1 − α)/n)), then
  // measured on TEST images (sd sqrt(α(1 − α)/m)); its mean lies in [1 − α, 1 − α + 1/(n + 1)].
  const SD = Math.sqrt(ALPHA * (1 - ALPHA) * (1 / CAL + 1 / TEST));
  const BOUNDS = [1 - ALPHA - 4 * SD, 1 - ALPHA + 1 / (CAL + 1) + 4 * SD];

  it.each(['aps', 'raps'] as const)('%s reaches 1 − α within the finite-sample bound, and sets shrink as the model improves', (score) => {
    const sizes = [0.5, 2, 4].map((quality, i) => {
      const cal = synthetic(CAL, quality, 10 + i);
      const test = synthetic(TEST, quality, 20 + i);
      const conformal = ConformalClassifier.calibrate(cal.probs, cal.labels, { alpha: ALPHA, score, seed: i });
      const { coverage, meanSetSize } = setMetrics(conformal.predictSets(test.probs), test.labels);
      expect(coverage).toBeGreaterThanOrEqual(BOUNDS[0]);
      // The upper bound is for the randomised sets alone; always keeping the top class can only add
      // coverage, up to the top-1 accuracy (0.99 at quality 4, where sets are then mostly singletons).
      expect(coverage).toBeLessThanOrEqual(Math.max(BOUNDS[1], accuracy(test.probs, test.labels) + 4 * SD));
      return meanSetSize;
    });
    expect(sizes[1]).toBeLessThan(sizes[0]);
    expect(sizes[2]).toBeLessThan(sizes[1]);
    expect(sizes[2]).toBeLessThan(1.5);
  });
});

describe('conformal errors and set metrics', () => {
  it('setMetrics counts coverage and size', () => {
    expect(setMetrics([[0, 1], [2], [1]], [1, 0, 1])).toEqual({ coverage: 2 / 3, meanSetSize: 4 / 3 });
  });

  it.each([
    [() => ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 1 }), /ConformalClassifier.calibrate: options.alpha must be a number > 0 and < 1; got 1/],
    [() => ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 0 }), /options.alpha must be a number > 0 and <= 1; got 0/],
    [() => ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 0.1, score: 'lac' as never }), /options.score must be one of 'aps', 'raps'; got 'lac'/],
    [() => ConformalClassifier.calibrate(CAL_PROBS, [0, 1], { alpha: 0.1 }), /labels must have one entry per example \(4\); got 2/],
    [() => ConformalClassifier.calibrate(CAL_PROBS, CAL_LABELS, { alpha: 0.1 }).predictSets([[0.5, 0.5]]), /predictSets: probs must have 3 columns, as at calibration; got 2/],
    [() => setMetrics([[0]], [0, 1]), /setMetrics: labels must have one entry per example \(1\); got 2/],
  ])('%#: refuses bad input', (call, message) => {
    expect(call).toThrow(message);
  });
});
