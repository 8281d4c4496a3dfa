/**
 * Registers the convolution gradients of `conv_gradients.ts` (and the segment sum of gather's
 * gradient, `segment_sum.ts`) as tfjs kernels of a backend. Which
 * kernels each backend gets is measured, not assumed (figures in docs/backends.md): WASM lacks
 * most of them; the CPU backend has them all, but its `Conv2DBackpropFilter` is a direct loop 8–40×
 * slower than the matMuls here, while its other three gradients beat ours, so they stay.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError, TrustError } from '../errors';
import { conv2dFilterGradient, conv2dInputGradient, depthwiseFilterGradient, depthwiseInputGradient } from './conv_gradients';
import { unsortedSegmentSum } from './segment_sum';

/**
 * Kernel inputs: tfjs passes the op's tensors themselves (each `TensorInfo` is a `Tensor`), so
 * ops run on them directly; the kernel's result is returned as a Tensor, which tfjs accepts.
 */
type Inputs<Name extends string> = Record<Name, tf.Tensor4D>;

/** A kernel on channels-last tensors: the kernel without its data-format handling. */
type ChannelsLastKernel = (inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) => tf.Tensor;

const KERNELS = {
  [tf.Conv2DBackpropFilter]: (inputs, attrs) => {
    const { x, dy } = inputs as Inputs<'x' | 'dy'>;
    const { strides, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    // tfjs' Conv2DBackpropFilter has no dilation attribute: its conv2d gradient refuses dilation > 1.
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode);
    return conv2dFilterGradient(x, dy, info);
  },
  [tf.Conv2DBackpropInput]: (inputs, attrs) => {
    const { dy, filter } = inputs as Inputs<'dy' | 'filter'>;
    const { strides, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode);
    return conv2dInputGradient(dy, filter, info);
  },
  [tf.DepthwiseConv2dNativeBackpropFilter]: (inputs, attrs) => {
    const { x, dy } = inputs as Inputs<'x' | 'dy'>;
    const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, dilations, pad, dimRoundingMode, true);
    return depthwiseFilterGradient(x, dy, info);
  },
  [tf.DepthwiseConv2dNativeBackpropInput]: (inputs, attrs) => {
    const { dy, filter } = inputs as Inputs<'dy' | 'filter'>;
    const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true);
    return depthwiseInputGradient(dy, filter, info);
  },
  [tf.UnsortedSegmentSum]: (inputs, attrs) => {
    const { x, segmentIds } = inputs as Record<'x' | 'segmentIds', tf.Tensor>;
    return unsortedSegmentSum(x, segmentIds as tf.Tensor1D, (attrs as unknown as tf.UnsortedSegmentSumAttrs).numSegments);
  },
} satisfies Record<string, ChannelsLastKernel>;

type TrainingKernelName = keyof typeof KERNELS;

/**
 * The kernels each backend gets. `replaces` marks a kernel the backend has but runs slower than
 * ours; the others are registered only where the backend has none.
 */
const PLANS = {
  wasm: [
    { kernelName: tf.Conv2DBackpropFilter, replaces: false },
    { kernelName: tf.Conv2DBackpropInput, replaces: true },
    { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, replaces: false },
    { kernelName: tf.DepthwiseConv2dNativeBackpropInput, replaces: false },
    { kernelName: tf.UnsortedSegmentSum, replaces: false },
  ],
  cpu: [{ kernelName: tf.Conv2DBackpropFilter, replaces: true }],
} as const satisfies Record<string, ReadonlyArray<{ kernelName: TrainingKernelName; replaces: boolean }>>;

/** A backend this module has kernels for. */
export type TrainingBackend = keyof typeof PLANS;

/** A kernel this module registers for a backend. */
export interface TrainingKernel {
  /** tfjs' kernel name, e.g. `Conv2DBackpropFilter`. */
  kernelName: string;
  /** The function registered (the same object on every call, for one backend). */
  kernelFunc: tf.KernelFunc;
  /** True when the backend has this kernel and ours replaces it; false when ours fills a gap. */
  replaces: boolean;
}

/** The backend's own kernels this module replaced, by backend then kernel name: channels-first calls go to them. */
const replaced = new Map<string, Map<string, tf.KernelFunc>>();

/**
 * Our kernel for `backendName`: channels-last calls run the kernel above;
 * channels-first ones (only the Conv2D kernels have a data format) go to the kernel we replaced,
 * so they behave exactly as before, or are refused where the backend had none.
 */
function kernelFuncFor(backendName: TrainingBackend, kernelName: TrainingKernelName): tf.KernelFunc {
  return (args) => {
    const { dataFormat } = args.attrs as { dataFormat?: string };
    if (dataFormat === undefined || dataFormat === 'NHWC') return KERNELS[kernelName](args.inputs, args.attrs ?? {});
    const own = replaced.get(backendName)?.get(kernelName);
    if (own !== undefined) return own(args);
    throw new ArgumentError(
      `${kernelName} (${backendName}, tfjs-trust): dataFormat must be 'NHWC'; got '${dataFormat}'. The ${backendName} backend's convolutions are channels-last only.`,
    );
  };
}

/** Built once per backend, so a registered kernel keeps its identity (what makes registration idempotent). */
const kernelTables = new Map<TrainingBackend, ReadonlyArray<TrainingKernel>>();

/** The kernels `registerTrainingKernels(backendName)` registers, by tfjs kernel name. */
export function trainingKernels(backendName: TrainingBackend): ReadonlyArray<TrainingKernel> {
  let table = kernelTables.get(backendName);
  if (table === undefined) {
    table = PLANS[backendName].map(({ kernelName, replaces }) => ({ kernelName, replaces, kernelFunc: kernelFuncFor(backendName, kernelName) }));
    kernelTables.set(backendName, table);
  }
  return table;
}

/**
 * Registers the gradient kernels for `backendName`. Idempotent: a kernel already registered (by
 * an earlier call, or natively by a newer backend, unless it is one this module replaces) is left
 * alone. The backend's package must be imported first (its import registers its kernels, which
 * would otherwise overwrite a replaced one), so a backend tfjs does not know yet is refused.
 * Returns the names registered by this call.
 */
export function registerTrainingKernels(backendName: TrainingBackend): string[] {
  if (!Object.prototype.hasOwnProperty.call(PLANS, backendName)) {
    throw new ArgumentError(
      `registerTrainingKernels: backendName must be one of ${Object.keys(PLANS).join(', ')}; got '${String(backendName)}'. Other backends have fast gradients of their own.`,
    );
  }
  if (tf.findBackendFactory(backendName) == null) {
    throw new TrustError(
      `registerTrainingKernels: the '${backendName}' backend must be registered first; it is not. ` +
        `Import '@tensorflow/tfjs-backend-${backendName}' (or select it with selectBackend) before registering its training kernels.`,
    );
  }
  const registered: string[] = [];
  for (const { kernelName, kernelFunc, replaces } of trainingKernels(backendName)) {
    const current = tf.getKernel(kernelName, backendName);
    if (current !== undefined && (current.kernelFunc === kernelFunc || !replaces)) continue;
    if (current !== undefined) {
      if (!replaced.has(backendName)) replaced.set(backendName, new Map());
      replaced.get(backendName)?.set(kernelName, current.kernelFunc);
      // Unregistering first keeps tfjs from logging an "already registered" warning.
      tf.unregisterKernel(kernelName, backendName);
    }
    tf.registerKernel({ kernelName, backendName, kernelFunc });
    registered.push(kernelName);
  }
  return registered;
}
