import {
  SeedStream,
  accuracy,
  accuracyCoverage,
  applyTemperature,
  balancedAccuracy,
  brierScore,
  calibration,
  calibrationNoise,
  confusionMatrix,
  fitTemperature,
  negativeLogLikelihood,
  rocAuc,
} from '../../src';
import { Rng } from '../../src/random';

// Predicted classes 0, 1, 2, 0 against labels 0, 1, 0, 0: right, right, wrong, right.
const PROBS = [
  [0.7, 0.2, 0.1],
  [0.1, 0.6, 0.3],
  [0.3, 0.3, 0.4],
  [0.5, 0.4, 0.1],
];
const LABELS = [0, 1, 0, 0];

describe('classification metrics against hand-computed values', () => {
  it('accuracy and balanced accuracy (mean recall of the classes present: (2/3 + 1) / 2)', () => {
    expect(accuracy(PROBS, LABELS)).toBe(0.75);
    expect(balancedAccuracy(PROBS, LABELS)).toBeCloseTo(5 / 6, 12);
  });

  it('negative log-likelihood: mean −log p(label)', () => {
    expect(negativeLogLikelihood(PROBS, LABELS)).toBeCloseTo(-(Math.log(0.7) + Math.log(0.6) + Math.log(0.3) + Math.log(0.5)) / 4, 12);
    expect(negativeLogLikelihood([[1, 0]], [1])).toBeCloseTo(-Math.log(1.1754944e-38), 6);
  });

  it('Brier score: mean Σ_c (p_c − y_c)²', () => {
    // 0.14, 0.26, 0.74, 0.42.
    expect(brierScore(PROBS, LABELS)).toBeCloseTo(0.39, 12);
  });

  it('confusion matrix [true][predicted]', () => {
    expect(confusionMatrix(PROBS, LABELS, 3)).toEqual([
      [2, 0, 1],
      [0, 1, 0],
      [0, 0, 0],
    ]);
  });

  it('ROC AUC: pairwise wins with half credit for ties, null for a class without positives', () => {
    // Positives score 0.35, 0.8, 0.4; negatives 0.1, 0.4: wins 1 + 2 + 1.5 (one tie) of 6 pairs.
    const scores = [0.1, 0.4, 0.35, 0.8, 0.4];
    const auc = rocAuc(
      scores.map((s) => [1 - s, s, 0]),
      [0, 0, 1, 1, 1],
    );
    expect(auc.perClass[0]).toBeCloseTo(0.75, 12);
    expect(auc.perClass[1]).toBeCloseTo(0.75, 12);
    expect(auc.perClass[2]).toBeNull();
    expect(auc.macro).toBeCloseTo(0.75, 12);
    expect(() => rocAuc([[0.4, 0.6]], [1])).toThrow(/rocAuc: labels must contain at least two classes; got a single one/);
  });

  it('accuracy-coverage: referring the most uncertain first, with its area', () => {
    // Most certain first: examples 0, 3, 1, 2 (the wrong one last).
    const curve = accuracyCoverage(PROBS, LABELS, [0.1, 0.3, 0.9, 0.2]);
    expect(curve.coverage).toEqual([0.25, 0.5, 0.75, 1]);
    expect(curve.accuracy).toEqual([1, 1, 1, 0.75]);
    expect(curve.area).toBeCloseTo(0.9375, 12);
    // An uncertainty that flags the wrong example as the most certain does worse.
    expect(accuracyCoverage(PROBS, LABELS, [0.5, 0.5, 0, 0.5]).area).toBeLessThan(curve.area);
  });
});

describe('calibration', () => {
  it('ECE and MCE over equal-width bins, with the reliability data', () => {
    // Confidences 0.9 (right), 0.85 (wrong), 0.7 (right), 0.55 (wrong); bins of width 0.2.
    const probs = [
      [0.9, 0.1],
      [0.85, 0.15],
      [0.3, 0.7],
      [0.45, 0.55],
    ];
    const result = calibration(probs, [0, 1, 1, 0], { bins: 5 });
    // Bin (0.8, 1]: conf 0.875, acc 0.5; (0.6, 0.8]: 0.7, 1; (0.4, 0.6]: 0.55, 0.
    expect(result.ece).toBeCloseTo(0.5 * 0.375 + 0.25 * 0.3 + 0.25 * 0.55, 12);
    expect(result.mce).toBeCloseTo(0.55, 12);
    expect(result.bins.map((bin) => bin.count)).toEqual([0, 0, 1, 1, 2]);
    expect(result.bins[4]).toMatchObject({ lower: 0.8, upper: 1, confidence: 0.875, accuracy: 0.5 });
    expect(result.bins[0]).toMatchObject({ count: 0, confidence: 0, accuracy: 0 });
    expect(calibration(probs, [0, 1, 1, 0]).bins).toHaveLength(15);
  });

  it('a perfectly calibrated set has zero ECE', () => {
    // Confidence 0.75, three of four right.
    const probs = [0, 1, 2, 3].map(() => [0.75, 0.25]);
    expect(calibration(probs, [0, 0, 0, 1]).ece).toBeCloseTo(0, 12);
  });
});

describe('calibrationNoise', () => {
  /** Exact distribution of |X/n − p| for X ~ Binomial(n, p): the ECE of n calibrated examples all at confidence p (one bin). */
  function binomialGap(n: number, p: number): Array<{ gap: number; probability: number }> {
    let logChoose = 0;
    return Array.from({ length: n + 1 }, (_, k) => {
      if (k > 0) logChoose += Math.log((n - k + 1) / k);
      return { gap: Math.abs(k / n - p), probability: Math.exp(logChoose + k * Math.log(p) + (n - k) * Math.log(1 - p)) };
    });
  }

  it('matches the closed form when every example has the same confidence: mean E|X/n − p| and its 95th percentile', () => {
    const n = 40;
    const p = 0.7;
    const exact = binomialGap(n, p);
    const mean = exact.reduce((sum, { gap, probability }) => sum + gap * probability, 0);
    const variance = exact.reduce((sum, { gap, probability }) => sum + (gap - mean) ** 2 * probability, 0);
    const resamples = 20000;
    const noise = calibrationNoise(Array.from({ length: n }, () => [p, 1 - p]), { resamples, seed: 5 });
    expect(noise.resamples).toBe(resamples);
    expect(Math.abs(noise.mean - mean)).toBeLessThan(4 * Math.sqrt(variance / resamples));
    // The resampled 95th percentile is an atom of the exact distribution whose CDF crosses 0.95 there (within sampling error).
    const below = exact.filter(({ gap }) => gap < noise.upper - 1e-12).reduce((sum, { probability }) => sum + probability, 0);
    const atOrBelow = exact.filter(({ gap }) => gap <= noise.upper + 1e-12).reduce((sum, { probability }) => sum + probability, 0);
    expect(below).toBeLessThanOrEqual(0.95 + 0.005);
    expect(atOrBelow).toBeGreaterThanOrEqual(0.95 - 0.005);
  });

  it('is zero for certain predictions, reproducible by seed, and bounds the ECE of labels drawn from the predictions', () => {
    expect(calibrationNoise([[1, 0], [0, 1]], { resamples: 50 })).toEqual({ mean: 0, upper: 0, resamples: 50 });
    const rng = new Rng(11);
    const probs = Array.from({ length: 600 }, () => {
      const logits = [rng.normal() * 2, rng.normal() * 2, rng.normal() * 2];
      const total = logits.reduce((sum, z) => sum + Math.exp(z), 0);
      return logits.map((z) => Math.exp(z) / total);
    });
    // Labels drawn from the probabilities themselves: a calibrated model.
    const labels = probs.map((row) => {
      const u = rng.next();
      return u < row[0] ? 0 : u < row[0] + row[1] ? 1 : 2;
    });
    const noise = calibrationNoise(probs, { resamples: 400, seed: 1 });
    expect(calibrationNoise(probs, { resamples: 400, seed: 1 })).toEqual(noise);
    expect(calibrationNoise(probs, { resamples: 400, seed: 2 }).mean).not.toBe(noise.mean);
    expect(noise.mean).toBeGreaterThan(0);
    expect(noise.upper).toBeGreaterThan(noise.mean);
    expect(calibration(probs, labels).ece).toBeLessThan(noise.upper);
    // Overconfident by a temperature of 3: far outside the noise.
    const sharpened = probs.map((row) => {
      const cubed = row.map((v) => v ** 3);
      const total = cubed.reduce((a, b) => a + b, 0);
      return cubed.map((v) => v / total);
    });
    expect(calibration(sharpened, labels).ece).toBeGreaterThan(2 * noise.upper);
  });
});

describe('temperature scaling', () => {
  /** Labels drawn from softmax(z), then logits sharpened 3×: the fitted temperature should undo it. */
  function overconfident(count: number): { logits: number[][]; labels: number[] } {
    const seeds = new SeedStream(3, 'temperature-test');
    const uniform = () => seeds.next()! / 2 ** 32;
    const logits: number[][] = [];
    const labels: number[] = [];
    for (let i = 0; i < count; i++) {
      // Box–Muller normals, scale 2.
      const z = [0, 1, 2].map(() => 2 * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()));
      const p = applyTemperature([z], 1)[0];
      const u = uniform();
      labels.push(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2);
      logits.push(z.map((v) => 3 * v));
    }
    return { logits, labels };
  }

  it('recovers the sharpening factor and lowers the NLL to its minimum', () => {
    const { logits, labels } = overconfident(2000);
    const fit = fitTemperature(logits, labels);
    expect(Math.abs(fit.temperature - 3)).toBeLessThan(0.3);
    expect(fit.nllAfter).toBeLessThan(fit.nllBefore);
    expect(fit.nllBefore).toBeCloseTo(negativeLogLikelihood(applyTemperature(logits, 1), labels), 12);
    // A minimum: a 1 % change of temperature either way costs NLL.
    const nllAt = (t: number) => negativeLogLikelihood(applyTemperature(logits, t), labels);
    expect(nllAt(fit.temperature * 1.01)).toBeGreaterThan(fit.nllAfter);
    expect(nllAt(fit.temperature / 1.01)).toBeGreaterThan(fit.nllAfter);
  });

  it('applyTemperature is softmax(z / T), and T = 1 is the plain softmax', () => {
    const [p] = applyTemperature([[2, 0]], 2);
    expect(p[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + 1), 12);
    expect(() => applyTemperature([[1, 2]], 0)).toThrow(/applyTemperature: temperature must be a number > 0; got 0/);
  });
});

describe('metric errors', () => {
  it.each([
    [() => accuracy(PROBS, [0, 1]), /accuracy: labels must have one entry per example \(4\); got 2. Pass the labels/],
    [() => brierScore([[0.5, 0.5], [1]], [0, 0]), /brierScore: probs must be rows of 2 finite numbers; row 1 is \[1\]/],
    [() => negativeLogLikelihood(PROBS, [0, 1, 3, 0]), /negativeLogLikelihood: labels\[2\] must be an integer class index in \[0, 2\]; got 3/],
    [() => rocAuc([], []), /rocAuc: probs must be a non-empty array of rows \[N\]\[C\]; got \[\]/],
    [() => confusionMatrix(PROBS, LABELS, 4), /confusionMatrix: probs must have numClasses \(4\) columns; got 3/],
    [() => accuracyCoverage(PROBS, LABELS, [0.1]), /accuracyCoverage: uncertainty must hold one finite number per example \(4\); got 1/],
    [() => calibration(PROBS, LABELS, { bins: 0 }), /calibration: options.bins must be an integer >= 1; got 0/],
    [() => calibrationNoise(PROBS, { resamples: 0 }), /calibrationNoise: options.resamples must be an integer >= 1 and <= 1000000; got 0/],
    [() => calibrationNoise(PROBS, { bins: 1e6 }), /calibrationNoise: options.bins must be at most 100000; got 1000000/],
    [() => fitTemperature([[1, NaN]], [0]), /fitTemperature: logits must be rows of 2 finite numbers; row 0 is \[1, NaN\]/],
  ])('%#: refuses mismatched or malformed input', (call, message) => {
    expect(call).toThrow(message);
  });
});
