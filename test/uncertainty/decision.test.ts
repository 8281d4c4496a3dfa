import { ArgumentError, ShapeError } from '../../src/errors';
import { Rng } from '../../src/random';
import { balancedAccuracy, accuracy } from '../../src/uncertainty/metrics';
import {
  decisionMetrics,
  fitClassWeights,
  minimumExpectedCost,
  priorShiftWeights,
  weightedDecisions,
} from '../../src/uncertainty/decision';

/**
 * Three classes with 1-D Gaussian likelihoods N(mean_k, 1) and imbalanced priors: the exact
 * posteriors are known, so the Bayes rules are known. Argmax of the posterior maximises
 * accuracy; argmax of the likelihood (posterior / prior) maximises balanced accuracy.
 */
const MEANS = [0, 1.5, 3];
const PRIORS = [0.8, 0.15, 0.05];

function sample(count: number, seed: number, priors = PRIORS) {
  const rng = new Rng(seed, 'decision-test');
  const labels: number[] = [];
  const likelihoods: number[][] = [];
  for (let i = 0; i < count; i++) {
    const u = rng.next();
    const label = u < priors[0] ? 0 : u < priors[0] + priors[1] ? 1 : 2;
    const x = MEANS[label] + rng.normal();
    labels.push(label);
    likelihoods.push(MEANS.map((m) => Math.exp(-((x - m) ** 2) / 2)));
  }
  const posteriors = likelihoods.map((row) => {
    const joint = row.map((l, k) => l * PRIORS[k]);
    const total = joint.reduce((a, b) => a + b, 0);
    return joint.map((j) => j / total);
  });
  return { labels, likelihoods, posteriors };
}

function randomProbs(count: number, classes: number, seed: number): number[][] {
  const rng = new Rng(seed, 'random-probs');
  return Array.from({ length: count }, () => {
    const raw = Array.from({ length: classes }, () => rng.next() ** 3);
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((r) => r / total);
  });
}

const argmaxOf = (row: number[]) => row.indexOf(Math.max(...row));

describe('minimumExpectedCost and weightedDecisions', () => {
  it('0-1 costs give the argmax', () => {
    const probs = randomProbs(200, 4, 1);
    const zeroOne = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? 0 : 1)));
    expect(minimumExpectedCost(probs, zeroOne)).toEqual(probs.map(argmaxOf));
  });

  it('a weighted argmax is the Bayes decision when missing class i costs w_i', () => {
    const probs = randomProbs(300, 4, 2);
    const weights = [0.3, 1, 2.5, 7];
    const costs = weights.map((w, i) => weights.map((_, j) => (i === j ? 0 : w)));
    const decisions = weightedDecisions(probs, weights);
    expect(decisions).toEqual(minimumExpectedCost(probs, costs));
    // The weights change decisions here: the property is not the argmax's by accident.
    expect(decisions).not.toEqual(probs.map(argmaxOf));
  });

  it('refuses a cost matrix of the wrong size and non-positive weights, naming the fix', () => {
    const probs = randomProbs(5, 3, 3);
    expect(() => minimumExpectedCost(probs, [[0, 1], [1, 0]])).toThrow(
      new ShapeError('minimumExpectedCost: costs must be a 3×3 matrix [true class][decided class], one row and column per class of probs; got 2×2. Give one cost per (true, decided) pair.'),
    );
    expect(() => weightedDecisions(probs, [1, 0, 1])).toThrow(ArgumentError);
    expect(() => weightedDecisions(probs, [1, 0, 1])).toThrow(/^weightedDecisions: weights must be 3 positive finite numbers, one per class; got .*Give one positive weight per class\.$/);
  });
});

describe('priorShiftWeights', () => {
  it('turns calibrated posteriors into the likelihood rule: the Bayes rule for balanced accuracy', () => {
    const { posteriors, likelihoods } = sample(2000, 4);
    const weights = priorShiftWeights(PRIORS.map((p) => p * 1000));
    expect(weightedDecisions(posteriors, weights)).toEqual(likelihoods.map(argmaxOf));
    expect(weights.reduce((a, b) => a + b, 0) / weights.length).toBeCloseTo(1, 12);
    // A target prior: the weights are target / train, up to the common scale.
    const shifted = priorShiftWeights([8, 1, 1], [1, 1, 2]);
    expect(shifted[2] / shifted[0]).toBeCloseTo(16, 12);
    expect(shifted[1] / shifted[0]).toBeCloseTo(8, 12);
  });

  it('refuses a class never seen in training', () => {
    expect(() => priorShiftWeights([5, 0, 3])).toThrow(
      /^priorShiftWeights: trainCounts must be a non-empty array of positive counts \(every class seen in training\); got .*A class absent from training cannot be reweighted/,
    );
  });
});

describe('fitClassWeights', () => {
  it('fitted on one sample, recovers the Bayes rule for balanced accuracy on another', () => {
    const fitting = sample(6000, 5);
    const fresh = sample(6000, 6);
    const fit = fitClassWeights(fitting.posteriors, fitting.labels);
    const bayes = decisionMetrics(fresh.likelihoods.map(argmaxOf), fresh.labels, 3).balancedAccuracy;
    const fitted = decisionMetrics(weightedDecisions(fresh.posteriors, fit.weights), fresh.labels, 3).balancedAccuracy;
    const argmaxRule = balancedAccuracy(fresh.posteriors, fresh.labels);
    expect(bayes - argmaxRule).toBeGreaterThan(0.1);
    expect(Math.abs(fitted - bayes)).toBeLessThan(0.015);
    // The fitted weights rank the classes as 1 / prior does.
    expect(fit.weights[2]).toBeGreaterThan(fit.weights[1]);
    expect(fit.weights[1]).toBeGreaterThan(fit.weights[0]);
  });

  it('never does worse than its start on the fitting set', () => {
    for (const seed of [7, 8, 9]) {
      const probs = randomProbs(150, 5, seed);
      const labels = new Rng(seed, 'labels').shuffle(Array.from({ length: 150 }, (_, i) => i % 5));
      const fit = fitClassWeights(probs, labels);
      expect(fit.balancedAccuracy).toBeGreaterThanOrEqual(balancedAccuracy(probs, labels));
      const start = priorShiftWeights([5, 4, 3, 2, 1]);
      const fromPrior = fitClassWeights(probs, labels, { initial: start });
      const startScore = decisionMetrics(weightedDecisions(probs, start), labels, 5).balancedAccuracy;
      expect(fromPrior.balancedAccuracy).toBeGreaterThanOrEqual(startScore);
    }
  });

  it('meets a recall floor on the fitting set, trading balanced accuracy for it', () => {
    const { posteriors, labels } = sample(3000, 10);
    const free = fitClassWeights(posteriors, labels);
    const floored = fitClassWeights(posteriors, labels, { minRecall: { classIdx: 2, recall: 0.97 } });
    expect(free.recall[2]!).toBeLessThan(0.97);
    expect(floored.floorMet).toBe(true);
    expect(floored.recall[2]!).toBeGreaterThanOrEqual(0.97);
    expect(floored.balancedAccuracy).toBeLessThanOrEqual(free.balancedAccuracy);
    const recomputed = decisionMetrics(weightedDecisions(posteriors, floored.weights), labels, 3);
    expect(recomputed.recall).toEqual(floored.recall);
  });

  it('refuses unknown options, naming the nearest, and a floor class absent from the labels', () => {
    const probs = randomProbs(10, 3, 11);
    const labels = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
    expect(() => fitClassWeights(probs, labels, { minRecal: 1 } as never)).toThrow(/^fitClassWeights: options has unknown 'minRecal'; did you mean 'minRecal' → 'minRecall'\?/);
    expect(() => fitClassWeights(probs, labels, { minRecall: { classIdx: 2, recall: 0.5 } })).toThrow(
      /^fitClassWeights: options\.minRecall\.classIdx must be a class present in labels; got 2\. Fit on a set holding examples of that class, or drop minRecall\.$/,
    );
  });
});

describe('decisionMetrics', () => {
  it('agrees with the probability metrics on argmax decisions', () => {
    const probs = randomProbs(400, 4, 12);
    const labels = new Rng(12, 'labels').shuffle(Array.from({ length: 400 }, (_, i) => (i * 7) % 4));
    const metrics = decisionMetrics(probs.map(argmaxOf), labels, 4);
    expect(metrics.accuracy).toBeCloseTo(accuracy(probs, labels), 12);
    expect(metrics.balancedAccuracy).toBeCloseTo(balancedAccuracy(probs, labels), 12);
    expect(metrics.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(400);
  });

  it('gives null recall for an absent class and null precision for a class never decided', () => {
    const metrics = decisionMetrics([0, 0, 1, 1], [0, 1, 1, 1], 3);
    expect(metrics.recall).toEqual([1, 2 / 3, null]);
    expect(metrics.precision).toEqual([0.5, 1, null]);
    expect(metrics.balancedAccuracy).toBeCloseTo(5 / 6, 12);
  });
});
