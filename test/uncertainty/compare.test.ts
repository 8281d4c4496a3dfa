import { accuracy, brierScore, calibration, comparePredictions, negativeLogLikelihood } from '../../src';
import { Rng } from '../../src/random';

/** n examples of 3 classes: model A's probabilities, model B's (A sharpened or flattened by `power`) and labels drawn from A. */
function twoModels(n: number, power: number, seed: number): { a: number[][]; b: number[][]; labels: number[] } {
  const rng = new Rng(seed);
  const normalise = (row: number[]) => {
    const total = row.reduce((x, y) => x + y, 0);
    return row.map((v) => v / total);
  };
  const a = Array.from({ length: n }, () => normalise([0, 1, 2].map(() => Math.exp(2 * rng.normal()))));
  const b = a.map((row) => normalise(row.map((v) => v ** power)));
  const labels = a.map((row) => {
    const u = rng.next();
    return u < row[0] ? 0 : u < row[0] + row[1] ? 1 : 2;
  });
  return { a, b, labels };
}

describe('comparePredictions', () => {
  it('gives each model its own metric value and their difference, and a zero interval against itself', () => {
    const { a, b, labels } = twoModels(300, 2, 1);
    const result = comparePredictions(a, b, labels, { resamples: 200 });
    expect(result.nll.a).toBe(negativeLogLikelihood(a, labels));
    expect(result.brier.b).toBe(brierScore(b, labels));
    expect(result.ece.difference).toBe(calibration(a, labels).ece - calibration(b, labels).ece);
    expect(result.accuracy.difference).toBe(accuracy(a, labels) - accuracy(b, labels));
    const self = comparePredictions(a, a, labels, { resamples: 50 });
    for (const metric of [self.accuracy, self.nll, self.brier, self.ece]) {
      expect([metric.difference, ...metric.interval]).toEqual([0, 0, 0]);
    }
  });

  it('the accuracy interval has the width of the paired closed form, 2 × 1.96 × sd(d) / √n', () => {
    // Different argmaxes: B's top class is A's second (a permutation per row), so correctness differs often.
    const { a, labels } = twoModels(600, 1, 2);
    const b = a.map((row) => {
      const order = [0, 1, 2].sort((i, j) => row[j] - row[i]);
      const swapped = [...row];
      [swapped[order[0]], swapped[order[1]]] = [row[order[1]], row[order[0]]];
      return swapped;
    });
    const correct = (probs: number[][]) => probs.map((row, i) => (row.indexOf(Math.max(...row)) === labels[i] ? 1 : 0));
    const [ca, cb] = [correct(a), correct(b)];
    const d = ca.map((v, i) => v - cb[i]);
    const meanD = d.reduce((x, y) => x + y, 0) / d.length;
    const sd = Math.sqrt(d.reduce((sum, v) => sum + (v - meanD) ** 2, 0) / d.length);
    const result = comparePredictions(a, b, labels, { resamples: 2000, seed: 3 });
    const [low, high] = result.accuracy.interval;
    // Seen: 0.95 (percentile interval of a discrete statistic against the normal approximation).
    expect(Math.abs((high - low) / ((2 * 1.96 * sd) / Math.sqrt(d.length)) - 1)).toBeLessThan(0.1);
    expect(low).toBeLessThan(meanD);
    expect(high).toBeGreaterThan(meanD);
  });

  it('tells an overconfident model from a calibrated one on ECE and NLL, not on accuracy (same argmax)', () => {
    const { a, b, labels } = twoModels(500, 3, 4);
    const result = comparePredictions(a, b, labels, { resamples: 300, seed: 1 });
    expect(result.ece.interval[1]).toBeLessThan(0);
    expect(result.nll.interval[1]).toBeLessThan(0);
    expect(result.accuracy).toMatchObject({ difference: 0, interval: [0, 0] });
    expect(comparePredictions(a, b, labels, { resamples: 300, seed: 1 })).toEqual(result);
    expect(comparePredictions(a, b, labels, { resamples: 300, seed: 2 }).ece.interval).not.toEqual(result.ece.interval);
  });

  it.each([
    [() => comparePredictions([[0.5, 0.5]], [[0.5, 0.5], [0.1, 0.9]], [0]), /comparePredictions: probsB must have one row per example of probsA \(1\); got 2\. Compare predictions of the same examples, in the same order\./],
    [() => comparePredictions([[0.5, 0.5]], [[0.2, 0.3, 0.5]], [0]), /comparePredictions: probsB must have as many classes as probsA \(2\); got 3\./],
    [() => comparePredictions([[0.5, 0.5]], [[0.5, 0.5]], [2]), /comparePredictions: labels\[0\] must be an integer class index in \[0, 1\]; got 2/],
    [() => comparePredictions([[0.5, 0.5]], [[0.5, 0.5]], [0], { level: 1.5 }), /comparePredictions: options.level must be a number > 0 and <= 1; got 1.5/],
  ])('%#: refuses mismatched predictions and bad options', (call, message) => {
    expect(call).toThrow(message);
  });
});
