/**
 * Refuses, at import, a @tensorflow/tfjs-core that tfjs-trust cannot run on (`checkTfjsCore`,
 * called by every entry point). The failure it prevents is silent: when the app's tfjs is older than
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
  /** Whether it is the only copy (false: another copy made tfjs' global engine, or the app resolves another version). */
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
    `tfjs-trust: two copies of @tensorflow/tfjs-core, ${other} (the app's) and ${loaded.version} (tfjs-trust's); ` +
    `once both load they share one engine but not the Tensor class, so tensors break. Fix: use one version in ${TFJS_CORE_RANGE} everywhere ` +
    `(npm install @tensorflow/tfjs@${loaded.version}, or the @tensorflow/* packages you use at ${loaded.version}), ${check} (npm dedupe).`
  );
}

type NodeRequire = { cache: Record<string, unknown>; resolve: (id: string) => string; (id: string): { version?: string } };
type NodeProcess = { argv?: string[]; cwd?: () => string; getBuiltinModule?: (id: string) => unknown };

/** The packages through which an app reaches tfjs-core: itself, or a tfjs package that depends on it. */
const TFJS_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/** The tfjs-core copies Node can see: those loaded and those the app would load (root folder → version). */
interface NodeTfjsCores {
  loaded: Map<string, string | undefined>;
  app: Map<string, string | undefined>;
}

/**
 * What Node knows of the tfjs-core copies, or undefined elsewhere. tfjs-core is CommonJS, so every
 * copy, imported or required, sits in the module cache; the app's are resolved from its main script
 * (or the working folder), directly or through @tensorflow/tfjs and co. Reached through
 * `process.getBuiltinModule` because this module is isomorphic: a `node:*` import would break
 * browser bundles.
 */
function nodeTfjsCores(): NodeTfjsCores | undefined {
  const proc = (globalThis as { process?: NodeProcess }).process;
  const moduleApi = proc?.getBuiltinModule?.('node:module') as { createRequire: (from: string) => NodeRequire } | undefined;
  if (!proc || !moduleApi) return undefined;
  const load = moduleApi.createRequire('/');
  const rootOf = (file: string) => /^(.*[\\/]@tensorflow[\\/]tfjs-core)[\\/]/.exec(file)?.[1];
  const version = (root: string) => load(`${root}/package.json`).version;
  const resolve = (from: string, id: string) => {
    try {
      return moduleApi.createRequire(from).resolve(`${id}/package.json`);
    } catch {
      return undefined;
    }
  };
  const loaded = new Map<string, string | undefined>();
  for (const file of Object.keys(load.cache)) {
    const root = rootOf(file);
    if (root !== undefined && !loaded.has(root)) loaded.set(root, version(root));
  }
  const app = new Map<string, string | undefined>();
  const main = proc.argv?.[1] ?? `${proc.cwd?.()}/[eval]`;
  for (const id of TFJS_PACKAGES) {
    const entry = resolve(main, id);
    const core = entry === undefined || id === TFJS_PACKAGES[0] ? entry : resolve(entry, TFJS_PACKAGES[0]);
    const root = core === undefined ? undefined : rootOf(core);
    if (root !== undefined && !app.has(root)) app.set(root, version(root));
  }
  return { loaded, app };
}

/**
 * Whether another tfjs-core is in play, and its version: a copy loaded earlier made tfjs' global
 * engine with its own Environment class; in Node, any copy of another version loaded, or reached by
 * the app and so loaded later (Node runs the CommonJS modules an ES module imports before its body).
 */
function otherTfjsCore(ours: string): { present: boolean; version?: string } {
  const cores = nodeTfjsCores();
  const differs = (copies: Map<string, string | undefined>) => [...copies.values()].find((version) => version !== undefined && version !== ours);
  const other = cores && differs(new Map([...cores.loaded, ...cores.app]));
  return { present: other !== undefined || !(tf.env() instanceof tf.Environment), version: other };
}

/**
 * Throws the one-line error of `tfjsCoreProblem` when the tfjs-core in use is unsupported or not the
 * app's only copy. Every entry point calls it in its own body: a bare `import './compatibility'`
 * would be dropped by bundlers, since package.json's `sideEffects` does not list the sources.
 */
export function checkTfjsCore(): void {
  const other = otherTfjsCore(tf.version_core);
  const problem = tfjsCoreProblem({ version: tf.version_core, sameCopy: !other.present, appVersion: other.version });
  if (problem !== null) throw new TrustError(problem);
}

