/**
 * Lets models train on the WASM backend. `@tensorflow/tfjs-backend-wasm` 4.22 runs the forward
 * pass of a CNN fast but has no kernel for the filter gradient of a convolution
 * (`Conv2DBackpropFilter`) nor for either gradient of a depthwise convolution, so `model.fit`
 * throws "Cannot find registered kernel". Its `Conv2DBackpropInput` exists but is a direct loop,
 * about 10× slower than the forward convolution; and it lacks `UnsortedSegmentSum`, which the
 * gradient of gather (an embedding lookup) needs. `registerWasmTrainingKernels()` (from
 * `tfjs-trust/wasm-training` or `tfjs-trust/node`) registers the missing kernels and replaces the
 * slow one, all built from kernels WASM runs fast (see `conv_gradients.ts`, `segment_sum.ts`).
 * Importing registers nothing: kernels are global state, changed only by that call.
 */
import { checkTfjsCore } from '../compatibility';
import { registerTrainingKernels, trainingKernels } from './training_kernels';

export type { TrainingKernel } from './training_kernels';

/** The kernels this module registers for the WASM backend, by tfjs kernel name. */
export const WASM_TRAINING_KERNELS = trainingKernels('wasm');

/**
 * Registers the gradient kernels for the `wasm` backend (idempotent); returns the names this call
 * registered. Import `@tensorflow/tfjs-backend-wasm` (or select it with `selectBackend`) first.
 */
export function registerWasmTrainingKernels(): string[] {
  return registerTrainingKernels('wasm');
}

checkTfjsCore();
