/**
 * A plain-language reading of the uncertainty of one image (docs/guides/reading-uncertainty.md): mutual
 * information flags images the model has not learnt (epistemic), a high total entropy with low
 * mutual information flags images that are ambiguous in themselves (aleatoric).
 */

export interface ReadingThresholds {
  /** Mutual information, in nats, from which the model's disagreement means "refer". */
  mutualInformation: number;
  /** Predictive entropy, in nats, from which the image is too ambiguous to act on. */
  predictiveEntropy: number;
}

/**
 * Placeholders for a first look, not clinical settings: choose the referral rate on a validation
 * split with `accuracyCoverage` and set these to the uncertainties at that rate.
 */
export function defaultThresholds(classCount: number): ReadingThresholds {
  return { mutualInformation: 0.1, predictiveEntropy: 0.5 * Math.log(classCount) };
}

export interface Reading {
  verdict: 'confident' | 'refer';
  headline: string;
  explanation: string;
}

export function readUncertainty(
  values: { predictiveEntropy: number; mutualInformation: number; expectedEntropy: number; className: string },
  thresholds: ReadingThresholds,
): Reading {
  if (values.mutualInformation >= thresholds.mutualInformation) {
    return {
      verdict: 'refer',
      headline: 'uncertain: refer',
      explanation:
        'The plausible models disagree (high mutual information): this image is unlike what the model learnt, and it may be confidently wrong. A dermatologist should look at it.',
    };
  }
  if (values.predictiveEntropy >= thresholds.predictiveEntropy) {
    return {
      verdict: 'refer',
      headline: 'uncertain: refer (ambiguous image)',
      explanation:
        'The models agree that the image itself is ambiguous (high expected entropy, low mutual information): a second look or a biopsy helps more than another model.',
    };
  }
  return {
    verdict: 'confident',
    headline: `confident: ${values.className}`,
    explanation: 'The plausible models agree and the prediction is sharp. Confidence is not correctness: check the explanation below.',
  };
}
