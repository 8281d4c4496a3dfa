import { ShapeError } from '../errors';
import { describe, invalidArgument } from '../validation';

/** Float guard for log(p): the smallest positive float32 normal, so −log p stays finite. */
export const PROBABILITY_FLOOR = 1.1754944e-38;

/**
 * Checks a matrix of per-example scores [N][C] (probabilities or logits) and integer labels [N]
 * in [0, C), as every metric takes them, and returns the number of classes.
 */
export function checkPredictions(who: string, scores: number[][], labels: number[], scoresName = 'probs'): number {
  const classes = checkScores(who, scores, scoresName);
  checkLabels(who, labels, scores.length, classes);
  return classes;
}

/** Checks a non-empty matrix [N][C] of finite numbers and returns C. */
export function checkScores(who: string, scores: number[][], scoresName = 'probs'): number {
  if (!Array.isArray(scores) || scores.length === 0 || !scores.every(Array.isArray)) {
    invalidArgument(who, scoresName, 'a non-empty array of rows [N][C]', scores);
  }
  const classes = scores[0].length;
  const badRow = scores.findIndex((row) => row.length !== classes || !row.every(Number.isFinite));
  if (classes === 0 || badRow >= 0) {
    const row = Math.max(badRow, 0);
    throw new ShapeError(
      `${who}: ${scoresName} must be rows of ${classes || 'at least one'} finite numbers; ` +
        `row ${row} is ${describe(scores[row])}. Give every example one finite score per class.`,
    );
  }
  return classes;
}

/** Checks integer labels in [0, classes), one per example. */
export function checkLabels(who: string, labels: number[], count: number, classes: number): void {
  if (!Array.isArray(labels) || labels.length !== count) {
    throw new ShapeError(
      `${who}: labels must have one entry per example (${count}); got ${Array.isArray(labels) ? labels.length : typeof labels}. ` +
        'Pass the labels of the same examples, in the same order.',
    );
  }
  const bad = labels.findIndex((label) => !Number.isInteger(label) || label < 0 || label >= classes);
  if (bad >= 0) invalidArgument(who, `labels[${bad}]`, `an integer class index in [0, ${classes - 1}]`, labels[bad]);
}

/** Index of the largest entry (the first one on ties, as argmax everywhere). */
export function argmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
