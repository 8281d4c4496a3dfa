/**
 * The library's own errors. Each message says who complained, which argument, what was expected,
 * what was found and, where there is one, the fix, so a user never has to read a tfjs stack trace.
 */

/** Base class: catch this to catch every error the library raises on purpose. */
export class TrustError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An argument or option has a value outside what the function accepts. */
export class ArgumentError extends TrustError {}

/** A tensor or model has a shape (or rank) the function cannot work with. */
export class ShapeError extends TrustError {}

/** Input data (an image, a CSV row, a model file) is unusable. */
export class DataError extends TrustError {}

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
