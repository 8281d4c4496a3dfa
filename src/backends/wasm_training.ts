/**
 * Lets models train on the WASM backend. `@tensorflow/tfjs-backend-wasm` 4.22 runs the forward
 * pass of a CNN fast but has no kernel for the filter gradient of a convolution
 * (`Conv2DBackpropFilter`) nor for either gradient of a depthwise convolution, so `model.fit`
 * throws "Cannot find registered kernel". Its `Conv2DBackpropInput` exists but is a direct loop,
 * about 10× slower than the forward convolution. Importing this module (`tfjs-trust/wasm-training`,
 * or `tfjs-trust/node`, which imports it) registers the missing kernels and replaces the slow one,
 * all built from kernels WASM runs fast (see `conv_gradients.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
// Its kernels must be registered before ours, or it would overwrite the one this module replaces.
import '@tensorflow/tfjs-backend-wasm';
import { ArgumentError } from '../errors';
import { conv2dFilterGradient, conv2dInputGradient, depthwiseFilterGradient, depthwiseInputGradient } from './conv_gradients';

const WASM = 'wasm';

/**
 * Kernel inputs: tfjs passes the op's tensors themselves (each `TensorInfo` is a `Tensor`), so
 * ops run on them directly; the kernel's result is returned as a Tensor, which tfjs accepts.
 */
type Inputs<Name extends string> = Record<Name, tf.Tensor4D>;

/** The WASM backend runs convolutions channels-last only (as its Conv2D kernel says); so do these gradients. */
function checkChannelsLast(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new ArgumentError(
      `${kernelName} (wasm, tfjs-trust): dataFormat must be 'NHWC'; got '${dataFormat}'. The wasm backend's convolutions are channels-last only.`,
    );
  }
}

const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, attrs }) => {
  const { x, dy } = inputs as Inputs<'x' | 'dy'>;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  checkChannelsLast(tf.Conv2DBackpropFilter, dataFormat);
  // tfjs' Conv2DBackpropFilter has no dilation attribute: its conv2d gradient refuses dilation > 1.
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode);
  return conv2dFilterGradient(x, dy, info);
};

const conv2DBackpropInput: tf.KernelFunc = ({ inputs, attrs }) => {
  const { dy, filter } = inputs as Inputs<'dy' | 'filter'>;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  checkChannelsLast(tf.Conv2DBackpropInput, dataFormat);
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode);
  return conv2dInputGradient(dy, filter, info);
};

const depthwiseBackpropFilter: tf.KernelFunc = ({ inputs, attrs }) => {
  const { x, dy } = inputs as Inputs<'x' | 'dy'>;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, dilations, pad, dimRoundingMode, true);
  return depthwiseFilterGradient(x, dy, info);
};

const depthwiseBackpropInput: tf.KernelFunc = ({ inputs, attrs }) => {
  const { dy, filter } = inputs as Inputs<'dy' | 'filter'>;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true);
  return depthwiseInputGradient(dy, filter, info);
};

/**
 * The kernels this module registers for the WASM backend, by tfjs kernel name. `replaces` marks a
 * kernel WASM has but runs slowly; the others are missing from it.
 */
export const WASM_TRAINING_KERNELS: ReadonlyArray<{ kernelName: string; kernelFunc: tf.KernelFunc; replaces: boolean }> = [
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilter, replaces: false },
  { kernelName: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInput, replaces: true },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, kernelFunc: depthwiseBackpropFilter, replaces: false },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, kernelFunc: depthwiseBackpropInput, replaces: false },
];

/**
 * Registers the gradient kernels for the `wasm` backend. Idempotent: a kernel already registered
 * (by an earlier call, or natively by a newer tfjs-backend-wasm, unless it is one this module
 * replaces) is left alone. Returns the names registered by this call.
 */
export function registerWasmTrainingKernels(): string[] {
  const registered: string[] = [];
  for (const { kernelName, kernelFunc, replaces } of WASM_TRAINING_KERNELS) {
    const current = tf.getKernel(kernelName, WASM);
    if (current !== undefined && (current.kernelFunc === kernelFunc || !replaces)) continue;
    // Unregistering first keeps tfjs from logging an "already registered" warning.
    if (current !== undefined) tf.unregisterKernel(kernelName, WASM);
    tf.registerKernel({ kernelName, backendName: WASM, kernelFunc });
    registered.push(kernelName);
  }
  return registered;
}

registerWasmTrainingKernels();
