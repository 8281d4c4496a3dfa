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
