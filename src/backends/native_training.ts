/**
 * Speeds up training on tfjs-node's native `tensorflow` backend, where tfjs' eager kernels miss
 * the fast paths Keras gets from TensorFlow's graph rewrites. `registerNativeTrainingKernels()`
 * installs them on the `tensorflow` backend only; every other backend keeps tfjs' own kernels.
 *
 * - **ReLU and softplus gradients.** tfjs differentiates a ReLU as `dy · step(x)`, and tfjs-node
 *   4.22 builds `step` from six TensorFlow ops (IsNan, Greater, two full-size fills, two Selects):
 *   a quarter of a compact CNN step's kernel time. TensorFlow's fused `ReluGrad(dy, x)` (dy where
 *   x > 0, else 0), the op Keras uses, is one pass. The same for softplus, whose gradient tfjs
 *   computes as Sigmoid then Mul: TensorFlow's `SoftplusGrad(dy, x)` is one pass, on the ρ of
 *   every variational kernel in every step. Both come from one table, `FUSED_GRADIENTS`.
 * - **Sum of squares.** The Normal prior's KL sums squares (`SUM_OF_SQUARES_KERNEL`); TensorFlow's
 *   `L2Loss` does it in one fused pass.
 * - **Max pooling.** TensorFlow's eager `MaxPoolGrad` (Eigen) finds each window's argmax again in
 *   a scalar loop: 13 ms for the compact CNN's first pooling (batch 32, 48×48×32) against 1.1 ms
 *   for the forward pass. oneDNN's pooling, which Keras gets from the graph rewrite and eager ops
 *   do not, takes 0.4 ms each way. Its backward pass reads the argmax from the forward pass'
 *   workspace, which tfjs does not keep, so the gradient runs oneDNN's forward pass again.
 * - **Batch normalisation in training.** tfjs-layers builds it from `moments` and an inference
 *   batch norm, and differentiates through both: ~40 elementwise passes a layer. TensorFlow's
 *   `FusedBatchNormV3` / `FusedBatchNormGradV3` (training mode) do it in one pass each way. They
 *   are kernels here (`BATCH_NORM_TRAINING_KERNEL`), which `nativeBatchNormalization`
 *   (native_batch_norm.ts) calls: a kernel cannot fuse ops that tfjs-layers dispatches one by one.
 * - **tfjs-trust's compiled kernels**, where `npm run setup:native` built them: the variational
 *   layers' draw, KL and noise in fused passes (compiled_kernels.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SUM_OF_SQUARES_KERNEL } from '../layers/priors';
import { registerCompiledKernels } from './compiled_kernels';
import { NATIVE_BACKEND, type NativeBackend, type OpAttr, SOFTPLUS_GRAD_KERNEL } from './native_backend';

/** The name of the ReLU gradient kernel; registered for the `tensorflow` backend only. */
export const RELU_GRAD_KERNEL = 'TfjsTrustReluGrad';
export { SOFTPLUS_GRAD_KERNEL };
const floatType = (native: NativeBackend): OpAttr => ({ name: 'T', type: native.binding.TF_ATTR_TYPE, value: native.binding.TF_FLOAT });

/**
 * A tfjs gradient TensorFlow computes in one fused op: the kernel registered for `tensorflow`
 * (named `kernelName`, running `nativeOp(dy, x)`), and tfjs' own formula, kept everywhere else.
 */
interface FusedGradient {
  forward: string;
  kernelName: string;
  nativeOp: string;
  formula: (dy: tf.Tensor, x: tf.Tensor) => tf.Tensor;
}

const FUSED_GRADIENTS: FusedGradient[] = [
  // dy where x > 0, else 0.
  { forward: tf.Relu, kernelName: RELU_GRAD_KERNEL, nativeOp: 'ReluGrad', formula: (dy, x) => tf.mul(dy, tf.cast(tf.step(x), 'float32')) },
  // dy · sigmoid(x): one pass instead of Sigmoid then Mul, over every variational kernel's ρ each step.
  { forward: tf.Softplus, kernelName: SOFTPLUS_GRAD_KERNEL, nativeOp: 'SoftplusGrad', formula: (dy, x) => tf.mul(dy, tf.sigmoid(x)) },
];

function fusedKernel({ kernelName, nativeOp }: FusedGradient): tf.KernelConfig {
  return {
    kernelName,
    backendName: NATIVE_BACKEND,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, x } = inputs as Record<'dy' | 'x', tf.TensorInfo>;
      const native = backend as unknown as NativeBackend;
      return native.executeSingleOutput(nativeOp, [floatType(native)], [dy, x]);
    },
  };
}

/** tfjs' gradient, unchanged except that float32 tensors on `tensorflow` take the fused kernel. */
function fusedGradient({ forward, kernelName, formula }: FusedGradient): tf.GradConfig {
  return {
    kernelName: forward,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const dyTensor = dy as tf.Tensor;
      return {
        x: () =>
          x.dtype === 'float32' && tf.getBackend() === NATIVE_BACKEND
            ? (tf.engine().runKernel(kernelName, { dy: dyTensor, x }) as tf.Tensor)
            : formula(dyTensor, x),
      };
    },
  };
}

/** Built once, so a registered gradient keeps its identity (what makes registration idempotent). */
const FUSED_REGISTRATIONS = FUSED_GRADIENTS.map((fused) => ({ kernel: fusedKernel(fused), gradient: fusedGradient(fused) }));

/** Σ t² by TensorFlow's `L2Loss` (Σ t² / 2, one pass), doubled: exact, as halving and doubling are. */
const sumOfSquaresKernel: tf.KernelConfig = {
  kernelName: SUM_OF_SQUARES_KERNEL,
  backendName: NATIVE_BACKEND,
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as Record<'x', tf.TensorInfo>;
    const native = backend as unknown as NativeBackend;
    return tf.tidy(() => tf.mul(native.executeSingleOutput('L2Loss', [floatType(native)], [x]), 2));
  },
};

/**
 * Training-mode batch normalisation over all axes but the last of a rank-4 float32 `x`: outputs
 * [y, batchMean, batchVariance (unbiased, as TensorFlow returns it), and three tensors that only
 * its gradient reads]. Attribute `epsilon`. Registered for the `tensorflow` backend only.
 */
export const BATCH_NORM_TRAINING_KERNEL = 'TfjsTrustBatchNormTraining';
/** Its gradient: inputs dy, x, scale and the three reserve tensors; outputs [dx, dScale, dOffset]. */
const BATCH_NORM_TRAINING_GRAD_KERNEL = 'TfjsTrustBatchNormTrainingGrad';

/** The attributes FusedBatchNormV3 and its gradient share. */
function batchNormAttrs(native: NativeBackend, epsilon: number): OpAttr[] {
  const { TF_ATTR_TYPE, TF_ATTR_FLOAT, TF_ATTR_STRING, TF_ATTR_BOOL, TF_FLOAT } = native.binding;
  return [
    floatType(native),
    { name: 'U', type: TF_ATTR_TYPE, value: TF_FLOAT },
    { name: 'epsilon', type: TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: TF_ATTR_BOOL, value: true },
  ];
}

const batchNormTrainingKernel: tf.KernelConfig = {
  kernelName: BATCH_NORM_TRAINING_KERNEL,
  backendName: NATIVE_BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, scale, offset } = inputs as Record<'x' | 'scale' | 'offset', tf.TensorInfo>;
    const native = backend as unknown as NativeBackend;
    const { epsilon } = attrs as { epsilon: number };
    // Training mode ignores the running statistics: TensorFlow takes empty ones.
    const none = tf.tensor1d([]);
    try {
      // The running statistics' update factor is tfjs-layers' business: 1 makes TF return the batch's own.
      const average: OpAttr = { name: 'exponential_avg_factor', type: native.binding.TF_ATTR_FLOAT, value: 1 };
      return native.executeMultipleOutputs('FusedBatchNormV3', [...batchNormAttrs(native, epsilon), average], [x, scale, offset, none, none], 6);
    } finally {
      none.dispose();
    }
  },
};

const batchNormTrainingGradKernel: tf.KernelConfig = {
  kernelName: BATCH_NORM_TRAINING_GRAD_KERNEL,
  backendName: NATIVE_BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { dy, x, scale, reserve1, reserve2, reserve3 } = inputs as Record<'dy' | 'x' | 'scale' | 'reserve1' | 'reserve2' | 'reserve3', tf.TensorInfo>;
    const native = backend as unknown as NativeBackend;
    const outputs = native.executeMultipleOutputs('FusedBatchNormGradV3', batchNormAttrs(native, (attrs as { epsilon: number }).epsilon), [dy, x, scale, reserve1, reserve2, reserve3], 5);
    tf.dispose(outputs.slice(3)); // two placeholders TensorFlow returns for other devices
    return outputs.slice(0, 3);
  },
};

/**
 * The gradient of the training batch norm with respect to x, scale and offset, through the batch
 * statistics (what tfjs' gradients of `moments` and `batchNorm` compute, in one op). The batch
 * statistics it also outputs feed only the running averages, which the loss does not read.
 */
const batchNormTrainingGradient: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAINING_KERNEL,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, false, false, true, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, scale, reserve1, reserve2, reserve3] = saved;
    const dy = (dys as tf.Tensor[])[0];
    const [dx, dScale, dOffset] = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD_KERNEL, { dy, x, scale, reserve1, reserve2, reserve3 }, attrs) as tf.Tensor[];
    return { x: () => dx, scale: () => dScale, offset: () => dOffset };
  },
};

/** The label that selects TensorFlow's oneDNN kernel of an `_MklNative*` op. */
const ONEDNN_KERNEL_LABEL = 'MklNameChangeOp';
/**
 * Whether this TensorFlow has oneDNN's pooling kernels (x86 builds do): unknown until the first
 * call, false once TensorFlow said it has none; tfjs-node's own kernels run then.
 */
let oneDnnPooling: boolean | undefined;

/** tfjs-node's kernels that the ones below replace, by kernel name: what runs where oneDNN cannot. */
const replacedKernels = new Map<string, tf.KernelFunc>();

/**
 * The attributes of oneDNN's max pooling for tfjs' `MaxPool` attributes, or null where it does not
 * apply: not float32, padding other than 'valid' / 'same', or a TensorFlow without oneDNN.
 */
function oneDnnPoolAttrs(native: NativeBackend, x: tf.TensorInfo, attrs: tf.NamedAttrMap): OpAttr[] | null {
  if (oneDnnPooling === false || x.dtype !== 'float32') return null;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  if (info.padInfo.type !== 'VALID' && info.padInfo.type !== 'SAME') return null;
  const { TF_ATTR_INT, TF_ATTR_STRING, TF_ATTR_BOOL } = native.binding;
  return [
    floatType(native),
    { name: 'ksize', type: TF_ATTR_INT, value: [1, info.filterHeight, info.filterWidth, 1] },
    { name: 'strides', type: TF_ATTR_INT, value: [1, info.strideHeight, info.strideWidth, 1] },
    { name: 'padding', type: TF_ATTR_STRING, value: info.padInfo.type },
    { name: 'data_format', type: TF_ATTR_STRING, value: 'NHWC' },
    { name: 'workspace_enabled', type: TF_ATTR_BOOL, value: true },
    { name: '_kernel', type: TF_ATTR_STRING, value: ONEDNN_KERNEL_LABEL },
  ];
}

/** oneDNN's max pooling forward pass: [output, workspace] (the workspace is opaque bytes). */
function oneDnnMaxPool(native: NativeBackend, attrs: OpAttr[], x: tf.TensorInfo): tf.Tensor[] {
  return native.executeMultipleOutputs('_MklNativeMaxPool', attrs, [x], 2);
}

/**
 * A kernel that runs `oneDnn` where oneDNN's pooling applies and the kernel it replaced
 * otherwise. A TensorFlow without oneDNN says so on the first call; from then on the replaced
 * kernel runs without trying.
 */
function poolKernel(kernelName: string, inputName: string, oneDnn: (native: NativeBackend, attrs: OpAttr[], inputs: Record<string, tf.TensorInfo>) => tf.Tensor): tf.KernelFunc {
  return (args) => {
    const native = args.backend as unknown as NativeBackend;
    const inputs = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = oneDnnPoolAttrs(native, inputs[inputName], args.attrs ?? {});
    const own = replacedKernels.get(kernelName)!;
    if (attrs === null) return own(args);
    try {
      const result = oneDnn(native, attrs, inputs);
      oneDnnPooling = true;
      return result;
    } catch (error) {
      if (oneDnnPooling !== undefined || !/registered/i.test(String(error))) throw error;
      oneDnnPooling = false;
      return own(args);
    }
  };
}

const maxPoolKernel = poolKernel(tf.MaxPool, 'x', (native, attrs, { x }) => {
  const [y, workspace] = oneDnnMaxPool(native, attrs, x);
  workspace.dispose();
  return y;
});

const maxPoolGradKernel = poolKernel(tf.MaxPoolGrad, 'input', (native, attrs, { dy, input, output }) => {
  const pooled = oneDnnMaxPool(native, attrs, input);
  try {
    return native.executeSingleOutput('_MklNativeMaxPoolGrad', attrs, [input, output, dy, pooled[1]]);
  } finally {
    tf.dispose(pooled);
  }
});

/** The kernels of tfjs-node that are replaced, by name. */
const REPLACEMENTS: ReadonlyArray<[string, tf.KernelFunc]> = [
  [tf.MaxPool, maxPoolKernel],
  [tf.MaxPoolGrad, maxPoolGradKernel],
];

/** Puts `kernelFunc` in place of tfjs-node's kernel `kernelName`, keeping that one for what it does not handle. */
function replaceKernel(kernelName: string, kernelFunc: tf.KernelFunc): boolean {
  const current = tf.getKernel(kernelName, NATIVE_BACKEND);
  if (current === undefined || current.kernelFunc === kernelFunc) return false;
  replacedKernels.set(kernelName, current.kernelFunc);
  // Unregistering first keeps tfjs from logging an "already registered" warning.
  tf.unregisterKernel(kernelName, NATIVE_BACKEND);
  tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc });
  return true;
}

/**
 * Registers the fused ReLU and softplus gradients, the sum of squares of the Normal prior's KL,
 * oneDNN's max pooling, the training batch norm and, where they are built, tfjs-trust's compiled
 * kernels (registerCompiledKernels) for the `tensorflow` backend (idempotent);
 * returns whether this call changed anything. Call it after loading tfjs-node: loading it
 * registers its kernels (the pooling ones replace these), and loading `@tensorflow/tfjs`
 * registers tfjs' gradients again, over these. Changes nothing on other backends.
 */
export function registerNativeTrainingKernels(): boolean {
  let changed = false;
  const kernels = [sumOfSquaresKernel, batchNormTrainingKernel, batchNormTrainingGradKernel, ...FUSED_REGISTRATIONS.map(({ kernel }) => kernel)];
  for (const kernel of kernels) {
    if (tf.getKernel(kernel.kernelName, NATIVE_BACKEND) !== undefined) continue;
    tf.registerKernel(kernel);
    changed = true;
  }
  for (const gradient of [batchNormTrainingGradient, ...FUSED_REGISTRATIONS.map(({ gradient }) => gradient)]) {
    if (tf.getGradient(gradient.kernelName) === gradient) continue;
    tf.registerGradient(gradient);
    changed = true;
  }
  for (const [kernelName, kernelFunc] of REPLACEMENTS) changed = replaceKernel(kernelName, kernelFunc) || changed;
  return registerCompiledKernels() || changed;
}
