import { DataError, ShapeError } from '../errors';
import { checkNumber } from '../validation';
import { PROBABILITY_FLOOR, argmax, checkPredictions, mean } from './checks';

/** Metrics on plain arrays: `probs` [N][C] class probabilities, `labels` [N] class indices. */

/** The per-example terms whose means are accuracy, NLL and Brier score (comparePredictions resamples them). */
export const exampleTerms = {
  correct: (row: number[], label: number): number => (argmax(row) === label ? 1 : 0),
  nll: (row: number[], label: number): number => -Math.log(Math.max(row[label], PROBABILITY_FLOOR)),
  brier: (row: number[], label: number): number => row.reduce((sum, p, cls) => sum + (p - (cls === label ? 1 : 0)) ** 2, 0),
};

/** Fraction of examples whose most probable class is the label. */
export function accuracy(probs: number[][], labels: number[]): number {
  checkPredictions('accuracy', probs, labels);
  return mean(probs.map((row, i) => exampleTerms.correct(row, labels[i])));
}

/** Mean over the classes present in `labels` of their recall: accuracy that a majority class cannot inflate. */
export function balancedAccuracy(probs: number[][], labels: number[]): number {
  const classes = checkPredictions('balancedAccuracy', probs, labels);
  const matrix = confusionMatrix(probs, labels, classes);
  const recalls = matrix.flatMap((row, cls) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total > 0 ? [row[cls] / total] : [];
  });
  return mean(recalls);
}

/** Mean −log p(label), in nats; probabilities are floored so a confident mistake costs ~87 nats, not Infinity. */
export function negativeLogLikelihood(probs: number[][], labels: number[]): number {
  checkPredictions('negativeLogLikelihood', probs, labels);
  return mean(probs.map((row, i) => exampleTerms.nll(row, labels[i])));
}

/** Brier 1950: mean over examples of Σ_c (p_c − 1[c = label])², in [0, 2]. */
export function brierScore(probs: number[][], labels: number[]): number {
  checkPredictions('brierScore', probs, labels);
  return mean(probs.map((row, i) => exampleTerms.brier(row, labels[i])));
}

/** Counts [true class][predicted class]. */
export function confusionMatrix(probs: number[][], labels: number[], numClasses: number): number[][] {
  const who = 'confusionMatrix';
  const classes = checkPredictions(who, probs, labels);
  checkNumber(who, 'numClasses', numClasses, { min: 1, integer: true });
  if (classes !== numClasses) {
    throw new ShapeError(`${who}: probs must have numClasses (${numClasses}) columns; got ${classes}. Pass the model's number of classes.`);
  }
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  probs.forEach((row, i) => (matrix[labels[i]][argmax(row)] += 1));
  return matrix;
}

/** The result of `rocAuc`: one-vs-rest AUC per class and their macro average. */
export interface RocAuc {
  /** One-vs-rest AUC per class; null for a class with no positive or no negative example. */
  perClass: Array<number | null>;
  /** Unweighted mean over the classes where the AUC is defined. */
  macro: number;
}

/**
 * One-vs-rest ROC AUC per class, computed exactly as the Mann–Whitney U statistic:
 * AUC = P(score of a positive > score of a negative) + ½ P(tie) (Hanley & McNeil 1982).
 */
export function rocAuc(probs: number[][], labels: number[]): RocAuc {
  const classes = checkPredictions('rocAuc', probs, labels);
  const perClass = Array.from({ length: classes }, (_, cls) =>
    binaryAuc(
      probs.map((row) => row[cls]),
      labels.map((label) => label === cls),
    ),
  );
  const defined = perClass.filter((auc): auc is number => auc !== null);
  if (defined.length === 0) {
    throw new DataError('rocAuc: labels must contain at least two classes; got a single one. Evaluate on a set with several classes.');
  }
  return { perClass, macro: mean(defined) };
}

/** AUC from midranks: (Σ ranks of positives − n₊(n₊ + 1)/2) / (n₊ n₋), ties sharing their average rank. */
function binaryAuc(scores: number[], positive: boolean[]): number | null {
  const order = scores.map((score, i) => ({ score, positive: positive[i] })).sort((a, b) => a.score - b.score);
  const positives = positive.filter(Boolean).length;
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return null;
  let rankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1].score === order[start].score) end++;
    const midrank = (start + end) / 2 + 1;
    for (let i = start; i <= end; i++) if (order[i].positive) rankSum += midrank;
    start = end + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** The accuracy-coverage curve of `accuracyCoverage`, point k keeping the k most certain examples. */
export interface AccuracyCoverage {
  /** Fraction of examples kept: k / N for k = 1..N. */
  coverage: number[];
  /** Accuracy on the k most certain examples, the other N − k being referred to a doctor. */
  accuracy: number[];
  /** Area under the curve, (1/N) Σ_k accuracy_k: higher when the mistakes are the most uncertain examples. */
  area: number;
}

/**
 * The accuracy-coverage (accuracy-rejection) curve of selective prediction: sort examples by
 * `uncertainty` (predictive entropy, mutual information, ...), keep the most certain fraction, refer
 * the rest. A good uncertainty gives an accuracy that rises as coverage falls. The area is the
 * mean accuracy over all coverages (the complement of Geifman et al. 2018's AURC).
 */
export function accuracyCoverage(probs: number[][], labels: number[], uncertainty: number[]): AccuracyCoverage {
  const who = 'accuracyCoverage';
  checkPredictions(who, probs, labels);
  if (!Array.isArray(uncertainty) || uncertainty.length !== probs.length || !uncertainty.every(Number.isFinite)) {
    throw new ShapeError(
      `${who}: uncertainty must hold one finite number per example (${probs.length}); got ${Array.isArray(uncertainty) ? uncertainty.length : typeof uncertainty}. ` +
        'Pass e.g. the predictive entropy of the same examples.',
    );
  }
  // Most certain first; ties keep the input order, so the curve is reproducible.
  const order = uncertainty.map((value, index) => ({ value, index })).sort((a, b) => a.value - b.value || a.index - b.index);
  const coverage: number[] = [];
  const curve: number[] = [];
  let correct = 0;
  order.forEach(({ index }, k) => {
    correct += argmax(probs[index]) === labels[index] ? 1 : 0;
    coverage.push((k + 1) / order.length);
    curve.push(correct / (k + 1));
  });
  return { coverage, accuracy: curve, area: mean(curve) };
}
