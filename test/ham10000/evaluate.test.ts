import { DEFAULT_MIN_RECALL, operatingPoints } from '../../src/ham10000/evaluate';
import { Rng } from '../../src/random';

const CLASSES = ['a', 'b', 'mel'];
const SUMMARY = { counts: { train: { a: 80, b: 15, mel: 5 }, validation: {}, test: {} }, lesions: {}, lesionLeak: false, seed: 0 } as never;

/** Probabilities that favour the true class a little, with the majority class favoured overall. */
function predictions(count: number, seed: number) {
  const rng = new Rng(seed, 'operating-points');
  const labels = Array.from({ length: count }, (_, i) => (i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2));
  const probs = labels.map((label) => {
    const raw = [2 + rng.next(), rng.next(), rng.next()];
    raw[label] += 1.2 * rng.next();
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((r) => r / total);
  });
  return { probs, labels };
}

describe('operatingPoints', () => {
  it('fits the rule on the validation predictions only, meets the melanoma floor there, and scores the evaluated ones', () => {
    const validation = predictions(600, 1);
    const test = predictions(400, 2);
    const points = operatingPoints(test, validation, { classes: CLASSES, summary: SUMMARY, balance: 'none' as const }, DEFAULT_MIN_RECALL);
    expect(points.map((p) => p.rule)).toEqual(['argmax', 'prior-shift', 'fitted']);
    const [argmax, , fitted] = points;
    expect(argmax.recall[2]).toBe(0);
    expect(fitted.minRecall).toEqual({ class: 'mel', recall: 0.75, metOnValidation: true });
    expect(fitted.recall[2]!).toBeGreaterThan(0.5);
    expect(fitted.balancedAccuracy).toBeGreaterThan(argmax.balancedAccuracy);
    // The evaluated labels never reach the fit: relabel them and the weights stay.
    const relabelled = operatingPoints({ probs: test.probs, labels: test.labels.map(() => 1) }, validation, { classes: CLASSES, summary: SUMMARY, balance: 'none' as const }, DEFAULT_MIN_RECALL);
    expect(relabelled[2].weights).toEqual(fitted.weights);
    // Without the validation split there is nothing to fit.
    expect(operatingPoints(test, null, { classes: CLASSES, summary: SUMMARY, balance: 'none' as const }, null).map((p) => p.rule)).toEqual(['argmax', 'prior-shift']);
  });

  it("shifts by the prior the network learned: the training frequencies, or none after loss weights or balanced epochs", () => {
    const test = predictions(50, 4);
    const [argmax, shifted] = operatingPoints(test, null, { classes: CLASSES, summary: SUMMARY, balance: 'none' }, null);
    // w ∝ 1 / frequency, normalised to mean 1: counts 80, 15, 5.
    const raw = [1 / 80, 1 / 15, 1 / 5];
    expect(shifted.weights).toEqual(raw.map((w) => expect.closeTo((3 * w) / (raw[0] + raw[1] + raw[2]), 12)));
    for (const balance of ['weights', 'sampling'] as const) {
      const [, unshifted] = operatingPoints(test, null, { classes: CLASSES, summary: SUMMARY, balance }, null);
      expect(unshifted.weights).toEqual([1, 1, 1]);
      expect(unshifted.recall).toEqual(argmax.recall);
    }
  });

  it('refuses a floor on a class the run does not have', () => {
    const test = predictions(20, 3);
    expect(() => operatingPoints(test, test, { classes: CLASSES, summary: SUMMARY, balance: 'none' as const }, { class: 'melanoma', recall: 0.8 })).toThrow(
      "evaluateRun: minRecall.class must be one of the run's classes (a, b, mel); got 'melanoma'. Use e.g. { class: 'mel', recall: 0.75 }.",
    );
  });
});
