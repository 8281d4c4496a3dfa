import { checkNumber, checkOptions, invalidArgument, optionKeys } from '../validation';
import { Rng } from '../random';
import { argmax, checkPredictions, checkScores, mean } from './checks';
import { negativeLogLikelihood } from './metrics';

/** One bin of the reliability diagram: the examples whose top-class confidence falls in it. */
export interface CalibrationBin {
  /** The bin holds confidences in (lower, upper]; the first bin also holds 0. */
  lower: number;
  /** Upper edge of the bin, included. */
  upper: number;
  /** Number of examples in the bin. */
  count: number;
  /** Mean confidence (top-class probability) in the bin; 0 for an empty bin. */
  confidence: number;
  /** Accuracy in the bin; 0 for an empty bin. */
  accuracy: number;
}

/** The result of `calibration`: summary errors and the reliability diagram they come from. */
export interface Calibration {
  /** Expected calibration error: Σ_b (n_b / N) |accuracy_b − confidence_b|. */
  ece: number;
  /** Maximum calibration error: max over non-empty bins of |accuracy_b − confidence_b|. */
  mce: number;
  /** The reliability diagram's data. */
  bins: CalibrationBin[];
}

/** Options of `calibration`. */
export interface CalibrationOptions {
  /** Equal-width confidence bins. Default `DEFAULT_BINS` (15). */
  bins?: number;
}

/** Guo et al. 2017's choice; `comparePredictions` uses it too, so the ECE compared is the one reported. */
export const DEFAULT_BINS = 15;
/** Far more bins than any reliability diagram needs, and an array that always fits in memory. */
const MAX_BINS = 100_000;

/**
 * Expected and maximum calibration error over equal-width confidence bins, with the data of the
 * reliability diagram (Naeini et al. 2015; Guo et al. 2017, "On Calibration of Modern Neural
 * Networks", §2, which uses 15 bins).
 */
export function calibration(probs: number[][], labels: number[], options: CalibrationOptions = {}): Calibration {
  const who = 'calibration';
  checkPredictions(who, probs, labels);
  const binCount = checkBins(who, checkOptions(who, options, ['bins']).bins);
  const predicted = probs.map(argmax);
  return binnedCalibration(
    predicted.map((c, i) => probs[i][c]),
    predicted.map((c, i) => c === labels[i]),
    binCount,
  );
}

function checkBins(who: string, bins: number | undefined): number {
  const binCount = checkNumber(who, 'options.bins', bins ?? DEFAULT_BINS, { min: 1, integer: true });
  if (binCount > MAX_BINS) invalidArgument(who, 'options.bins', `at most ${MAX_BINS}`, binCount);
  return binCount;
}

/** The reliability diagram and its errors from each example's top-class confidence and whether that class was right. */
export function binnedCalibration(confidences: readonly number[], correct: readonly boolean[], binCount: number): Calibration {
  const sums = Array.from({ length: binCount }, () => ({ count: 0, confidence: 0, correct: 0 }));
  confidences.forEach((confidence, i) => {
    const bin = sums[Math.min(Math.max(Math.ceil(confidence * binCount) - 1, 0), binCount - 1)];
    bin.count += 1;
    bin.confidence += confidence;
    bin.correct += correct[i] ? 1 : 0;
  });
  const bins = sums.map(({ count, confidence, correct }, b) => ({
    lower: b / binCount,
    upper: (b + 1) / binCount,
    count,
    confidence: count > 0 ? confidence / count : 0,
    accuracy: count > 0 ? correct / count : 0,
  }));
  const gaps = bins.filter((bin) => bin.count > 0).map((bin) => ({ weight: bin.count / confidences.length, gap: Math.abs(bin.accuracy - bin.confidence) }));
  return {
    ece: gaps.reduce((sum, { weight, gap }) => sum + weight * gap, 0),
    mce: Math.max(...gaps.map(({ gap }) => gap)),
    bins,
  };
}

/** Options of `calibrationNoise`. */
export interface CalibrationNoiseOptions {
  /** Resamples drawn. Default 1000. */
  resamples?: number;
  /** Bins, as in `calibration`. Default 15. */
  bins?: number;
  /** Seed of the draws. Default 0. */
  seed?: number;
}

/** The result of `calibrationNoise`: the ECE a perfectly calibrated model would show on these examples. */
export interface CalibrationNoise {
  /** Mean ECE over the resamples: the upward bias of the ECE estimate at this sample size. */
  mean: number;
  /** Its 95th percentile: an ECE below it cannot be told from perfect calibration. */
  upper: number;
  resamples: number;
}

/** Far more resamples than any interval needs, and a bound on the time a typo can cost. */
export const MAX_RESAMPLES = 1_000_000;
const NOISE_QUANTILE = 0.95;
const NOISE_OPTIONS = optionKeys<CalibrationNoiseOptions>({ bins: true, resamples: true, seed: true });

/**
 * How large the ECE of these predictions would be if they were perfectly calibrated
 * (consistency resampling, Bröcker & Smith 2007): each resample keeps every example's top-class
 * confidence and draws whether it was right with that probability. ECE is biased upwards on
 * finite data (a calibrated model on 1,000 examples scores about 0.02, not 0), so an ECE, or the
 * difference between two, means little until it clears this noise.
 */
export function calibrationNoise(probs: number[][], given: CalibrationNoiseOptions = {}): CalibrationNoise {
  const who = 'calibrationNoise';
  const options = checkOptions(who, given, NOISE_OPTIONS);
  checkScores(who, probs);
  const binCount = checkBins(who, options.bins);
  const resamples = checkNumber(who, 'options.resamples', options.resamples ?? 1000, { min: 1, max: MAX_RESAMPLES, integer: true });
  const rng = new Rng(checkNumber(who, 'options.seed', options.seed ?? 0, { integer: true }), who);
  const confidences = probs.map((row) => Math.max(...row));
  const eces = Array.from({ length: resamples }, () => binnedCalibration(confidences, confidences.map((c) => rng.next() < c), binCount).ece).sort((a, b) => a - b);
  return { mean: mean(eces), upper: eces[Math.min(resamples - 1, Math.ceil(NOISE_QUANTILE * resamples) - 1)], resamples };
}

/** Temperatures searched by fitTemperature: beyond these a model is no longer worth rescaling. */
const TEMPERATURE_RANGE: [number, number] = [1e-2, 1e2];
const BISECTION_STEPS = 100;

/** The result of `fitTemperature`: the temperature and the validation NLL it buys. */
export interface TemperatureFit {
  /** T > 0: divide the logits by it before the softmax (T > 1 softens an over-confident model). */
  temperature: number;
  /** NLL of softmax(logits), before scaling, in nats. */
  nllBefore: number;
  /** NLL of softmax(logits / temperature), in nats. */
  nllAfter: number;
}

/**
 * Temperature scaling (Guo et al. 2017, §4.2): the single T > 0 that minimises the NLL of
 * softmax(z / T) on a validation split, the usual calibration baseline. The NLL is convex in
 * β = 1/T (a log-sum-exp minus a linear term), so the optimum is the root of its derivative
 * mean_i(E_{softmax(βz_i)}[z_i] − z_{i,y_i}), found by bisection on log β.
 */
export function fitTemperature(logits: number[][], labels: number[]): TemperatureFit {
  checkPredictions('fitTemperature', logits, labels, 'logits');
  const slope = (beta: number): number =>
    mean(logits.map((row, i) => softmax(row, beta).reduce((sum, p, c) => sum + p * row[c], 0) - row[labels[i]]));
  let low = Math.log(1 / TEMPERATURE_RANGE[1]);
  let high = Math.log(1 / TEMPERATURE_RANGE[0]);
  for (let step = 0; step < BISECTION_STEPS; step++) {
    const middle = (low + high) / 2;
    if (slope(Math.exp(middle)) < 0) low = middle;
    else high = middle;
  }
  const temperature = 1 / Math.exp((low + high) / 2);
  return {
    temperature,
    nllBefore: negativeLogLikelihood(applyTemperature(logits, 1), labels),
    nllAfter: negativeLogLikelihood(applyTemperature(logits, temperature), labels),
  };
}

/** softmax(z / temperature) per row. */
export function applyTemperature(logits: number[][], temperature: number): number[][] {
  checkScores('applyTemperature', logits, 'logits');
  checkNumber('applyTemperature', 'temperature', temperature, { min: 0, exclusiveMin: true });
  return logits.map((row) => softmax(row, 1 / temperature));
}

/** softmax(β z), shifted by the maximum so exp never overflows. */
function softmax(row: number[], beta: number): number[] {
  const top = Math.max(...row);
  // The top logit's term is exp(0) = 1 for any β: written out, since β = ∞ (a denormal temperature) gives ∞ · 0 = NaN.
  const exps = row.map((z) => (z === top ? 1 : Math.exp(beta * (z - top))));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}
