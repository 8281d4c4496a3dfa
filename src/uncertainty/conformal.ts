import { ShapeError } from '../errors';
import { SeedStream } from '../random';
import { checkLabels, checkPredictions, checkScores, mean } from './checks';
import { checkBoolean, checkNumber, checkOneOf, checkOptions, invalidArgument, optionKeys } from '../validation';

/** The conformity score that orders classes into sets: APS, or RAPS with its size penalty. */
export type ConformalScore = 'aps' | 'raps';

/** Options of `ConformalClassifier`: the error rate to guarantee and the score to calibrate. */
export interface ConformalOptions {
  /** Error rate α in (0, 1): the sets contain the true class with probability ≥ 1 − α. */
  alpha: number;
  /** `'aps'` (default, Romano et al. 2020) or `'raps'`, which penalises long sets (Angelopoulos et al. 2021). */
  score?: ConformalScore;
  /** RAPS: penalty per class beyond the kReg most probable. Default 0.01. */
  lambda?: number;
  /** RAPS: number of classes admitted without penalty. Default 1. */
  kReg?: number;
  /**
   * Randomise the scores with a uniform U per example, which makes coverage exactly 1 − α on
   * average instead of at least 1 − α. Default true.
   */
  randomized?: boolean;
  /** Seed of the randomisation, for reproducible sets. Default: fresh randomness. */
  seed?: number;
}

const DEFAULT_LAMBDA = 0.01;
const CONFORMAL_OPTIONS = optionKeys<ConformalOptions>({ alpha: true, score: true, lambda: true, kReg: true, randomized: true, seed: true });
const DEFAULT_K_REG = 1;
const UINT32_RANGE = 2 ** 32;

/**
 * Split conformal prediction sets: calibrated on held-out (probabilities, labels) at error rate α,
 * they return for each image a set of classes containing the true class with probability ≥ 1 − α,
 * whatever the model (given calibration and test images exchangeable). Sets hold the most
 * probable classes in order until the cumulative (APS) or penalised cumulative (RAPS) score passes
 * the calibrated threshold; the top class is always included. A better model gives smaller sets.
 *
 * References: Romano, Sesia & Candès 2020, "Classification with Valid and Adaptive Coverage" (APS);
 * Angelopoulos, Bates, Malik & Jordan 2021, "Uncertainty Sets for Image Classifiers using
 * Conformal Prediction", Algorithm 2 (RAPS).
 */
export class ConformalClassifier {
  /** The calibrated score quantile: a class is in the set while its score is at most this. */
  readonly threshold: number;
  readonly alpha: number;
  readonly score: ConformalScore;
  readonly lambda: number;
  readonly kReg: number;
  readonly randomized: boolean;
  readonly seed: number | undefined;
  private readonly classes: number;

  private constructor(options: Required<Omit<ConformalOptions, 'seed'>> & { seed?: number; threshold: number; classes: number }) {
    ({
      threshold: this.threshold,
      alpha: this.alpha,
      score: this.score,
      lambda: this.lambda,
      kReg: this.kReg,
      randomized: this.randomized,
      seed: this.seed,
      classes: this.classes,
    } = options);
  }

  /** Calibrates on a held-out split the model never trained on. */
  static calibrate(probs: number[][], labels: number[], options: ConformalOptions): ConformalClassifier {
    const who = 'ConformalClassifier.calibrate';
    const classes = checkPredictions(who, probs, labels);
    if (options === undefined) invalidArgument(who, 'options', 'an object with alpha', options);
    checkOptions(who, options, CONFORMAL_OPTIONS);
    const alpha = checkNumber(who, 'options.alpha', options.alpha, { min: 0, max: 1, exclusiveMin: true });
    if (alpha >= 1) invalidArgument(who, 'options.alpha', 'a number > 0 and < 1', alpha);
    const settings = {
      alpha,
      score: checkOneOf(who, 'options.score', options.score ?? 'aps', ['aps', 'raps']),
      lambda: checkNumber(who, 'options.lambda', options.lambda ?? DEFAULT_LAMBDA, { min: 0 }),
      kReg: checkNumber(who, 'options.kReg', options.kReg ?? DEFAULT_K_REG, { min: 0, integer: true }),
      randomized: checkBoolean(who, 'options.randomized', options.randomized ?? true),
      seed: options.seed === undefined ? undefined : checkNumber(who, 'options.seed', options.seed, { integer: true }),
    };
    const uniform = uniformSource(settings, 'calibrate');
    const scores = probs.map((row, i) => {
      const u = uniform();
      const ranked = rankClasses(row);
      return scoreAt(settings, row, ranked, ranked.indexOf(labels[i]), u);
    });
    // The ⌈(n + 1)(1 − α)⌉-th smallest score, the finite-sample-valid quantile (Angelopoulos & Bates
    // 2021, "A Gentle Introduction to Conformal Prediction", §1): too few examples for α give every class.
    const rank = Math.ceil((probs.length + 1) * (1 - alpha));
    const threshold = rank > probs.length ? Infinity : [...scores].sort((a, b) => a - b)[rank - 1];
    return new ConformalClassifier({ ...settings, threshold, classes });
  }

  /** The prediction set of each row of `probs`: class indices, most probable first. */
  predictSets(probs: number[][]): number[][] {
    const who = 'ConformalClassifier.predictSets';
    const classes = checkScores(who, probs);
    if (classes !== this.classes) {
      throw new ShapeError(`${who}: probs must have ${this.classes} columns, as at calibration; got ${classes}. Use the same model and classes.`);
    }
    const uniform = uniformSource(this, 'predict');
    return probs.map((row) => {
      const u = uniform();
      const ranked = rankClasses(row);
      let size = 1;
      while (size < ranked.length && scoreAt(this, row, ranked, size, u) <= this.threshold) size++;
      return ranked.slice(0, size);
    });
  }
}

/**
 * The conformity score of the class at `position` in the ranking (0 = most probable):
 * Σ_{i < j} p_(i) + u · p_(j) + λ (j + 1 − k_reg)⁺, the RAPS score of Angelopoulos et al. 2021, §2;
 * with λ = 0 it is the APS score of Romano et al. 2020. Without randomisation u = 1. It grows with
 * the position (by u·p_(j) + (1 − u)·p_(j+1) ≥ 0 a step), so a set is a prefix of the ranking.
 */
function scoreAt(
  settings: Pick<ConformalOptions, 'score' | 'lambda' | 'kReg' | 'randomized'>,
  row: number[],
  ranked: number[],
  position: number,
  u: number,
): number {
  let above = 0;
  for (let i = 0; i < position; i++) above += row[ranked[i]];
  const own = (settings.randomized ? u : 1) * row[ranked[position]];
  const penalty = settings.score === 'raps' ? settings.lambda! * Math.max(0, position + 1 - settings.kReg!) : 0;
  return above + own + penalty;
}

/** Class indices by decreasing probability, ties by index. */
function rankClasses(row: number[]): number[] {
  return row.map((_, cls) => cls).sort((a, b) => row[b] - row[a] || a - b);
}

/** Uniforms in [0, 1) from the seed (reproducible), or Math.random without one. */
function uniformSource({ seed }: { seed?: number }, salt: string): () => number {
  if (seed === undefined) return Math.random;
  const seeds = new SeedStream(seed, `ConformalClassifier:${salt}`);
  return () => seeds.next()! / UINT32_RANGE;
}

/** Empirical coverage (fraction of sets holding the label) and mean set size. */
export function setMetrics(sets: number[][], labels: number[]): { coverage: number; meanSetSize: number } {
  const who = 'setMetrics';
  if (!Array.isArray(sets) || sets.length === 0 || !sets.every(Array.isArray)) {
    invalidArgument(who, 'sets', 'a non-empty array of class-index arrays', sets);
  }
  checkLabels(who, labels, sets.length, Infinity);
  return {
    coverage: mean(sets.map((set, i) => (set.includes(labels[i]) ? 1 : 0))),
    meanSetSize: mean(sets.map((set) => set.length)),
  };
}
