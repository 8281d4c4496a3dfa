/**
 * The one place the core speaks without being asked: a deprecated call form (kept working for one
 * minor version, see docs/conventions.md) prints a single `console.warn` the first time it is used, then
 * stays silent. Everything else the library reports through return values and errors.
 */

const noticed = new Set<string>();

/**
 * Warns once per `form` that it is deprecated, saying what to write instead and when it goes.
 * `form` names the old call shape, e.g. `'deletionCurve(model, images, maps, classIdx)'`.
 */
export function deprecated(form: string, replacement: string, removedIn = REMOVED_IN): void {
  if (noticed.has(form)) return;
  noticed.add(form);
  console.warn(`tfjs-trust: ${form} is deprecated and will be removed in ${removedIn}; use ${replacement}.`);
}

/** The version that drops the forms deprecated in this one. */
export const REMOVED_IN = '0.3.0';

/** Forgets which notices were shown, so a test can see each one again. Internal. */
export function resetDeprecationNotices(): void {
  noticed.clear();
}
