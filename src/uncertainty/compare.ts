import { ShapeError } from '../errors';
import { checkNumber, checkOptions, optionKeys } from '../validation';
import { Rng } from '../random';
import { binnedCalibration, calibration, DEFAULT_BINS, MAX_RESAMPLES } from './calibration';
import { checkPredictions } from './checks';
import { accuracy, brierScore, exampleTerms, negativeLogLikelihood } from './metrics';

/** Options of `comparePredictions`. */
export interface CompareOptions {
  /** Bootstrap resamples. Default 2000. */
  resamples?: number;
  /** Coverage of the intervals. Default 0.95. */
  level?: number;
  /** Seed of the resampling. Default 0. */
  seed?: number;
}

const COMPARE_OPTIONS = optionKeys<CompareOptions>({ resamples: true, level: true, seed: true });

/** One metric of two models on the same examples, and what the data say about their difference. */
export interface MetricDifference {
  a: number;
  b: number;
  /** a − b. */
  difference: number;
  /** Paired percentile bootstrap interval of a − b: when it excludes 0, so does the data. */
  interval: [number, number];
}

/** The result of `comparePredictions`. */
export interface Comparison {
  count: number;
  resamples: number;
  level: number;
  accuracy: MetricDifference;
  nll: MetricDifference;
  brier: MetricDifference;
  ece: MetricDifference;
}


/**
 * Two models' predictions of the same examples compared metric by metric, with a paired
 * bootstrap interval for each difference (Efron & Tibshirani 1993, §16): every resample draws
 * the same examples for both models, so what varies between examples cancels and a difference
 * smaller than either model's own sampling error can still be told from 0. The question it
 * answers: "is model A better calibrated (or more accurate) than B here, or is it chance?"
 */
export function comparePredictions(probsA: number[][], probsB: number[][], labels: number[], given: CompareOptions = {}): Comparison {
  const who = 'comparePredictions';
  const options = checkOptions(who, given, COMPARE_OPTIONS);
  const classes = checkPredictions(who, probsA, labels, 'probsA');
  if (!Array.isArray(probsB) || probsB.length !== probsA.length) {
    throw new ShapeError(
      `${who}: probsB must have one row per example of probsA (${probsA.length}); got ${Array.isArray(probsB) ? probsB.length : typeof probsB}. Compare predictions of the same examples, in the same order.`,
    );
  }
  checkPredictions(who, probsB, labels, 'probsB');
  if (probsB[0].length !== classes) {
    throw new ShapeError(`${who}: probsB must have as many classes as probsA (${classes}); got ${probsB[0].length}. Compare predictions of the same classes.`);
  }
  const resamples = checkNumber(who, 'options.resamples', options.resamples ?? 2000, { min: 1, max: MAX_RESAMPLES, integer: true });
  const level = checkNumber(who, 'options.level', options.level ?? 0.95, { min: 0, max: 1, exclusiveMin: true });
  const rng = new Rng(checkNumber(who, 'options.seed', options.seed ?? 0, { integer: true }), who);

  // Every metric is a function of per-example terms, so a resample only re-aggregates them.
  const terms = (probs: number[][]) => ({
    correct: probs.map((row, i) => exampleTerms.correct(row, labels[i])),
    nll: probs.map((row, i) => exampleTerms.nll(row, labels[i])),
    brier: probs.map((row, i) => exampleTerms.brier(row, labels[i])),
    confidence: probs.map((row) => Math.max(...row)),
  });
  const [termsA, termsB] = [terms(probsA), terms(probsB)];
  const n = labels.length;
  const resampled = { accuracy: [] as number[], nll: [] as number[], brier: [] as number[], ece: [] as number[] };
  const draw = new Uint32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) draw[i] = Math.floor(rng.next() * n);
    const meanOf = (values: number[]) => draw.reduce((sum, i) => sum + values[i], 0) / n;
    const eceOf = (t: typeof termsA) => binnedCalibration(Array.from(draw, (i) => t.confidence[i]), Array.from(draw, (i) => t.correct[i] === 1), DEFAULT_BINS).ece;
    resampled.accuracy.push(meanOf(termsA.correct) - meanOf(termsB.correct));
    resampled.nll.push(meanOf(termsA.nll) - meanOf(termsB.nll));
    resampled.brier.push(meanOf(termsA.brier) - meanOf(termsB.brier));
    resampled.ece.push(eceOf(termsA) - eceOf(termsB));
  }
  const tail = (1 - level) / 2;
  const difference = (a: number, b: number, differences: number[]): MetricDifference => {
    const sorted = differences.sort((x, y) => x - y);
    const at = (q: number) => sorted[Math.round(q * (resamples - 1))];
    return { a, b, difference: a - b, interval: [at(tail), at(1 - tail)] };
  };
  const ece = (probs: number[][]) => calibration(probs, labels, { bins: DEFAULT_BINS }).ece;
  return {
    count: n,
    resamples,
    level,
    accuracy: difference(accuracy(probsA, labels), accuracy(probsB, labels), resampled.accuracy),
    nll: difference(negativeLogLikelihood(probsA, labels), negativeLogLikelihood(probsB, labels), resampled.nll),
    brier: difference(brierScore(probsA, labels), brierScore(probsB, labels), resampled.brier),
    ece: difference(ece(probsA), ece(probsB), resampled.ece),
  };
}
