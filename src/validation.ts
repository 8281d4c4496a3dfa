import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, DataError, ShapeError } from './errors';

/**
 * Input checks shared by the public functions, so a bad argument fails at the door with the
 * library's own error naming it, instead of deep inside a tfjs kernel. Isomorphic: no Node.
 */

/** Describes a value for an error message: short, and never dumps a whole tensor. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return String(value);
}

/**
 * Builds the standard message `who: argument must be expected; got value. fix` and throws it as
 * an ArgumentError.
 */
export function invalidArgument(who: string, argument: string, expected: string, got: unknown, fix?: string): never {
  throw new ArgumentError(`${who}: ${argument} must be ${expected}; got ${describe(got)}.${fix ? ` ${fix}` : ''}`);
}

/** Throws unless `value` is a finite number in [min, max] (bounds inclusive unless `exclusiveMin`). */
export function checkNumber(
  who: string,
  argument: string,
  value: unknown,
  { min = -Infinity, max = Infinity, exclusiveMin = false, integer = false } = {},
): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (exclusiveMin ? value > min : value >= min) &&
    value <= max &&
    (!integer || Number.isInteger(value));
  if (!ok) {
    const kind = integer ? 'an integer' : 'a number';
    const lower = min === -Infinity ? '' : exclusiveMin ? ` > ${min}` : ` >= ${min}`;
    const upper = max === Infinity ? '' : ` <= ${max}`;
    const joiner = lower && upper ? ' and' : '';
    invalidArgument(who, argument, `${kind}${lower}${joiner}${upper}`, value);
  }
  return value as number;
}

/** Throws unless `value` is one of `allowed`, listing them. */
export function checkOneOf<T extends string>(who: string, argument: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    invalidArgument(who, argument, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

/** What `checkTensor` requires of a tensor argument. */
export interface TensorExpectation {
  /** The exact rank, or the inclusive range [min, max]. */
  rank?: number | readonly [number, number];
  /** Accepted dtypes. Default: any. */
  dtypes?: readonly tf.DataType[];
  /** How the axes are meant, for the message, e.g. `'[batch, height, width, channels]'`. */
  layout?: string;
  /** Refuse tensors with a zero-sized axis (an empty batch). Default false. */
  nonEmpty?: boolean;
}

/** A tfjs tensor, recognised by shape rather than by class so two copies of tfjs-core both pass. */
export function isTensor(value: unknown): value is tf.Tensor {
  const t = value as Partial<tf.Tensor> | null;
  return (
    typeof t === 'object' && t !== null && Array.isArray(t.shape) && typeof t.dtype === 'string' && typeof t.dataSync === 'function'
  );
}

/** Throws unless `value` is a live tensor meeting `expect`; returns it typed. */
export function checkTensor(who: string, argument: string, value: unknown, expect: TensorExpectation = {}): tf.Tensor {
  if (!isTensor(value)) invalidArgument(who, argument, 'a tf.Tensor', value, 'Wrap the data with tf.tensor().');
  if (value.isDisposed) {
    invalidArgument(who, argument, 'a live tensor', 'a disposed tensor', 'Keep the tensor until the call returns.');
  }
  const { rank, dtypes, layout, nonEmpty = false } = expect;
  const [minRank, maxRank] = rank === undefined ? [0, Infinity] : typeof rank === 'number' ? [rank, rank] : rank;
  if (value.rank < minRank || value.rank > maxRank) {
    const wanted = minRank === maxRank ? `${minRank}` : maxRank === Infinity ? `>= ${minRank}` : `${minRank} to ${maxRank}`;
    throw new ShapeError(
      `${who}: ${argument} must have rank ${wanted}${layout ? ` ${layout}` : ''}; got shape ${describe(value.shape)}. ` +
        'Reshape it, or add the batch axis with tf.expandDims.',
    );
  }
  if (dtypes && !dtypes.includes(value.dtype)) {
    const fix = `Convert it with tf.cast(${argument}, '${dtypes[0]}').`;
    invalidArgument(who, argument, `of dtype ${dtypes.join(' or ')}`, value.dtype, fix);
  }
  if (nonEmpty && value.size === 0) {
    throw new ShapeError(`${who}: ${argument} must not be empty; got shape ${describe(value.shape)}. Pass at least one example.`);
  }
  return value;
}

/**
 * Throws a DataError saying how many values of `tensor` are NaN and how many ±Infinity, so a
 * non-finite input fails loudly instead of becoming NaN probabilities or maps. Costs one
 * reduction and a two-number read; integer and boolean tensors are finite by construction.
 */
export function assertFinite(who: string, argument: string, tensor: tf.Tensor, fix = 'Clean or impute the input first.'): void {
  if (tensor.dtype !== 'float32' || tensor.size === 0) return;
  const [nan, infinite] = tf.tidy(() =>
    tf.stack([tf.sum(tf.cast(tf.isNaN(tensor), 'int32')), tf.sum(tf.cast(tf.isInf(tensor), 'int32'))]).dataSync(),
  );
  if (nan + infinite === 0) return;
  throw new DataError(
    `${who}: ${argument} must be finite; got ${nan} NaN and ${infinite} infinite of ${tensor.size} values. ${fix}`,
  );
}

/** Throws unless `value` is an integer index into an axis of `size` entries (e.g. a class index). */
export function checkIndex(who: string, argument: string, value: unknown, size: number): number {
  if (size < 1) invalidArgument(who, argument, 'an index into a non-empty axis', value, 'The axis it indexes has size 0.');
  return checkNumber(who, argument, value, { min: 0, max: size - 1, integer: true });
}

/** Throws unless `value` is a boolean: `'false'` or `0` would otherwise read as a silent truthy/falsy. */
export function checkBoolean(who: string, argument: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalidArgument(who, argument, 'true or false', value);
  return value;
}

/**
 * Throws unless `options` is undefined or a plain object whose keys are all in `known`: a
 * misspelt option (`sample` for `samples`) is refused, naming the nearest known one, not
 * silently ignored. Every public function with an options object calls it first. `argument`
 * names the object in the message when it is not the options (a layer's `posterior` spec).
 */
export function checkOptions<T extends object>(who: string, options: T | undefined, known: readonly string[], argument = 'options'): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalidArgument(who, argument, 'an object', options);
  }
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    const list = (keys: readonly string[]) => keys.map((key) => `'${key}'`).join(', ');
    const guesses = unknown.map((key) => `'${key}' → '${nearest(key, known)}'`).join(', ');
    const noun = argument === 'options' ? 'options' : 'keys';
    throw new ArgumentError(
      `${who}: ${argument} has unknown ${list(unknown)}; did you mean ${guesses}? The known ${noun} are ${list(known)}.`,
    );
  }
  return options;
}

/**
 * The option names of an options type, for `checkOptions`: `optionKeys<CamOptions>({ method: true, ... })`.
 * The compiler requires every key of T and refuses any other, so the list cannot drift from the type.
 */
export function optionKeys<T extends object>(keys: { [K in keyof T]-?: true }): readonly string[] {
  return Object.keys(keys);
}

/** The entry of `candidates` closest to `word` (case-insensitive Levenshtein distance; first on ties). */
export function nearest(word: string, candidates: readonly string[]): string {
  let best = candidates[0] ?? '';
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Throws unless `value` looks like a tfjs-layers model (has `layers`, `predict` and `inputs`). */
export function checkModel<M extends object>(who: string, argument: string, value: M | unknown): M {
  const model = value as { layers?: unknown; predict?: unknown; inputs?: unknown } | null;
  const ok =
    typeof model === 'object' &&
    model !== null &&
    Array.isArray(model.layers) &&
    typeof model.predict === 'function' &&
    Array.isArray(model.inputs);
  if (!ok) {
    invalidArgument(who, argument, 'a tf.LayersModel', value, 'Build it with tf.sequential or tf.model, or load it.');
  }
  return value as M;
}
