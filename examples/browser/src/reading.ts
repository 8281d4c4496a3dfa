/**
 * A plain-language reading of one image's uncertainty (docs/guides/reading-uncertainty.md). A
 * "confident" verdict needs a clear margin between the top two classes and a mutual information
 * no higher than the model shows on images it knows (`referralVerdict`); the thresholds come from
 * the run's validation split when `ham10000 evaluate` fitted them (RUN/referral.json), and the page
 * says where they came from.
 */
import { referralVerdict, type ReferralThresholds } from '../../../src';

/** The thresholds the page applies, and the sentence that says where they came from. */
export interface ReadingThresholds {
  /** A confident verdict needs the top class to lead the runner-up by at least this; null: never confident. */
  margin: number | null;
  /** Above this mutual information (nats) the image is unlike those the model knows. */
  mutualInformation: number;
  source: string;
}

/** RUN/referral.json as `ham10000 evaluate` writes it. */
export type ReferralFile = ReferralThresholds & { fittedOn: string; samples: number };

const percent = (value: number) => `${(100 * value).toFixed(0)} %`;

/** The fitted thresholds of a run, with their provenance. */
export function fittedThresholds(file: ReferralFile): ReadingThresholds {
  const { fitted } = file;
  const outcome =
    file.margin === null
      ? `no margin reached ${percent(file.targetAccuracy)} accuracy there, so every image is referred`
      : `they called ${percent(fitted.keptShare)} of its images confident, ${percent(fitted.keptAccuracy ?? 0)} of them right (target ${percent(file.targetAccuracy)})`;
  return {
    margin: file.margin,
    mutualInformation: file.mutualInformation,
    source: `Thresholds fitted by ham10000 evaluate on the run's ${file.fittedOn} split (${fitted.images} images, ${file.samples} Monte Carlo samples): ${outcome}.`,
  };
}

/** What the page uses when the run has no referral.json: deliberately strict, and said to be unfitted. */
export function placeholderThresholds(): ReadingThresholds {
  return {
    margin: 0.5,
    mutualInformation: 0.1,
    source: "Placeholder thresholds, not fitted: run 'ham10000 evaluate' on this run to fit them on its validation split (RUN/referral.json), or set them here.",
  };
}

export interface Reading {
  verdict: 'confident' | 'refer';
  headline: string;
  explanation: string;
}

/** The verdict on one image's mean probabilities and mutual information, in words. */
export function readUncertainty(values: { probs: number[]; mutualInformation: number; classNames: string[] }, thresholds: ReadingThresholds): Reading {
  const verdict = referralVerdict(values.probs, values.mutualInformation, thresholds);
  const ranked = values.probs.map((p, c) => [p, c] as const).sort((a, b) => b[0] - a[0]);
  const [[topP, top], [secondP, second] = [0, top]] = ranked;
  const lead = `${values.classNames[top]} ${percent(topP)} against ${values.classNames[second]} ${percent(secondP)}`;
  if (verdict.reason === 'mutualInformation') {
    return {
      verdict: 'refer',
      headline: 'uncertain: refer (unlike what the model learnt)',
      explanation: `The plausible models disagree (mutual information ${values.mutualInformation.toFixed(3)} > ${thresholds.mutualInformation.toFixed(3)} nats): the model may be confidently wrong here. A dermatologist should look at it.`,
    };
  }
  if (verdict.reason === 'margin') {
    const needed = thresholds.margin === null ? 'no margin is enough for this model' : `a confident verdict needs ${thresholds.margin.toFixed(2)}`;
    return {
      verdict: 'refer',
      headline: `uncertain: refer (${lead})`,
      explanation: `The lead of the top class is ${verdict.margin.toFixed(2)}; ${needed}. A second look or a biopsy decides.`,
    };
  }
  return {
    verdict: 'confident',
    headline: `confident: ${values.classNames[top]} (${lead})`,
    explanation: `The lead ${verdict.margin.toFixed(2)} ≥ ${thresholds.margin!.toFixed(2)} and the plausible models agree. Confidence is not correctness: check the explanation below.`,
  };
}
