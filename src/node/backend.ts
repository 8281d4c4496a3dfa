import * as tf from '@tensorflow/tfjs-core';
import { registerCpuTrainingKernels } from '../backends/cpu_training';
import { registerNativeTrainingKernels } from '../backends/native_training';
import { registerWasmTrainingKernels } from '../backends/wasm_training';
import { TrustError } from '../errors';
import { checkOneOf, checkOptions, optionKeys } from '../validation';

/** The backends tfjs-trust knows how to bring up in Node, fastest first. */
export const BACKENDS = ['cuda', 'tensorflow', 'wasm', 'cpu'] as const;
/** The name of a backend `selectBackend` can choose (tfjs-trust's name, not always tfjs's). */
export type BackendName = (typeof BACKENDS)[number];

/** Environment variable that overrides the choice, e.g. `TFJS_TRUST_BACKEND=wasm`. */
export const BACKEND_ENV = 'TFJS_TRUST_BACKEND';

/** What `probeBackend` found out about one backend. */
export interface BackendProbe {
  /** The backend tried. */
  name: BackendName;
  /** Whether its package loaded and registered the backend. */
  available: boolean;
  /** Why it is absent (the import error), or which package provides it. */
  detail: string;
}

/**
 * tfjs-node registers its backend as 'tensorflow'; the GPU build uses the same name. `install`
 * says how to add an absent optional backend (tfjs-node's own install downloads libtensorflow;
 * without network, a clone of this repository builds it with `npm run setup:native`).
 */
const PROVIDERS: Record<BackendName, { module: string; tfName: string; install?: string }> = {
  cuda: { module: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow', install: 'npm install @tensorflow/tfjs-node-gpu (needs CUDA)' },
  tensorflow: {
    module: '@tensorflow/tfjs-node',
    tfName: 'tensorflow',
    install: 'npm install @tensorflow/tfjs-node, or without network `npm run setup:native` (docs/backends.md)',
  },
  wasm: { module: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  cpu: { module: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu' },
};

/** How a provider module is loaded; replaced in tests to simulate machines with other packages. */
export type ModuleLoader = (name: string) => Promise<unknown>;
const defaultLoader: ModuleLoader = (name) => import(name);

/** Tries to load the package behind one backend and reports whether it registered. */
export async function probeBackend(name: BackendName, load: ModuleLoader = defaultLoader): Promise<BackendProbe> {
  const { module, tfName, install } = PROVIDERS[name];
  try {
    await load(module);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { name, available: false, detail: `${module} could not be loaded: ${reason}${install ? `; to add it: ${install}` : ''}` };
  }
  const registered = tf.findBackendFactory(tfName) !== null;
  return {
    name,
    available: registered,
    detail: registered ? `provided by ${module}` : `${module} loaded but registered no '${tfName}' backend`,
  };
}

/** Options of `selectBackend`: force a backend, or replace the environment and loader (for tests). */
export interface SelectBackendOptions {
  /** Use exactly this backend (fails if absent). Default: the `TFJS_TRUST_BACKEND` variable, else the fastest present. */
  backend?: BackendName;
  /** Where to read the override from; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /** How provider packages are loaded. Default: a dynamic `import`; tests pass a fake. */
  load?: ModuleLoader;
}

/** The result of `selectBackend`: the active backend, what was tried, and a line to print. */
export interface SelectedBackend {
  /** The backend now active. */
  name: BackendName;
  /** What was tried, in order, and why each absent one is absent. */
  probes: BackendProbe[];
  /** One short line for the user: which backend runs, why, and which faster ones are absent. */
  message: string;
  /** The same line with why each absent backend is absent (import errors, paths): for `--verbose`. */
  details: string;
}

/** What `selectBackend` registers for the backend it activates, by tfjs backend name. */
const TRAINING_KERNELS: Partial<Record<string, () => unknown>> = {
  tensorflow: registerNativeTrainingKernels,
  wasm: registerWasmTrainingKernels,
  cpu: registerCpuTrainingKernels,
};

/**
 * Picks and activates the fastest backend present (native CUDA, native TensorFlow, WASM, then
 * the pure-JS CPU backend), or the one the caller or `TFJS_TRUST_BACKEND` names, and says which.
 * tfjs-node is an optional dependency: where it is not installed, the next one is used. It then
 * registers the chosen backend's training kernels (`registerNativeTrainingKernels`,
 * `registerWasmTrainingKernels`, `registerCpuTrainingKernels`): the one global change it makes,
 * and the only place the pipeline makes it (importing changes nothing; docs/backends.md).
 */
export async function selectBackend(given: SelectBackendOptions = {}): Promise<SelectedBackend> {
  const options = checkOptions('selectBackend', given, optionKeys<SelectBackendOptions>({ backend: true, env: true, load: true }));
  const env = options.env ?? process.env;
  const requested = options.backend ?? (env[BACKEND_ENV] || undefined);
  const wanted = requested === undefined ? undefined : checkOneOf('selectBackend', 'backend', requested, BACKENDS);
  const probes: BackendProbe[] = [];
  for (const name of wanted ? [wanted] : BACKENDS) {
    const probe = await probeBackend(name, options.load);
    probes.push(probe);
    if (!probe.available) continue;
    const ok = await tf.setBackend(PROVIDERS[name].tfName);
    if (!ok) {
      probe.available = false;
      probe.detail = `${PROVIDERS[name].module} is installed but its backend failed to initialise`;
      continue;
    }
    await tf.ready();
    TRAINING_KERNELS[PROVIDERS[name].tfName]?.();
    const absent = probes.filter((p) => !p.available);
    const why = wanted ? `requested${options.backend ? '' : ` by ${BACKEND_ENV}`}` : 'fastest present';
    const line = `tfjs-trust: using the '${name}' backend (${why})`;
    return {
      name,
      probes,
      message: `${line}${absent.length ? `; absent: ${absent.map((p) => p.name).join(', ')}` : ''}`,
      details: `${line}${absent.length ? `; absent: ${absent.map((p) => `${p.name} (${p.detail})`).join('; ')}` : ''}`,
    };
  }
  const details = probes.map((p) => `${p.name}: ${p.detail}`).join('; ');
  throw new TrustError(
    `selectBackend: no usable backend${wanted ? ` for '${wanted}'` : ''} (${details}). ` +
      (wanted ? `Install ${PROVIDERS[wanted].module} or choose another backend.` : 'Install @tensorflow/tfjs-backend-cpu.'),
  );
}
