import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import * as trust from '../../src';
import { ConvVariational, DenseVariational, SAMPLING_MODES, ShapeError, rhoOf, sigmaOf, withSampling } from '../../src';
import { attempt, fuzzParams, hasNonFinite, makeTensor, namedArgument, tensorSpec, wrongType } from './fuzz';

/**
 * Fuzzed constructor options and inputs for every dense variational layer the library exports.
 * Each option is drawn valid or wrong; an independent predicate says which, so the oracle is:
 * all valid ⇒ a layer; any wrong ⇒ the library's error naming one of the wrong options.
 */

type Ctor = new (args: Record<string, unknown>) => DenseVariational;
/** Every concrete dense variational class exported, found by walking the exports. */
const DENSE_CLASSES = Object.values(trust as Record<string, unknown>).filter(
  (value): value is Ctor & { className: string } =>
    typeof value === 'function' && value.prototype instanceof DenseVariational && 'className' in value,
);

const ACTIVATIONS = ['elu', 'hardSigmoid', 'linear', 'relu', 'relu6', 'selu', 'sigmoid', 'softmax', 'softplus', 'softsign', 'tanh', 'swish', 'mish', 'gelu', 'gelu_new'];
const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isRegistered = (name: unknown) =>
  typeof name === 'string' && Object.prototype.hasOwnProperty.call(serialization.SerializationMap.getMap().classNameMap, name);

interface Field {
  valid: fc.Arbitrary<unknown>;
  /** Hand-picked wrong values beyond the generic wrong types. */
  wrong?: unknown[];
  /** The oracle: whether the layer must accept this value (undefined and null mean "default"). */
  accepts: (value: unknown) => boolean;
}

const FIELDS: Record<string, Field> = {
  units: { valid: fc.integer({ min: 1, max: 5 }), accepts: (v) => Number.isInteger(v) && (v as number) >= 1 },
  activation: { valid: fc.constantFrom('linear', 'relu', 'softmax', 'tanh', 'sigmoid'), accepts: (v) => v == null || ACTIVATIONS.includes(v as string) },
  mode: { valid: fc.constantFrom(...SAMPLING_MODES), accepts: (v) => v == null || SAMPLING_MODES.includes(v as never) },
  klWeight: { valid: fc.double({ min: 0, max: 10, noNaN: true }), accepts: (v) => v == null || (isFinite(v) && v >= 0) },
  seed: { valid: fc.integer(), accepts: (v) => v == null || Number.isInteger(v) },
  useBias: { valid: fc.boolean(), accepts: (v) => v == null || typeof v === 'boolean' },
  biasPosterior: { valid: fc.constantFrom('pointEstimate', 'normal'), accepts: (v) => v == null || v === 'pointEstimate' || v === 'normal' },
  prior: {
    valid: fc.record({ mean: fc.double({ min: -3, max: 3, noNaN: true }), stddev: fc.double({ min: 0.01, max: 5, noNaN: true }) }, { requiredKeys: [] }),
    wrong: [{ stddev: 0 }, { stddev: -1 }, { mean: NaN }, { mean: '0' }, { kind: 'laplace' }],
    accepts: (v) =>
      v === undefined ||
      (isObject(v) &&
        (v.kind === undefined || v.kind === 'normal') &&
        (v.mean === undefined || isFinite(v.mean)) &&
        (v.stddev === undefined || (isFinite(v.stddev) && v.stddev > 0))),
  },
  kernelLocInitializer: {
    valid: fc.constantFrom(tfl.initializers.zeros(), { className: 'RandomNormal', config: { mean: 0, stddev: 0.1 } }),
    wrong: [{ className: 'NoSuch', config: {} }, { className: 'RandomNormal', config: null }, { className: 'constructor', config: {} }, 'glorotNormal'],
    accepts: (v) =>
      v == null || typeof (v as { apply?: unknown }).apply === 'function' || (isObject(v) && isRegistered(v.className) && isObject(v.config)),
  },
};

/** tf.all of an empty tensor is false in tfjs, so count instead. */
const countNonFinite = (t: tf.Tensor) => tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(t)), 'int32')).dataSync()[0]);

/** One generated option: a valid value, a hand-picked wrong one, a value of the wrong type, or absent. */
function option(field: Field): fc.Arbitrary<unknown> {
  const wrong = fc.oneof(wrongType, fc.constantFrom(...(field.wrong ?? [null]))).filter((v) => !field.accepts(v));
  return fc.oneof({ arbitrary: field.valid, weight: 4 }, { arbitrary: wrong, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 });
}

const argsArb = fc.record(Object.fromEntries(Object.entries(FIELDS).map(([key, field]) => [key, option(field)]))).map((args) =>
  Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined)),
);
const validArgsArb = fc.record(
  Object.fromEntries(Object.entries(FIELDS).map(([key, field]) => [key, field.valid])),
  { requiredKeys: ['units'] },
);

describe.each(DENSE_CLASSES.map((cls) => [cls.className, cls] as const))('%s under fuzzed options and inputs', (_name, Layer) => {
  it('a constructor succeeds on valid options and names a wrong option otherwise', () => {
    fc.assert(
      fc.property(argsArb, (args) => {
        const wrongKeys = Object.keys(FIELDS).filter((key) => !FIELDS[key].accepts(args[key]));
        const { error } = attempt(() => new Layer(args), () => undefined);
        if (wrongKeys.length === 0) expect(error).toBeUndefined();
        else expect(wrongKeys).toContain(error && namedArgument(error));
      }),
      fuzzParams(150),
    );
  });

  it('apply gives [...leading axes, units] of finite values, or a ShapeError for rank < 2; never leaks', () => {
    fc.assert(
      fc.property(validArgsArb, tensorSpec({ maxRank: 4 }), (args, spec) => {
        // The layer lives inside the counted section: its weights are created and disposed there too.
        const { result, error } = attempt(
          () => {
            const layer = new Layer(args);
            const y = tf.tidy(() => layer.apply(makeTensor(spec)) as tf.Tensor);
            return { layer, y, finite: countNonFinite(y) === 0 };
          },
          ({ layer, y }) => {
            y.dispose();
            layer.dispose();
          },
        );
        if (spec.shape.length < 2) {
          expect(error).toBeInstanceOf(ShapeError);
          expect(error && namedArgument(error)).toBe('input');
        } else {
          expect(error).toBeUndefined();
          expect(result?.y.shape).toEqual([...spec.shape.slice(0, -1), args.units]);
          if (!hasNonFinite(spec)) expect(result?.finite).toBe(true);
        }
      }),
      fuzzParams(60),
    );
  });

  it('a built layer refuses an input with a different feature size, naming the input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (built, given) => {
        fc.pre(built !== given);
        const layer = new Layer({ units: 2 });
        tf.dispose(layer.apply(tf.zeros([1, built])) as tf.Tensor);
        const { error } = attempt(() => tf.tidy(() => layer.apply(tf.zeros([2, given])) as tf.Tensor));
        expect(error).toBeInstanceOf(ShapeError);
        expect(error && namedArgument(error)).toBe('input');
        layer.dispose();
      }),
      fuzzParams(10),
    );
  });

  it('getConfig → fromConfig (through JSON) gives the same config', () => {
    fc.assert(
      fc.property(validArgsArb, (args) => {
        const layer = new Layer(args);
        const config = JSON.parse(JSON.stringify(layer.getConfig()));
        const copy = (Layer as unknown as typeof tfl.layers.Layer).fromConfig(Layer as never, config);
        expect(JSON.parse(JSON.stringify(copy.getConfig()))).toEqual(config);
      }),
      fuzzParams(60),
    );
  });
});

type ConvCtor = new (args: Record<string, unknown>) => ConvVariational;
/** Every concrete variational convolution exported, of every rank, found by walking the exports. */
const CONV_CLASSES = Object.values(trust as Record<string, unknown>).filter(
  (value): value is ConvCtor & { className: string } =>
    typeof value === 'function' && value.prototype instanceof ConvVariational && 'className' in value,
);
/** A spatial size: one integer, or one per spatial axis. */
const spatialSize = (rank: number) =>
  fc.oneof(fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: rank, maxLength: rank }));
const sizeAccepts = (rank: number) => (v: unknown) =>
  Number.isInteger(v) ? (v as number) >= 1 : Array.isArray(v) && v.length === rank && v.every((x) => Number.isInteger(x) && x >= 1);
/** The base fields and the conv geometry of one rank; `units` belongs to the dense layers only. */
function convFields(rank: number): Record<string, Field> {
  const accepts = sizeAccepts(rank);
  return {
    ...Object.fromEntries(Object.entries(FIELDS).filter(([key]) => key !== 'units')),
    filters: { valid: fc.integer({ min: 1, max: 3 }), accepts: (v) => Number.isInteger(v) && (v as number) >= 1 },
    kernelSize: { valid: spatialSize(rank), wrong: [new Array(rank + 1).fill(1), [0, ...new Array(rank - 1).fill(1)]], accepts },
    strides: { valid: spatialSize(rank), accepts: (v) => v == null || accepts(v) },
    padding: { valid: fc.constantFrom('valid', 'same'), accepts: (v) => v == null || v === 'valid' || v === 'same' },
    dilationRate: { valid: spatialSize(rank), accepts: (v) => v == null || accepts(v) },
  };
}
/** Keras' conv_output_length, computed here independently of the layer. */
function convLength(size: number, kernel: number, stride: number, dilation: number, padding: string): number {
  const span = (kernel - 1) * dilation + 1;
  return Math.max(0, Math.ceil((padding === 'same' ? size : size - span + 1) / stride));
}
const perAxis = (v: unknown, rank: number): number[] =>
  v == null ? new Array<number>(rank).fill(1) : Array.isArray(v) ? (v as number[]) : new Array<number>(rank).fill(v as number);

describe.each(CONV_CLASSES.map((cls) => [cls.className, cls] as const))('%s under fuzzed options and inputs', (_name, Layer) => {
  const rank = new Layer({ filters: 1, kernelSize: 1 }).rank;
  const fields = convFields(rank);
  const convArgs = fc
    .record(Object.fromEntries(Object.entries(fields).map(([key, field]) => [key, option(field)])))
    .map((args) => Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined)));

  it('a constructor succeeds on valid options and names a wrong option otherwise', () => {
    fc.assert(
      fc.property(convArgs, (args) => {
        const wrongKeys = Object.keys(fields).filter((key) => !fields[key].accepts(args[key]));
        const { error } = attempt(() => new Layer(args), () => undefined);
        if (wrongKeys.length === 0) expect(error).toBeUndefined();
        else expect(wrongKeys).toContain(error && namedArgument(error));
      }),
      fuzzParams(100),
    );
  });

  it('apply gives Keras output sizes, or a ShapeError naming the input; never leaks', () => {
    const size = spatialSize(rank);
    const geometry = fc.record({ filters: fc.integer({ min: 1, max: 3 }), kernelSize: size, strides: size, padding: fc.constantFrom('valid', 'same'), dilationRate: size, mode: fc.constantFrom(...SAMPLING_MODES) });
    fc.assert(
      fc.property(geometry, tensorSpec({ minRank: rank + 1, maxRank: rank + 3, maxAxis: rank === 3 ? 5 : 6, nonFinite: false }), (args, spec) => {
        const { result, error } = attempt(
          () => {
            const layer = new Layer(args);
            try {
              return { layer, y: tf.tidy(() => layer.apply(makeTensor(spec)) as tf.Tensor) };
            } catch (error) {
              // Built before the input was refused: its weights are the test's to free, not a leak.
              if (layer.built) layer.dispose();
              throw error;
            }
          },
          ({ layer, y }) => {
            y.dispose();
            layer.dispose();
          },
        );
        const [kernel, stride, dilation] = [perAxis(args.kernelSize, rank), perAxis(args.strides, rank), perAxis(args.dilationRate, rank)];
        const spatial = spec.shape.slice(1, -1);
        const span = (axis: number) => (kernel[axis] - 1) * dilation[axis] + 1;
        const tooSmall = args.padding === 'valid' && spatial.some((length, axis) => length < span(axis));
        if (spec.shape.length !== rank + 2 || tooSmall) {
          expect(error).toBeInstanceOf(ShapeError);
          expect(error && namedArgument(error)).toBe('input');
          return;
        }
        expect(error).toBeUndefined();
        expect(result?.y.shape).toEqual([
          spec.shape[0],
          ...spatial.map((length, axis) => convLength(length, kernel[axis], stride[axis], dilation[axis], args.padding)),
          args.filters,
        ]);
      }),
      fuzzParams(80),
    );
  });
});

describe('withSampling under fuzzed options', () => {
  const model = tfl.sequential({ layers: [new trust.DenseFlipout({ units: 2, inputShape: [3], seed: 1 })] });
  const [layer] = trust.stochasticLayers(model);
  afterAll(() => model.dispose());

  it('runs fn with valid options, names options otherwise, and always restores the layers', () => {
    const optionsArb = fc.record(
      { mode: option(FIELDS.mode), seed: option(FIELDS.seed), extra: fc.constantFrom(undefined, 1) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(optionsArb, fc.boolean(), (options, fnThrows) => {
        const clean = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
        const valid = FIELDS.mode.accepts(clean.mode) && FIELDS.seed.accepts(clean.seed) && clean.extra === undefined;
        const { result, error } = attempt(() =>
          withSampling(model, clean as never, () => {
            if (fnThrows) throw new trust.DataError('fn failed on purpose');
            return tf.tidy(() => model.predict(tf.ones([1, 3])) as tf.Tensor);
          }),
        );
        expect(layer.samplingOverride).toBeNull();
        if (!valid) expect(error && namedArgument(error)).toBe('options');
        else if (fnThrows) expect(error?.message).toBe('fn failed on purpose');
        else expect(result).toBeDefined();
      }),
      fuzzParams(80),
    );
  });

  it('refuses a non-model and a non-function', () => {
    expect(attempt(() => withSampling({} as never, {}, () => 1)).error?.message).toMatch(/^allLayers: model must be a tf.LayersModel/);
    expect(attempt(() => withSampling(model, {}, 5 as never)).error?.message).toMatch(/^withSampling: fn must be a function; got 5/);
  });
});

describe('sigmaOf and rhoOf', () => {
  it('are inverse over six decades of sigma', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 1e-5, max: 50, noNaN: true }), { minLength: 1, maxLength: 8 }), (sigmas) => {
        const { result } = attempt(() => tf.tidy(() => Array.from(sigmaOf(rhoOf(tf.tensor(sigmas))).dataSync())), () => undefined);
        result!.forEach((value, i) => expect(Math.abs(value - sigmas[i])).toBeLessThanOrEqual(1e-3 * sigmas[i] + 2e-7));
      }),
      fuzzParams(60),
    );
  });
});
