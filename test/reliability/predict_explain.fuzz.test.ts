import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { CAM_METHODS, DataError, DenseFlipout, SAMPLING_MODES, bayesianCam, cam, gradCam, mcPredict, type McPrediction } from '../../src';
import { attempt, fuzzParams, hasNonFinite, makeTensor, namedArgument, tensorSpec, wrongType, type TensorSpec } from './fuzz';

/**
 * Fuzzed calls of the Monte Carlo predictor and the CAM family on a tiny Bayesian CNN. An
 * independent predicate per argument says whether it is valid; the oracle is: all valid ⇒ a result
 * with the documented shape and range; otherwise the library's error naming a wrong argument.
 */

const SIZE = 6;
const CLASSES = 3;
const model = tfl.sequential({
  layers: [
    tfl.layers.conv2d({ inputShape: [SIZE, SIZE, 3], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) }),
    tfl.layers.globalAveragePooling2d({}),
    new DenseFlipout({ units: CLASSES, activation: 'softmax', seed: 2, name: 'head' }),
  ],
});
afterAll(() => model.dispose());

/** A value an optional option accepts: absent, valid, or (when `nullIsDefault`) null. */
interface OptionRule {
  valid: fc.Arbitrary<unknown>;
  accepts: (value: unknown) => boolean;
}
const isInt = (v: unknown, min = -Infinity) => Number.isInteger(v) && (v as number) >= min;
const oneOf = (allowed: readonly unknown[], nullIsDefault = true) => (v: unknown) => (nullIsDefault && v === null) || allowed.includes(v);
const bool: OptionRule = { valid: fc.boolean(), accepts: (v) => v === null || typeof v === 'boolean' };
const seed: OptionRule = { valid: fc.integer(), accepts: (v) => isInt(v) };

/** Options drawn valid or wrong, field by field; `wrongKeys` is the oracle's list of wrong ones. */
function optionsArb(rules: Record<string, OptionRule>): fc.Arbitrary<{ options: Record<string, unknown>; wrong: boolean }> {
  const field = (rule: OptionRule) =>
    fc.oneof({ arbitrary: rule.valid, weight: 5 }, { arbitrary: wrongType.filter((v) => !rule.accepts(v)), weight: 1 });
  const record = fc.record(Object.fromEntries(Object.entries(rules).map(([key, rule]) => [key, field(rule)])), { requiredKeys: [] });
  return record.map((options) => ({
    options,
    wrong: Object.entries(options).some(([key, value]) => !rules[key].accepts(value)),
  }));
}

/** Images: mostly a batch of the model's shape (sometimes empty or non-finite), sometimes any tensor. */
const imagesArb: fc.Arbitrary<TensorSpec> = fc.oneof(
  { arbitrary: tensorSpec({ minRank: 4, maxRank: 4, dtypes: ['float32'] }).chain((spec) =>
      fc.integer({ min: 0, max: 3 }).map((batch) => ({ ...spec, shape: [batch, SIZE, SIZE, 3] }))), weight: 4 },
  { arbitrary: tensorSpec({ maxRank: 5, maxAxis: SIZE }), weight: 1 },
);
const imagesFit = (spec: TensorSpec) =>
  spec.shape.length === 4 && spec.shape[0] > 0 && spec.shape.slice(1).join() === [SIZE, SIZE, 3].join() && spec.dtype === 'float32';

/** Checks the outcome against the oracle; returns true when a result was produced. */
function expectOracle(outcome: { error?: Error }, wrongArguments: string[]): boolean {
  if (wrongArguments.length === 0) {
    expect(outcome.error?.message).toBeUndefined();
    return true;
  }
  expect(outcome.error).toBeDefined();
  // The CAM functions name a bad target layer as "layer 'x'": that is the layerName argument.
  const named = /^\w+: layer '/.test(outcome.error!.message) ? 'layerName' : namedArgument(outcome.error as never);
  expect(`${named} in ${outcome.error!.message}`).toMatch(new RegExp(`^(${wrongArguments.join('|')}) in`));
  return false;
}

describe('mcPredict under fuzzed images and options', () => {
  const rules: Record<string, OptionRule> = {
    samples: { valid: fc.integer({ min: 1, max: 6 }), accepts: (v) => v === null || isInt(v, 1) },
    seed,
    chunkSize: { valid: fc.integer({ min: 1, max: 8 }), accepts: (v) => isInt(v, 1) },
    quantiles: {
      valid: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 }),
      accepts: (v) => v === null || (Array.isArray(v) && v.length > 0 && v.every((q) => typeof q === 'number' && q >= 0 && q <= 1)),
    },
    keepSamples: bool,
    strategy: { valid: fc.constantFrom('auto', 'fast', 'naive'), accepts: oneOf(['auto', 'fast', 'naive']) },
    epistemicOnly: bool,
    outputs: { valid: fc.constantFrom('probability', 'logit'), accepts: oneOf(['probability', 'logit', 'probabilities', 'logits']) },
    checkFinite: bool,
  };

  it('returns [batch, classes] probabilities summing to 1, or names the wrong argument; never leaks', () => {
    fc.assert(
      fc.property(imagesArb, optionsArb(rules), (spec, { options, wrong }) => {
        const checkFinite = options.checkFinite !== false;
        const imagesWrong = !imagesFit(spec) || (checkFinite && hasNonFinite(spec));
        const images = makeTensor(spec);
        const run = attempt(
          () => {
            const prediction: McPrediction = mcPredict(model, images, options);
            return { prediction, mean: prediction.mean.arraySync() };
          },
          ({ prediction }) => prediction.dispose(),
        );
        images.dispose();
        const wrongArguments = [...(wrong ? ['options'] : []), ...(imagesWrong ? ['images'] : [])];
        if (expectOracle(run, wrongArguments) && !hasNonFinite(spec)) {
          const mean = run.result!.mean;
          expect(mean).toHaveLength(spec.shape[0]);
          mean.forEach((row) => expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-4));
        }
        if (run.error && checkFinite && imagesFit(spec) && hasNonFinite(spec) && !wrong) expect(run.error).toBeInstanceOf(DataError);
      }),
      fuzzParams(120),
    );
  });

  it('refuses a non-model and non-tensor images by name', () => {
    const images = tf.zeros([1, SIZE, SIZE, 3]);
    expect(attempt(() => mcPredict({} as never, images)).error?.message).toMatch(/^mcPredict: model must be/);
    expect(attempt(() => mcPredict(model, [[1]] as never)).error?.message).toMatch(/^mcPredict: images must be a tf.Tensor/);
    images.dispose();
  });
});

describe('cam, gradCam and bayesianCam under fuzzed arguments', () => {
  const rules: Record<string, OptionRule> = {
    method: { valid: fc.constantFrom(...CAM_METHODS), accepts: oneOf(CAM_METHODS) },
    raw: bool,
    score: { valid: fc.constantFrom('logit', 'probability'), accepts: oneOf(['logit', 'probability']) },
    sampling: { valid: fc.constantFrom(...SAMPLING_MODES), accepts: oneOf(SAMPLING_MODES) },
    seed,
    scoreCamBatchSize: { valid: fc.integer({ min: 1, max: 4 }), accepts: (v) => v === null || isInt(v, 1) },
    checkFinite: bool,
    samples: { valid: fc.integer({ min: 2, max: 3 }), accepts: (v) => v === null || isInt(v, 2) },
  };
  const layerNameArb = fc.oneof({ arbitrary: fc.constant('conv'), weight: 5 }, fc.constantFrom('head', 'nope', '', 'conv/x'), wrongType);
  const classArb = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: CLASSES - 1 }), weight: 3 },
    fc.constant('predicted'),
    fc.array(fc.integer({ min: -1, max: CLASSES }), { maxLength: 4 }),
    fc.constantFrom(CLASSES, -1, 0.5),
    wrongType,
  );
  const classFits = (c: unknown, batch: number) => {
    const valid = (v: unknown) => isInt(v, 0) && (v as number) < CLASSES;
    return c === 'predicted' || valid(c) || (Array.isArray(c) && c.length === batch && c.every(valid));
  };
  const explainers = { cam, gradCam, bayesianCam } as const;

  it('returns maps [batch, H, W] in [0, 1], or names the wrong argument; never leaks', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(explainers) as (keyof typeof explainers)[])),
        layerNameArb,
        classArb,
        imagesArb,
        optionsArb(rules),
        (name, layerName, classIdx, spec, { options }) => {
          // Each explainer reads only its own options; the others' are ignored.
          const own = (key: string) => (key === 'samples' ? name === 'bayesianCam' : key === 'method' ? name === 'cam' : !(key === 'sampling' && name === 'bayesianCam'));
          const usedOptions = Object.fromEntries(Object.entries(options).filter(([key]) => own(key)));
          const optionsWrong = Object.entries(usedOptions).some(([key, value]) => !rules[key].accepts(value));
          const checkFinite = usedOptions.checkFinite !== false;
          const wrongArguments = [
            ...(optionsWrong ? ['options'] : []),
            ...(layerName !== 'conv' ? ['layerName'] : []),
            ...(!imagesFit(spec) || (checkFinite && hasNonFinite(spec)) ? ['images'] : []),
            ...(!classFits(classIdx, spec.shape[0] ?? 0) ? ['classIdx'] : []),
          ];
          const images = makeTensor(spec);
          const run = attempt(() => {
            const result = explainers[name](model, layerName as string, classIdx as never, images as tf.Tensor4D, usedOptions);
            const maps = result instanceof tf.Tensor ? result : result.mean;
            const range = tf.tidy(() => [tf.min(maps).dataSync()[0], tf.max(maps).dataSync()[0]]);
            return { result, shape: maps.shape, range };
          }, ({ result }) => tf.dispose(result as never));
          images.dispose();
          if (expectOracle(run, wrongArguments) && !hasNonFinite(spec)) {
            expect(run.result!.shape).toEqual([spec.shape[0], SIZE, SIZE]);
            const [low, high] = run.result!.range;
            expect(low).toBeGreaterThanOrEqual(0);
            expect(high).toBeLessThanOrEqual(1);
          }
        },
      ),
      fuzzParams(120),
    );
  });
});
