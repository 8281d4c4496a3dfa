import fc from 'fast-check';
import {
  ConformalClassifier,
  accuracy,
  accuracyCoverage,
  applyTemperature,
  balancedAccuracy,
  brierScore,
  calibration,
  calibrationNoise,
  confusionMatrix,
  fitTemperature,
  kernelDensity,
  negativeLogLikelihood,
  rocAuc,
  setMetrics,
} from '../../src';
import { attempt, fuzzParams, wrongType } from './fuzz';

/**
 * Fuzzed calls of the array-based metrics: generated score matrices (ragged, empty, NaN, ±Infinity,
 * negative), labels (out of range, fractional, too few) and options. Every call returns a result
 * whose numbers are not NaN, or throws the library's own error; a metric never answers NaN.
 */

const scoreValue = fc.oneof(
  { arbitrary: fc.double({ min: 0, max: 1, noNaN: true }), weight: 12 },
  fc.constantFrom(NaN, Infinity, -Infinity, -0.5, 2),
);
/** Score matrices: mostly N rows of C columns; sometimes ragged or of the wrong type. */
const scoresArb = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 8 }))
      .chain(([classes, rows]) => fc.array(fc.array(scoreValue, { minLength: classes, maxLength: classes }), { minLength: rows, maxLength: rows })),
    weight: 8,
  },
  fc.array(fc.array(scoreValue, { maxLength: 3 }), { maxLength: 4 }),
  wrongType,
);
/** Labels for `rows` examples: mostly class indices, sometimes out of range, fractional or too few. */
const labelsArb = fc.oneof(
  { arbitrary: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 8 }), weight: 8 },
  fc.array(fc.oneof(fc.integer({ min: -1, max: 5 }), fc.constantFrom(0.5, NaN)), { maxLength: 8 }),
  wrongType,
);

/** Every number in a result, however nested. */
function numbersIn(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.flatMap(numbersIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(numbersIn);
  return [];
}

/** Aligns labels with the rows when the generator asked for it, so valid cases are common. */
const aligned = fc.tuple(scoresArb, labelsArb, fc.boolean()).map(([scores, labels, align]) => {
  if (!align || !Array.isArray(scores) || !Array.isArray(labels)) return { scores, labels };
  const classes = Array.isArray(scores[0]) ? Math.max((scores[0] as unknown[]).length, 1) : 1;
  return { scores, labels: scores.map((_, i) => (Number.isInteger(labels[i]) ? (labels[i] as number) % classes : 0)) };
});

type Metric = (scores: number[][], labels: number[], extra: unknown) => unknown;
const METRICS: Record<string, Metric> = {
  accuracy: (s, l) => accuracy(s, l),
  balancedAccuracy: (s, l) => balancedAccuracy(s, l),
  negativeLogLikelihood: (s, l) => negativeLogLikelihood(s, l),
  brierScore: (s, l) => brierScore(s, l),
  confusionMatrix: (s, l, extra) => confusionMatrix(s, l, extra as number),
  rocAuc: (s, l) => rocAuc(s, l),
  accuracyCoverage: (s, l, extra) => accuracyCoverage(s, l, Array.isArray(s) ? s.map(() => extra as number) : (extra as never)),
  calibration: (s, l, extra) => calibration(s, l, { bins: extra as number }),
  calibrationNoise: (s, _l, extra) => calibrationNoise(s, { bins: extra as number, resamples: 20 }),
  fitTemperature: (s, l) => fitTemperature(s, l),
  applyTemperature: (s, _l, extra) => applyTemperature(s, extra as number),
  conformal: (s, l, extra) => {
    const classifier = ConformalClassifier.calibrate(s, l, { alpha: extra as number, seed: 1 });
    const sets = classifier.predictSets(s);
    return { sets, metrics: setMetrics(sets, l) };
  },
  kernelDensity: (s, _l, extra) => kernelDensity(Array.isArray(s) ? s.flat() : (s as never), { points: extra as number }),
};

describe('metrics under fuzzed scores, labels and options', () => {
  const extraArb = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 5 }), weight: 3 }, fc.double({ min: 0, max: 1, noNaN: true }), wrongType);

  it.each(Object.keys(METRICS))('%s returns NaN-free numbers or throws the library error', (name) => {
    let results = 0;
    fc.assert(
      fc.property(aligned, extraArb, ({ scores, labels }, extra) => {
        const { result, error } = attempt(() => METRICS[name](scores as number[][], labels as number[], extra), () => undefined);
        if (error) return;
        results += 1;
        const nan = numbersIn(result).filter(Number.isNaN);
        expect(nan).toEqual([]);
      }),
      fuzzParams(150),
    );
    // Valid cases occur, so the NaN check is exercised.
    expect(results).toBeGreaterThan(0);
  });
});

describe('ConformalClassifier options, generated', () => {
  const probs = [
    [0.7, 0.2, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.2, 0.6],
    [0.5, 0.4, 0.1],
  ];
  const labels = [0, 1, 2, 1];
  const mostlyValid = (valid: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: wrongType, weight: 1 });
  const rules: Record<string, (v: unknown) => boolean> = {
    alpha: (v) => typeof v === 'number' && v > 0 && v < 1,
    score: (v) => v === undefined || v === null || v === 'aps' || v === 'raps',
    lambda: (v) => v === undefined || v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0),
    kReg: (v) => v === undefined || v === null || (Number.isInteger(v) && (v as number) >= 0),
    randomized: (v) => v === undefined || v === null || typeof v === 'boolean',
    seed: (v) => v === undefined || Number.isInteger(v),
  };

  it('calibrates on valid options (sets of valid class indices) and names a wrong option otherwise', () => {
    const options = fc.record(
      {
        alpha: mostlyValid(fc.double({ min: 0.01, max: 0.99, noNaN: true })),
        score: mostlyValid(fc.constantFrom('aps', 'raps')),
        lambda: mostlyValid(fc.double({ min: 0, max: 1, noNaN: true })),
        kReg: mostlyValid(fc.integer({ min: 0, max: 3 })),
        randomized: mostlyValid(fc.boolean()),
        seed: mostlyValid(fc.integer()),
      },
      { requiredKeys: ['alpha'] },
    );
    fc.assert(
      fc.property(options, (opts) => {
        const wrong = Object.entries(opts).filter(([key, value]) => !rules[key](value)).map(([key]) => `options.${key}`);
        const { result, error } = attempt(() => ConformalClassifier.calibrate(probs, labels, opts as never).predictSets(probs), () => undefined);
        if (wrong.length === 0) {
          expect(error).toBeUndefined();
          result!.forEach((set) => set.forEach((c) => expect([0, 1, 2]).toContain(c)));
        } else {
          expect(wrong.some((name) => error?.message.includes(`: ${name} must`))).toBe(true);
        }
      }),
      fuzzParams(100),
    );
  });
});
