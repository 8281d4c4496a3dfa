import { ShapeError } from '../errors';
import { checkNumber, checkOptions, invalidArgument } from '../validation';
import { argmax, checkLabels, checkPredictions, checkScores, mean } from './checks';

/**
 * Decisions on top of a predictive distribution. The argmax of calibrated probabilities
 * maximises accuracy, which on HAM10000 means predicting the majority class (nv) whenever in
 * doubt; a screening user wants the rare, dangerous classes found. The principled answer keeps the
 * probabilities and changes the decision: the Bayes decision for a cost matrix (Duda, Hart &
 * Stork, Pattern Classification, 2nd ed., §2.2, eq. 12). Costs that charge w_i for missing class
 * i (and nothing for a hit) turn it into a weighted argmax, argmax_k w_k p_k; with
 * w = π_target / π_train it is also the prior-shift correction of the probabilities (Saerens,
 * Latinne & Decaestecker 2002, eq. 2.4). Isomorphic: plain arrays in and out.
 */

/**
 * The Bayes decision for each example: the class j minimising the expected cost
 * Σ_i p_i · costs[i][j], where costs[i][j] is the cost of deciding j when the truth is i
 * (Duda, Hart & Stork, §2.2, eq. 12). Ties go to the lowest class index, as argmax's.
 */
export function minimumExpectedCost(probs: number[][], costs: number[][]): number[] {
  const who = 'minimumExpectedCost';
  const classes = checkScores(who, probs);
  checkScores(who, costs, 'costs');
  if (costs.length !== classes || costs[0].length !== classes) {
    throw new ShapeError(
      `${who}: costs must be a ${classes}×${classes} matrix [true class][decided class], one row and column per class of probs; ` +
        `got ${costs.length}×${costs[0].length}. Give one cost per (true, decided) pair.`,
    );
  }
  return probs.map((row) => argmax(costs[0].map((_, j) => -row.reduce((sum, p, i) => sum + p * costs[i][j], 0))));
}

/**
 * argmax_k w_k p_k for each example: the Bayes decision when missing class i costs w_i and a hit
 * costs nothing (minimumExpectedCost with costs[i][j] = w_i for i ≠ j, 0 on the diagonal), and
 * the argmax of the prior-shifted probabilities when w = π_target / π_train.
 */
export function weightedDecisions(probs: number[][], weights: number[]): number[] {
  const classes = checkScores('weightedDecisions', probs);
  checkWeights('weightedDecisions', weights, classes);
  return probs.map((row) => argmax(row.map((p, k) => p * weights[k])));
}

/**
 * Class weights that move calibrated probabilities from the training prior π to a target prior:
 * w_k = target_k / π_k (Saerens et al. 2002, eq. 2.4). With the uniform target (the default) the
 * weighted argmax is the Bayes decision for balanced accuracy, where every class counts the same.
 * `trainCounts` are images per class (or priors: only ratios matter); the weights are scaled to
 * mean 1.
 */
export function priorShiftWeights(trainCounts: number[], targetPriors?: number[]): number[] {
  const who = 'priorShiftWeights';
  if (!Array.isArray(trainCounts) || trainCounts.length === 0 || !trainCounts.every((n) => Number.isFinite(n) && n > 0)) {
    invalidArgument(who, 'trainCounts', 'a non-empty array of positive counts (every class seen in training)', trainCounts, 'A class absent from training cannot be reweighted; drop it or add examples.');
  }
  const target = targetPriors ?? trainCounts.map(() => 1);
  checkWeights(who, target, trainCounts.length, 'targetPriors');
  const total = trainCounts.reduce((a, b) => a + b, 0);
  const raw = trainCounts.map((n, k) => target[k] / (n / total));
  const scale = mean(raw);
  return raw.map((w) => w / scale);
}

/** Options of `fitClassWeights`: a recall floor for one class and the search grid. */
export interface FitClassWeightsOptions {
  /** Require this class's recall on the fitting set to reach `recall` before balanced accuracy counts. Default: none. */
  minRecall?: { classIdx: number; recall: number };
  /** Where the search starts (e.g. priorShiftWeights). Default: all ones, the argmax. */
  initial?: number[];
  /** Largest |log w_k| searched. Default 3 (weights from e^-3 to e^3 times the start). */
  logRange?: number;
  /** Grid step in log w. Default 0.25: a coarse grid, since a finer one fits the fitting set's noise. */
  logStep?: number;
  /** Passes over the classes. Default 5. */
  rounds?: number;
}

/** What `fitClassWeights` returns: the weights and how they do on the fitting set. */
export interface ClassWeightsFit {
  weights: number[];
  /** Balanced accuracy of the weighted decisions on the fitting set. */
  balancedAccuracy: number;
  /** Per-class recall on the fitting set; null for a class absent from it. */
  recall: (number | null)[];
  /** Whether the recall floor was reached on the fitting set (true without one). */
  floorMet: boolean;
}

const FIT_KEYS = ['minRecall', 'initial', 'logRange', 'logStep', 'rounds'] as const;
const DEFAULT_LOG_RANGE = 3;
const DEFAULT_LOG_STEP = 0.25;
const DEFAULT_ROUNDS = 5;

/**
 * Per-class weights w for `weightedDecisions`, fitted on held-out predictions (a validation split,
 * never the test one) to maximise balanced accuracy, optionally subject to a recall floor for one
 * class. Coordinate ascent on log w over a grid, accepting only strict improvements, from
 * `initial` (default: the argmax): so on the fitting set the result is never worse than the start
 * (without a floor). Equivalent to per-class thresholds on p_k relative to the other classes.
 */
export function fitClassWeights(probs: number[][], labels: number[], options?: FitClassWeightsOptions): ClassWeightsFit {
  const who = 'fitClassWeights';
  const o = checkOptions(who, options, FIT_KEYS);
  const classes = checkPredictions(who, probs, labels);
  const floor = o.minRecall;
  if (floor !== undefined) {
    checkNumber(who, 'options.minRecall.classIdx', floor?.classIdx, { min: 0, max: classes - 1, integer: true });
    checkNumber(who, 'options.minRecall.recall', floor.recall, { min: 0, max: 1 });
    if (!labels.includes(floor.classIdx)) {
      invalidArgument(who, 'options.minRecall.classIdx', 'a class present in labels', floor.classIdx, 'Fit on a set holding examples of that class, or drop minRecall.');
    }
  }
  const initial = o.initial ?? new Array<number>(classes).fill(1);
  checkWeights(who, initial, classes, 'options.initial');
  const logRange = checkNumber(who, 'options.logRange', o.logRange ?? DEFAULT_LOG_RANGE, { min: 0, exclusiveMin: true });
  const logStep = checkNumber(who, 'options.logStep', o.logStep ?? DEFAULT_LOG_STEP, { min: 0, exclusiveMin: true, max: logRange });
  const rounds = checkNumber(who, 'options.rounds', o.rounds ?? DEFAULT_ROUNDS, { min: 1, integer: true });

  // Lexicographic: first reach the floor (more recall is better below it), then balanced accuracy.
  const score = (recall: (number | null)[]): number => {
    const balanced = mean(recall.filter((r): r is number => r !== null));
    if (floor === undefined || recall[floor.classIdx]! >= floor.recall) return balanced;
    return recall[floor.classIdx]! - 2;
  };
  const grid = Array.from({ length: 2 * Math.floor(logRange / logStep) + 1 }, (_, i) => (i - Math.floor(logRange / logStep)) * logStep);
  const logStart = initial.map(Math.log);
  const logWeights = [...logStart];
  let best = score(recalls(weightedDecisions(probs, initial), labels, classes));
  for (let round = 0; round < rounds; round++) {
    let moved = false;
    for (let k = 0; k < classes; k++) {
      for (const offset of grid) {
        const candidate = [...logWeights];
        candidate[k] = logStart[k] + offset;
        const value = score(recalls(weightedDecisions(probs, candidate.map(Math.exp)), labels, classes));
        if (value > best) {
          best = value;
          logWeights[k] = candidate[k];
          moved = true;
        }
      }
    }
    if (!moved) break;
  }
  const weights = logWeights.map(Math.exp);
  const recall = recalls(weightedDecisions(probs, weights), labels, classes);
  return {
    weights,
    balancedAccuracy: mean(recall.filter((r): r is number => r !== null)),
    recall,
    floorMet: floor === undefined || recall[floor.classIdx]! >= floor.recall,
  };
}

/** Hard decisions scored: accuracy, balanced accuracy, and recall and precision per class. */
export interface DecisionMetrics {
  accuracy: number;
  /** Mean recall over the classes present in the labels. */
  balancedAccuracy: number;
  /** Per class; null for a class absent from the labels. */
  recall: (number | null)[];
  /** Per class; null for a class never decided. */
  precision: (number | null)[];
  /** Counts [true class][decided class]. */
  confusionMatrix: number[][];
}

/** Scores hard decisions (class indices, e.g. from weightedDecisions) against the labels. */
export function decisionMetrics(decisions: number[], labels: number[], numClasses: number): DecisionMetrics {
  const who = 'decisionMetrics';
  checkNumber(who, 'numClasses', numClasses, { min: 1, integer: true });
  if (!Array.isArray(decisions) || decisions.length === 0) invalidArgument(who, 'decisions', 'a non-empty array of class indices', decisions);
  const bad = decisions.findIndex((d) => !Number.isInteger(d) || d < 0 || d >= numClasses);
  if (bad >= 0) invalidArgument(who, `decisions[${bad}]`, `an integer class index in [0, ${numClasses - 1}]`, decisions[bad]);
  checkLabels(who, labels, decisions.length, numClasses);
  const matrix = confusion(decisions, labels, numClasses);
  const recall = recallsOf(matrix);
  return {
    accuracy: mean(decisions.map((d, i) => (d === labels[i] ? 1 : 0))),
    balancedAccuracy: mean(recall.filter((r): r is number => r !== null)),
    recall,
    precision: matrix.map((_, c) => {
      const decided = matrix.reduce((sum, row) => sum + row[c], 0);
      return decided === 0 ? null : matrix[c][c] / decided;
    }),
    confusionMatrix: matrix,
  };
}

function confusion(decisions: number[], labels: number[], classes: number): number[][] {
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  decisions.forEach((d, i) => (matrix[labels[i]][d] += 1));
  return matrix;
}

function recallsOf(matrix: number[][]): (number | null)[] {
  return matrix.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? null : row[c] / total;
  });
}

function recalls(decisions: number[], labels: number[], classes: number): (number | null)[] {
  return recallsOf(confusion(decisions, labels, classes));
}

function checkWeights(who: string, weights: number[], classes: number, name = 'weights'): void {
  if (!Array.isArray(weights) || weights.length !== classes || !weights.every((w) => Number.isFinite(w) && w > 0)) {
    invalidArgument(who, name, `${classes} positive finite numbers, one per class`, weights, 'Give one positive weight per class.');
  }
}
