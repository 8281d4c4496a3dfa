import { checkNumber, checkOptions, invalidArgument } from '../validation';
import { argmax, checkPredictions } from './checks';
import { quantileOfSorted } from './density';

/**
 * When a prediction may be called confident, fitted on a validation split: a "confident" verdict
 * needs a clear margin between the top two classes AND a mutual information no higher than the
 * model shows on most images it knows. A fixed threshold (say 0.5 nats of entropy) would call
 * 55 % against 44 % "sharp"; these thresholds come with the accuracy they bought on real images.
 */
export interface ReferralThresholds {
  /**
   * The top class's mean probability must exceed the runner-up's by at least this; null when no
   * margin reached `targetAccuracy` on the fitting set (every image is referred).
   */
  margin: number | null;
  /** The mutual information (nats) above which an image is unlike those the model knows. */
  mutualInformation: number;
  /** The accuracy the confident images reached at least, on the fitting set. */
  targetAccuracy: number;
  /** What the thresholds did on the images they were fitted on. */
  fitted: ReferralOutcome;
}

/** How many images the thresholds call confident, and how many of those are right. */
export interface ReferralOutcome {
  images: number;
  /** Share of the images called confident. */
  keptShare: number;
  /** Accuracy on the images called confident; null when none is. */
  keptAccuracy: number | null;
}

/** Options of `fitReferral`. */
export interface FitReferralOptions {
  /** Accuracy the confident images must reach. Default 0.9. */
  targetAccuracy?: number;
  /** The mutual-information threshold is this quantile of the fitting set's. Default 0.95. */
  mutualInformationQuantile?: number;
}

/** Default accuracy a "confident" verdict must reach on the validation images it keeps. */
export const DEFAULT_TARGET_ACCURACY = 0.9;
/** Default quantile of the validation images' mutual information above which an image is referred. */
export const DEFAULT_MUTUAL_INFORMATION_QUANTILE = 0.95;
const OPTION_NAMES = ['targetAccuracy', 'mutualInformationQuantile'] as const;

/** The verdict on one image: confident or not, and why not. */
export interface ReferralVerdict {
  confident: boolean;
  /** Top class's mean probability minus the runner-up's. */
  margin: number;
  /** Why the image is referred: its margin is too small, or its mutual information too high; null when confident. */
  reason: 'margin' | 'mutualInformation' | null;
}

/**
 * Fits `ReferralThresholds` on validation predictions (mean probabilities, labels and mutual
 * information per image): the mutual-information threshold is a high quantile of the set's, and
 * the margin threshold the smallest one whose kept images (margin at least it, mutual information
 * at most its threshold) are right at least `targetAccuracy` of the time, so as many images as
 * possible are called confident at that accuracy (selective classification, Geifman & El-Yaniv
 * 2017, with the margin as the confidence score).
 */
export function fitReferral(probs: number[][], labels: number[], mutualInformation: number[], options?: FitReferralOptions): ReferralThresholds {
  const who = 'fitReferral';
  const opts = checkOptions(who, options, OPTION_NAMES);
  const targetAccuracy = checkNumber(who, 'options.targetAccuracy', opts.targetAccuracy ?? DEFAULT_TARGET_ACCURACY, { min: 0, max: 1, exclusiveMin: true });
  const level = checkNumber(who, 'options.mutualInformationQuantile', opts.mutualInformationQuantile ?? DEFAULT_MUTUAL_INFORMATION_QUANTILE, { min: 0, max: 1 });
  checkPredictions(who, probs, labels);
  if (!Array.isArray(mutualInformation) || mutualInformation.length !== probs.length || !mutualInformation.every(Number.isFinite)) {
    invalidArgument(who, 'mutualInformation', `${probs.length} finite numbers, one per image`, mutualInformation);
  }
  const miThreshold = quantileOfSorted([...mutualInformation].sort((a, b) => a - b), level);
  const candidates = probs
    .map((p, i) => ({ margin: marginOf(p), correct: argmax(p) === labels[i], mi: mutualInformation[i] }))
    .filter((image) => image.mi <= miThreshold)
    .sort((a, b) => b.margin - a.margin);
  let margin: number | null = null;
  let correct = 0;
  for (let k = 0; k < candidates.length; k++) {
    correct += candidates[k].correct ? 1 : 0;
    // Only between distinct margins: a threshold keeps every image of the margin it sits at.
    const boundary = k === candidates.length - 1 || candidates[k + 1].margin < candidates[k].margin;
    if (boundary && correct / (k + 1) >= targetAccuracy) margin = candidates[k].margin;
  }
  const thresholds = { margin, mutualInformation: miThreshold, targetAccuracy };
  return { ...thresholds, fitted: referralOutcome(probs, labels, mutualInformation, thresholds) };
}

/** The verdict of `thresholds` on one image's mean probabilities and mutual information. */
export function referralVerdict(probs: number[], mutualInformation: number, thresholds: Pick<ReferralThresholds, 'margin' | 'mutualInformation'>): ReferralVerdict {
  const margin = marginOf(probs);
  if (mutualInformation > thresholds.mutualInformation) return { confident: false, margin, reason: 'mutualInformation' };
  if (thresholds.margin === null || margin < thresholds.margin) return { confident: false, margin, reason: 'margin' };
  return { confident: true, margin, reason: null };
}

/** What `thresholds` do on a labelled set (the fitting set, or a test split to check them). */
export function referralOutcome(
  probs: number[][],
  labels: number[],
  mutualInformation: number[],
  thresholds: Pick<ReferralThresholds, 'margin' | 'mutualInformation'>,
): ReferralOutcome {
  const kept = probs.map((_, i) => i).filter((i) => referralVerdict(probs[i], mutualInformation[i], thresholds).confident);
  const right = kept.filter((i) => argmax(probs[i]) === labels[i]).length;
  return { images: probs.length, keptShare: probs.length === 0 ? 0 : kept.length / probs.length, keptAccuracy: kept.length === 0 ? null : right / kept.length };
}

/** Top probability minus the second: 1 for a one-hot prediction, 0 for a tie. */
function marginOf(probs: number[]): number {
  let [first, second] = [-Infinity, -Infinity];
  for (const p of probs) {
    if (p > first) [first, second] = [p, first];
    else if (p > second) second = p;
  }
  return probs.length < 2 ? 1 : first - second;
}
