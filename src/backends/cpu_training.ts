/**
 * Speeds up training on the pure-JS CPU backend. `@tensorflow/tfjs-backend-cpu` 4.22 computes the
 * filter gradient of a convolution (`Conv2DBackpropFilter`) with a direct loop 35–60× slower than
 * the forward convolution, which dominates a training step; `registerCpuTrainingKernels()` (from
 * `tfjs-trust/node`; `selectBackend` calls it when it picks `cpu`) replaces it with the per-tap matMuls of
 * `conv_gradients.ts`, 8–40× faster. Its input and depthwise gradients beat ours and stay.
 * Importing registers nothing.
 */
import { registerTrainingKernels, trainingKernels } from './training_kernels';

export type { TrainingKernel } from './training_kernels';

/** The kernels this module registers for the CPU backend, by tfjs kernel name. */
export const CPU_TRAINING_KERNELS = trainingKernels('cpu');

/** Registers the faster gradient kernels for the `cpu` backend (idempotent); returns the names this call registered. */
export function registerCpuTrainingKernels(): string[] {
  return registerTrainingKernels('cpu');
}

