import { fitReferral, referralOutcome, referralVerdict } from '../../src';
import { Rng } from '../../src/random';

/** Two-class predictions whose top probability is p, right with probability p (a calibrated model). */
function calibratedSet(count: number, seed: number) {
  const rng = new Rng(seed);
  const probs: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const top = rng.uniform(0.5, 1);
    const predicted = rng.int(0, 1);
    probs.push(predicted === 0 ? [top, 1 - top] : [1 - top, top]);
    labels.push(rng.next() < top ? predicted : 1 - predicted);
  }
  return { probs, labels, mi: probs.map(() => 0) };
}

describe('fitReferral', () => {
  it('by hand: the smallest margin whose kept images reach the target, the MI quantile, and what they keep', () => {
    // Margins 0.8 (right), 0.6 (right), 0.4 (wrong), 0.2 (right): the top 2 are 100 % right, the top 3 67 %, all 4 75 %.
    const probs = [[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]];
    const labels = [0, 1, 1, 1];
    const mi = [0, 0.1, 0.2, 0.3];
    const fit = fitReferral(probs, labels, mi, { targetAccuracy: 0.75, mutualInformationQuantile: 1 });
    expect(fit.mutualInformation).toBeCloseTo(0.3, 12);
    expect(fit.margin).toBeCloseTo(0.2, 12);
    expect(fit.fitted).toEqual({ images: 4, keptShare: 1, keptAccuracy: 0.75 });
    const strict = fitReferral(probs, labels, mi, { targetAccuracy: 0.9, mutualInformationQuantile: 1 });
    expect(strict.margin).toBeCloseTo(0.6, 12);
    expect(strict.fitted).toEqual({ images: 4, keptShare: 0.5, keptAccuracy: 1 });
    // Type-7 quantile 0.5 of [0, 0.1, 0.2, 0.3] is 0.15: the last two images are referred for their MI.
    const byMi = fitReferral(probs, labels, mi, { targetAccuracy: 0.9, mutualInformationQuantile: 0.5 });
    expect(byMi.mutualInformation).toBeCloseTo(0.15, 12);
    expect(referralVerdict(probs[3], mi[3], byMi)).toEqual({ confident: false, margin: expect.closeTo(0.2, 12), reason: 'mutualInformation' });
  });

  it('a threshold never splits tied margins, and no margin reaching the target refers every image', () => {
    // Two images at margin 0.6, one right and one wrong: 50 %, so a 0.9 target finds no threshold.
    const fit = fitReferral([[0.8, 0.2], [0.8, 0.2]], [0, 1], [0, 0], { targetAccuracy: 0.9 });
    expect(fit.margin).toBeNull();
    expect(fit.fitted).toEqual({ images: 2, keptShare: 0, keptAccuracy: null });
    expect(referralVerdict([0.99, 0.01], 0, fit).reason).toBe('margin');
  });

  it('on a calibrated model, the kept accuracy reaches the target on the fitting set and, within noise, on fresh data', () => {
    const validation = calibratedSet(4000, 1);
    const fit = fitReferral(validation.probs, validation.labels, validation.mi, { targetAccuracy: 0.9 });
    expect(fit.fitted.keptAccuracy!).toBeGreaterThanOrEqual(0.9);
    // Top probability p is right with probability p and uniform on [0.5, 1]: keeping margins ≥ m
    // (p ≥ (1 + m) / 2) gives accuracy (1 + p*) / 2 over the kept band, so 0.9 needs p* = 0.8, m = 0.6.
    expect(fit.margin!).toBeGreaterThan(0.5);
    expect(fit.margin!).toBeLessThan(0.7);
    const test = calibratedSet(4000, 2);
    const outcome = referralOutcome(test.probs, test.labels, test.mi, fit);
    // Binomial noise on ~1,600 kept images: sd ≈ 0.0075.
    expect(outcome.keptAccuracy!).toBeGreaterThan(0.9 - 4 * 0.0075);
    expect(outcome.keptShare).toBeCloseTo(fit.fitted.keptShare, 1);
  });

  it('refuses a misspelt option and misaligned inputs, naming them', () => {
    expect(() => fitReferral([[1, 0]], [0], [0], { target: 0.9 } as never)).toThrow(
      "fitReferral: options has unknown 'target'; did you mean 'target' → 'targetAccuracy'?",
    );
    expect(() => fitReferral([[1, 0]], [0], [0, 1])).toThrow('fitReferral: mutualInformation must be 1 finite numbers, one per image; got [0, 1].');
    expect(() => fitReferral([[1, 0]], [0], [0], { targetAccuracy: 0 })).toThrow('fitReferral: options.targetAccuracy must be a number > 0 and <= 1; got 0.');
  });
});
