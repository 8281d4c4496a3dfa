/**
 * Refuses, at import, a @tensorflow/tfjs-core that tfjs-trust cannot run on. Every entry point
 * imports this module first. The failure it prevents is silent: when the app's tfjs is older than
 * the peer range, npm nests a second tfjs-core for tfjs-trust; both copies share tfjs' global
 * engine but not its classes, so a tensor of one copy fails the other's `instanceof Tensor` and tfjs
 * later crashes far away ("Tensor must have a shape comprised of positive integers but got shape [,4]").
 */
import * as tf from '@tensorflow/tfjs-core';
import { TrustError } from './errors';

/** The @tensorflow/tfjs-core versions tfjs-trust supports: package.json's peer range (a test keeps them equal). */
export const TFJS_CORE_RANGE = '^4.22.0';

/** What the app can see of the tfjs-core loaded with tfjs-trust, for `tfjsCoreProblem`. */
export interface LoadedTfjsCore {
  /** The version tfjs-trust imported (`tf.version_core`). */
  version: string;
  /** Whether tfjs' global engine was made by that same copy (false: another copy loaded first). */
  sameCopy: boolean;
  /** The version of the app's copy, when another copy is loaded and its version can be found (Node). */
  appVersion?: string;
}

function parts(version: string): number[] {
  return version.split('-')[0].split('.').map(Number);
}

/** Whether `version` satisfies a caret range `^M.m.p` (same major, at least M.m.p). */
export function satisfiesCaret(version: string, range: string): boolean {
  const [major, minor, patch] = parts(version);
  const [rMajor, rMinor, rPatch] = parts(range.replace(/^\^/, ''));
  if (major !== rMajor) return false;
  return minor !== rMinor ? minor > rMinor : patch >= rPatch;
}

/** The one-line error for an unsupported or duplicated tfjs-core, or null when all is well. */
export function tfjsCoreProblem(loaded: LoadedTfjsCore): string | null {
  const check = 'then `npm ls @tensorflow/tfjs-core` must list a single version';
  if (!satisfiesCaret(loaded.version, TFJS_CORE_RANGE)) {
    return (
      `tfjs-trust: @tensorflow/tfjs-core ${loaded.version} is not supported; tfjs-trust needs ${TFJS_CORE_RANGE}. ` +
      `Fix: npm install @tensorflow/tfjs-core@${TFJS_CORE_RANGE} @tensorflow/tfjs-layers@${TFJS_CORE_RANGE} (or @tensorflow/tfjs@${TFJS_CORE_RANGE}), ${check}.`
    );
  }
  if (loaded.sameCopy) return null;
  const other = loaded.appVersion ?? 'another copy';
  return (
    `tfjs-trust: two copies of @tensorflow/tfjs-core are loaded, ${other} (the app's) and ${loaded.version} (tfjs-trust's); ` +
    `they share one engine but not the Tensor class, so tensors break. Fix: use one version in ${TFJS_CORE_RANGE} everywhere ` +
    `(npm install @tensorflow/tfjs@${loaded.version}, or the @tensorflow/* packages you use at ${loaded.version}), ${check} (npm dedupe).`
  );
}

type NodeModuleApi = { createRequire: (from: string) => { cache: Record<string, unknown>; (id: string): { version?: string } } };

/**
 * The version of the other tfjs-core copy loaded in this process, in Node only, or undefined.
 * tfjs-core is CommonJS, so every copy, imported or required, sits in the module cache; the copy
 * whose version differs from ours is the app's. Reached through `process.getBuiltinModule`
 * because this module is isomorphic: a `node:*` import would break browser bundles.
 */
function otherTfjsCoreVersion(ours: string): string | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const moduleApi = proc?.getBuiltinModule?.('node:module') as NodeModuleApi | undefined;
  if (!moduleApi) return undefined;
  const load = moduleApi.createRequire('/');
  const roots = new Set(Object.keys(load.cache).map((file) => /^(.*[\\/]@tensorflow[\\/]tfjs-core)[\\/]/.exec(file)?.[1]).filter((root) => root !== undefined));
  const versions = [...roots].map((root) => load(`${root}/package.json`).version);
  return versions.find((version) => version !== undefined && version !== ours);
}

function checkTfjsCore(): void {
  // tfjs-core keeps its engine in a global: a copy loaded earlier made it with its own Environment class.
  const sameCopy = tf.env() instanceof tf.Environment;
  const appVersion = sameCopy ? undefined : otherTfjsCoreVersion(tf.version_core);
  const problem = tfjsCoreProblem({ version: tf.version_core, sameCopy, appVersion });
  if (problem !== null) throw new TrustError(problem);
}

checkTfjsCore();
