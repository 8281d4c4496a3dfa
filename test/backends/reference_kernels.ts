/**
 * The compiled kernels' contract (native/kernels.cc) in plain JavaScript over typed arrays, for
 * the cpu backend: CI has no tfjs-node, so the layers' fused path is tested against these, and
 * where tfjs-node is installed the compiled kernels are tested against the same formulas.
 */
import * as tf from '@tensorflow/tfjs-core';
import { COMPILED_GRADIENT_KERNELS, COMPILED_KERNEL_GRADIENTS } from '../../src/backends/compiled_kernels';
import { FLIP_SIGNS_KERNEL } from '../../src/layers/estimators';
import { POSTERIOR_DRAW_KERNEL, SIGMA_FLOOR } from '../../src/layers/variational';
import { fillNormal, fillRademacher } from '../../src/noise';

const BACKEND = 'cpu';

interface CpuBackend {
  readSync(dataId: tf.DataId): Float32Array;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

const read = (backend: unknown, t: tf.TensorInfo) => (backend as CpuBackend).readSync(t.dataId);
const make = (backend: unknown, shape: number[], values: Float32Array) => (backend as CpuBackend).makeTensorInfo(shape, 'float32', values);
const softplus = (r: number) => Math.max(r, 0) + Math.log1p(Math.exp(-Math.abs(r)));
const sigmoid = (r: number) => 1 / (1 + Math.exp(-r));

interface DrawAttrs {
  seed: number;
  floor: number;
  priorMean: number;
  priorStddev: number;
}

const posteriorDraw: tf.KernelConfig = {
  kernelName: POSTERIOR_DRAW_KERNEL,
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { loc, rho } = inputs as Record<'loc' | 'rho', tf.TensorInfo>;
    const { seed, floor, priorMean, priorStddev } = attrs as unknown as DrawAttrs;
    const [mu, r] = [read(backend, loc), read(backend, rho)];
    const draw = fillNormal(new Float32Array(r.length), seed);
    let kl = 0;
    for (let i = 0; i < r.length; i++) {
      const sigma = Math.fround(softplus(r[i]) + floor);
      draw[i] *= sigma;
      kl += Math.log(priorStddev / sigma) + (sigma * sigma + (mu[i] - priorMean) ** 2) / (2 * priorStddev ** 2) - 0.5;
    }
    return [make(backend, rho.shape, draw), make(backend, [], Float32Array.of(kl)), make(backend, loc.shape, mu.slice())];
  },
};

const posteriorDrawGrad: tf.KernelConfig = {
  kernelName: COMPILED_GRADIENT_KERNELS.posteriorDraw,
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const names = ['dPerturbation', 'dKl', 'dLoc', 'loc', 'rho', 'perturbation'] as const;
    const [dw, [g], dm, mu, r, w] = names.map((name) => read(backend, (inputs as Record<string, tf.TensorInfo>)[name]));
    const { priorMean, priorStddev } = attrs as unknown as DrawAttrs;
    const [dLoc, dRho] = [new Float32Array(r.length), new Float32Array(r.length)];
    for (let i = 0; i < r.length; i++) {
      const sigma = softplus(r[i]) + SIGMA_FLOOR;
      dLoc[i] = dm[i] + (g * (mu[i] - priorMean)) / priorStddev ** 2;
      dRho[i] = (dw[i] * (w[i] / sigma) + g * (sigma / priorStddev ** 2 - 1 / sigma)) * sigmoid(r[i]);
    }
    const shape = (inputs as Record<'rho', tf.TensorInfo>).rho.shape;
    return [make(backend, shape, dLoc), make(backend, shape, dRho)];
  },
};

const flipSigns: tf.KernelConfig = {
  kernelName: FLIP_SIGNS_KERNEL,
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { t } = inputs as Record<'t', tf.TensorInfo>;
    const values = read(backend, t);
    const [batch, channels] = [t.shape[0], t.shape[t.shape.length - 1]];
    const signs = fillRademacher(new Float32Array(batch * channels), (attrs as { seed: number }).seed);
    const perExample = values.length / batch;
    const out = values.map((v, i) => v * signs[Math.floor(i / perExample) * channels + (i % channels)]);
    return make(backend, t.shape, out);
  },
};

/** Counts of the reference kernels' calls since the last registration. */
export const calls = { draw: 0, flipSigns: 0 };

const counted = (config: tf.KernelConfig, key: keyof typeof calls): tf.KernelConfig => ({
  ...config,
  kernelFunc: (args) => {
    calls[key] += 1;
    return config.kernelFunc(args);
  },
});

/** Registers the reference kernels on cpu, with the compiled kernels' own gradients; returns the function that unregisters them. */
export function registerReferenceKernels(): () => void {
  calls.draw = 0;
  calls.flipSigns = 0;
  const kernels = [counted(posteriorDraw, 'draw'), posteriorDrawGrad, counted(flipSigns, 'flipSigns')];
  kernels.forEach((kernel) => tf.registerKernel(kernel));
  COMPILED_KERNEL_GRADIENTS.forEach((gradient) => tf.registerGradient(gradient));
  return () => kernels.forEach((kernel) => tf.unregisterKernel(kernel.kernelName, BACKEND));
}
