/**
 * tfjs-trust's own TensorFlow kernels (native/kernels.cc) for the `tensorflow` backend: the
 * variational layers' per-step work in one pass each where tfjs' eager ops make several, and their
 * noise drawn in C++ instead of JavaScript. `scripts/tfjs-node-offline.sh` compiles them beside
 * tfjs-node's addon, against the same TensorFlow; loading the file registers the ops with
 * TensorFlow, and the kernels below run them by name, as tfjs-node runs its own.
 *
 * - **A training step's posterior draw** (`POSTERIOR_DRAW_KERNEL`): ε, σ = softplus(ρ) + floor,
 *   ΔW = σ ⊙ ε and the Normal prior's KL in one pass, and its gradient in one more.
 * - **Flipout's sign flips** (`FLIP_SIGNS_KERNEL`): x ⊙ s without the signs as a tensor.
 * - **Noise** (`NORMAL_NOISE_KERNEL`, `RADEMACHER_NOISE_KERNEL`): the same xoshiro128** and ziggurat
 *   as src/noise.ts, bit for bit, ~3× faster, drawn where the backend keeps its tensors.
 * - **σ** (`SIGMA_KERNEL`) and **the Normal prior's KL** (`NORMAL_KL_KERNEL`), where the draw does
 *   not apply: one pass each way.
 *
 * Absent (tfjs-node installed from npm, or the compiler step skipped), nothing changes: tfjs' ops run.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { FLIP_SIGNS_KERNEL } from '../layers/estimators';
import { NORMAL_KL_KERNEL } from '../layers/priors';
import { POSTERIOR_DRAW_KERNEL, SIGMA_KERNEL } from '../layers/variational';
import { NORMAL_NOISE_KERNEL, RADEMACHER_NOISE_KERNEL } from '../random';
import { type NativeBackend, type OpAttr, NATIVE_BACKEND, SOFTPLUS_GRAD_KERNEL } from './native_backend';

/** The compiled file's name, beside tfjs-node's `tfjs_binding.node`. */
export const COMPILED_KERNELS_FILE = 'tfjs_trust_kernels.node';
/** Set to `off` to keep tfjs' ops even where the compiled kernels are present (for comparisons). */
export const COMPILED_KERNELS_ENV = 'TFJS_TRUST_COMPILED_KERNELS';

/** Whether the compiled kernels are loaded, where from, or why not. */
export interface CompiledKernelsStatus {
  loaded: boolean;
  /** The file loaded, or looked for. */
  file?: string;
  /** Why they are not loaded. */
  reason?: string;
}

let status: CompiledKernelsStatus | undefined;

/**
 * Loads the compiled kernels once per process, from beside the tfjs-node addon this process
 * loaded (so they match its TensorFlow), and says whether they are there.
 */
export function loadCompiledKernels(env: NodeJS.ProcessEnv = process.env): CompiledKernelsStatus {
  if (env[COMPILED_KERNELS_ENV] === 'off') return { loaded: false, reason: `${COMPILED_KERNELS_ENV}=off` };
  if (status) return status;
  const binding = Object.keys(createRequire(path.resolve('index.js')).cache).find((file) => path.basename(file) === 'tfjs_binding.node');
  if (binding === undefined) return { loaded: false, reason: 'tfjs-node is not loaded' };
  const file = path.join(path.dirname(binding), COMPILED_KERNELS_FILE);
  if (!fs.existsSync(file)) {
    status = { loaded: false, file, reason: `${file} is absent (npm run setup:native compiles it)` };
    return status;
  }
  const addon = { exports: {} as { registered?: boolean } };
  try {
    process.dlopen(addon, file);
    status = addon.exports.registered ? { loaded: true, file } : { loaded: false, file, reason: 'TensorFlow refused its ops' };
  } catch (error) {
    status = { loaded: false, file, reason: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
  return status;
}

function floatAttr(native: NativeBackend, name: string, value: number): OpAttr {
  return { name, type: native.binding.TF_ATTR_FLOAT, value };
}

/** One of native/kernels.cc's ops, run by the tfjs kernel of the same name. */
interface CompiledOp {
  name: string;
  /** The tfjs inputs, in the op's order. */
  inputs: readonly string[];
  /** The op's attributes, from the kernel's. */
  attrs?: (native: NativeBackend, attrs: tf.NamedAttrMap) => OpAttr[];
  /**
   * Int32 inputs made from the kernel's attributes, after the others: seeds and shapes vary from
   * call to call, and TensorFlow would cache a kernel for each value of an attribute.
   */
  int32Inputs?: (attrs: tf.NamedAttrMap) => tf.Tensor[];
  outputs?: number;
}

function compiledKernel(op: CompiledOp): tf.KernelConfig {
  return {
    kernelName: op.name,
    backendName: NATIVE_BACKEND,
    kernelFunc: ({ inputs, backend, attrs = {} }) => {
      const native = backend as unknown as NativeBackend;
      const int32Inputs = op.int32Inputs?.(attrs) ?? [];
      try {
        const all = [...op.inputs.map((name) => (inputs as Record<string, tf.TensorInfo>)[name]), ...int32Inputs];
        const opAttrs = op.attrs?.(native, attrs) ?? [];
        const outputs = op.outputs ?? 1;
        return outputs === 1 ? native.executeSingleOutput(op.name, opAttrs, all) : native.executeMultipleOutputs(op.name, opAttrs, all, outputs);
      } finally {
        tf.dispose(int32Inputs);
      }
    },
  };
}

const seedInput = (attrs: tf.NamedAttrMap) => [tf.scalar((attrs as { seed: number }).seed | 0, 'int32')];
const noiseInputs = (attrs: tf.NamedAttrMap) => [tf.tensor1d((attrs as { shape: number[] }).shape, 'int32'), ...seedInput(attrs)];
const priorAttrs = (native: NativeBackend, attrs: tf.NamedAttrMap) => {
  const { priorMean, priorStddev } = attrs as { priorMean: number; priorStddev: number };
  return [floatAttr(native, 'prior_mean', priorMean), floatAttr(native, 'prior_stddev', priorStddev)];
};
const floorAttr = (native: NativeBackend, attrs: tf.NamedAttrMap) => [floatAttr(native, 'floor', (attrs as { floor: number }).floor)];
const posteriorAttrs = (native: NativeBackend, attrs: tf.NamedAttrMap) => [...floorAttr(native, attrs), ...priorAttrs(native, attrs)];

const NORMAL_KL_GRAD_KERNEL = 'TfjsTrustNormalKlGrad';
const POSTERIOR_DRAW_GRAD_KERNEL = 'TfjsTrustNormalPosteriorDrawGrad';

const KERNELS = [
  compiledKernel({ name: NORMAL_NOISE_KERNEL, inputs: [], int32Inputs: noiseInputs }),
  compiledKernel({ name: RADEMACHER_NOISE_KERNEL, inputs: [], int32Inputs: noiseInputs }),
  compiledKernel({ name: FLIP_SIGNS_KERNEL, inputs: ['t'], int32Inputs: seedInput }),
  compiledKernel({ name: SIGMA_KERNEL, inputs: ['rho'], attrs: floorAttr }),
  compiledKernel({ name: NORMAL_KL_KERNEL, inputs: ['loc', 'sigma'], attrs: priorAttrs }),
  compiledKernel({ name: NORMAL_KL_GRAD_KERNEL, inputs: ['dy', 'loc', 'sigma'], attrs: priorAttrs, outputs: 2 }),
  compiledKernel({ name: POSTERIOR_DRAW_KERNEL, inputs: ['loc', 'rho'], attrs: posteriorAttrs, int32Inputs: seedInput, outputs: 3 }),
  compiledKernel({
    name: POSTERIOR_DRAW_GRAD_KERNEL,
    inputs: ['dPerturbation', 'dKl', 'dLoc', 'loc', 'rho', 'perturbation'],
    attrs: posteriorAttrs,
    outputs: 2,
  }),
];

/**
 * The compiled kernels' gradients, for any backend that registers kernels of these names (the
 * tests register JavaScript ones on cpu): each in one kernel call.
 */
export const COMPILED_KERNEL_GRADIENTS: readonly tf.GradConfig[] = [
  // Flipping signs is its own gradient: the same signs again (s ⊙ s = 1).
  {
    kernelName: FLIP_SIGNS_KERNEL,
    gradFunc: (dy, _saved, attrs) => ({ t: () => tf.engine().runKernel(FLIP_SIGNS_KERNEL, { t: dy as tf.Tensor }, attrs) as tf.Tensor }),
  },
  // d softplus(ρ) / dρ = sigmoid(ρ), by the fused kernel registerNativeTrainingKernels installs.
  {
    kernelName: SIGMA_KERNEL,
    inputsToSave: ['rho'],
    gradFunc: (dy, [rho]) => ({ rho: () => tf.engine().runKernel(SOFTPLUS_GRAD_KERNEL, { dy: dy as tf.Tensor, x: rho }) as tf.Tensor }),
  },
  // ∂KL/∂μ = (μ − m)/s², ∂KL/∂σ = σ/s² − 1/σ, both times dy.
  {
    kernelName: NORMAL_KL_KERNEL,
    inputsToSave: ['loc', 'sigma'],
    gradFunc: (dy, [loc, sigma], attrs) => {
      const [dLoc, dSigma] = tf.engine().runKernel(NORMAL_KL_GRAD_KERNEL, { dy: dy as tf.Tensor, loc, sigma }, attrs) as tf.Tensor[];
      return { loc: () => dLoc, sigma: () => dSigma };
    },
  },
  // [ΔW, KL, μ passed through] with respect to μ and ρ (native/kernels.cc says how).
  {
    kernelName: POSTERIOR_DRAW_KERNEL,
    inputsToSave: ['loc', 'rho'],
    outputsToSave: [true, false, false],
    gradFunc: (dys, [loc, rho, perturbation], attrs) => {
      const [dPerturbation, dKl, dLoc] = dys as tf.Tensor[];
      const inputs = { dPerturbation, dKl, dLoc, loc, rho, perturbation };
      const [locGradient, rhoGradient] = tf.engine().runKernel(POSTERIOR_DRAW_GRAD_KERNEL, inputs, attrs) as tf.Tensor[];
      return { loc: () => locGradient, rho: () => rhoGradient };
    },
  },
];

/** The kernel names the gradients above call, for a backend that registers the kernels. */
export const COMPILED_GRADIENT_KERNELS = { normalKl: NORMAL_KL_GRAD_KERNEL, posteriorDraw: POSTERIOR_DRAW_GRAD_KERNEL } as const;

/** Registers the compiled kernels for `tensorflow` when they load (idempotent); returns whether this call changed anything. */
export function registerCompiledKernels(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!loadCompiledKernels(env).loaded) return false;
  let changed = false;
  for (const kernel of KERNELS) {
    if (tf.getKernel(kernel.kernelName, NATIVE_BACKEND) !== undefined) continue;
    tf.registerKernel(kernel);
    changed = true;
  }
  for (const gradient of COMPILED_KERNEL_GRADIENTS) {
    if (tf.getGradient(gradient.kernelName) === gradient) continue;
    tf.registerGradient(gradient);
    changed = true;
  }
  return changed;
}
