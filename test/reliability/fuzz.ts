import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { TrustError } from '../../src';

/**
 * The shared machinery of the fuzz tests: generated tensors and wrong values, and the one
 * property every public function must satisfy on any of them: it returns a result or throws the
 * library's own error naming an argument; it never throws a tfjs error and never leaks a tensor.
 */

/** Cases per property. `FUZZ_RUNS=10 npx jest test/reliability` runs ten times as many. */
export function runs(base: number): number {
  return Math.round(base * Number(process.env.FUZZ_RUNS ?? 1));
}

/** Fixed seed: a failure is reproducible; fast-check prints the seed and path to replay it. */
export const FUZZ_SEED = 20261125;

/** fast-check parameters for a property of `base` runs. */
export function fuzzParams(base: number): fc.Parameters<unknown> {
  return { numRuns: runs(base), seed: FUZZ_SEED };
}

/** What a generated call did: returned (error undefined) or refused with the library's error. */
export interface Outcome<T> {
  result?: T;
  error?: TrustError;
}

/**
 * Runs `fn`, disposes what it returns (with `release`), and fails unless it returned or threw a
 * TrustError, and unless the tensor count is back where it started.
 */
export function attempt<T>(fn: () => T, release: (result: T) => void = disposeAll): Outcome<T> {
  const before = tf.memory().numTensors;
  let outcome: Outcome<T>;
  try {
    const result = fn();
    outcome = { result };
    release(result);
  } catch (error) {
    outcome = { error: asTrustError(error) };
  }
  expectTensorCount(before);
  return outcome;
}

/** `attempt` for functions that return a promise. */
export async function attemptAsync<T>(fn: () => Promise<T>, release: (result: T) => void = disposeAll): Promise<Outcome<T>> {
  const before = tf.memory().numTensors;
  let outcome: Outcome<T>;
  try {
    const result = await fn();
    outcome = { result };
    release(result);
  } catch (error) {
    outcome = { error: asTrustError(error) };
  }
  expectTensorCount(before);
  return outcome;
}

function asTrustError(error: unknown): TrustError {
  if (error instanceof TrustError) return error;
  const described = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
  throw new Error(`not the library's own error: ${described}`);
}

function expectTensorCount(before: number): void {
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`leaked ${after - before} tensor(s)`);
}

/** Disposes every tensor reachable in a result: a tensor, an array, or an object's values. */
export function disposeAll(result: unknown): void {
  if (result instanceof tf.Tensor) result.dispose();
  else if (Array.isArray(result)) result.forEach(disposeAll);
  else if (result && typeof result === 'object') {
    const disposable = result as { dispose?: unknown };
    if (typeof disposable.dispose === 'function') (disposable.dispose as () => void).call(result);
    else Object.values(result).forEach(disposeAll);
  }
}

/** The argument an error names: `who: argument must ...` gives `argument` (its head before any `.`). */
export function namedArgument(error: TrustError): string | undefined {
  return /^[^:]+: ([A-Za-z]\w*)[\w.[\]]* (?:must|has)/.exec(error.message)?.[1];
}

/** Values of every JavaScript kind, for options given the wrong type. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, '', 'constructor', '__proto__', 'toString', NaN, Infinity, -Infinity, -1, 0, 1.5),
  fc.string({ maxLength: 6 }),
  fc.double(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);

/** A tensor to build inside a property (never inside the arbitrary, which would leak on shrinking). */
export interface TensorSpec {
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  /** Which values: ordinary ones, or ones with NaN and ±Infinity mixed in. */
  values: 'finite' | 'nonFinite';
  seed: number;
}

/** Tensor specs with ranks in `[minRank, maxRank]`, axes of size `0..maxAxis` (0 = empty). */
export function tensorSpec({
  minRank = 0,
  maxRank = 4,
  maxAxis = 4,
  dtypes = ['float32', 'int32', 'bool'] as TensorSpec['dtype'][],
  nonFinite = true,
} = {}): fc.Arbitrary<TensorSpec> {
  return fc.record({
    shape: fc.array(fc.integer({ min: 0, max: maxAxis }), { minLength: minRank, maxLength: maxRank }),
    dtype: fc.constantFrom(...dtypes),
    values: nonFinite ? fc.constantFrom('finite' as const, 'nonFinite' as const) : fc.constant('finite' as const),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  });
}

/** Builds the tensor a spec describes; non-finite specs get NaN, +Infinity and -Infinity in turn. */
export function makeTensor(spec: TensorSpec): tf.Tensor {
  return tf.tidy(() => {
    const normal = tf.randomNormal(spec.shape, 0, 2, 'float32', spec.seed);
    if (spec.dtype === 'bool') return tf.greater(normal, 0);
    if (spec.dtype === 'int32') return tf.cast(tf.round(normal), 'int32');
    if (spec.values === 'finite' || normal.size === 0) return normal;
    const values = normal.dataSync().slice();
    [NaN, Infinity, -Infinity].forEach((bad, i) => {
      if (i < values.length) values[(spec.seed + i * 7) % values.length] = bad;
    });
    return tf.tensor(values, spec.shape, 'float32');
  });
}

/** Whether a tensor spec holds a NaN or an infinity (after makeTensor). */
export function hasNonFinite(spec: TensorSpec): boolean {
  return spec.dtype === 'float32' && spec.values === 'nonFinite' && spec.shape.every((size) => size > 0);
}
