/**
 * Speeds up training on tfjs-node's native `tensorflow` backend. tfjs differentiates a ReLU as
 * `dy · step(x)`, and tfjs-node 4.22 builds `step` from six TensorFlow ops (IsNan, Greater, two
 * full-size fills, two Selects): in a compact CNN's training step that was a quarter of the
 * kernel time. TensorFlow has the fused op Keras uses, `ReluGrad(dy, x)` (dy where x > 0, else 0):
 * one pass. `registerNativeTrainingKernels()` registers it as a kernel of the `tensorflow` backend
 * and routes tfjs' ReLU gradient to it there; every other backend keeps tfjs' own formula. The
 * same for softplus, whose gradient tfjs computes as Sigmoid then Mul: TensorFlow's
 * `SoftplusGrad(dy, x)` is one pass, on the ρ of every variational kernel in every step. And the
 * Normal prior's KL sums squares with `L2Loss` (SUM_OF_SQUARES_KERNEL), one fused pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SUM_OF_SQUARES_KERNEL } from '../layers/priors';

/** The name of the ReLU gradient kernel; registered for the `tensorflow` backend only. */
export const RELU_GRAD_KERNEL = 'TfjsTrustReluGrad';
/** The name of the softplus gradient kernel (σ = softplus(ρ) of every variational layer); `tensorflow` only. */
export const SOFTPLUS_GRAD_KERNEL = 'TfjsTrustSoftplusGrad';
/** tfjs-node's and tfjs-node-gpu's backend name. */
const NATIVE_BACKEND = 'tensorflow';

/** The part of tfjs-node's backend used here (tfjs-node is optional, so it is not imported). */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: number }[], inputs: tf.TensorInfo[]): tf.TensorInfo;
}

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
      const type = { name: 'T', type: native.binding.TF_ATTR_TYPE, value: native.binding.TF_FLOAT };
      return native.executeSingleOutput(nativeOp, [type], [dy, x]);
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

/** Σ t² by TensorFlow's `L2Loss` (Σ t² / 2, one pass), doubled: exact, as halving and doubling are. */
const sumOfSquaresKernel: tf.KernelConfig = {
  kernelName: SUM_OF_SQUARES_KERNEL,
  backendName: NATIVE_BACKEND,
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as Record<'x', tf.TensorInfo>;
    const native = backend as unknown as NativeBackend;
    const type = { name: 'T', type: native.binding.TF_ATTR_TYPE, value: native.binding.TF_FLOAT };
    return tf.tidy(() => tf.mul(native.executeSingleOutput('L2Loss', [type], [x]) as tf.Tensor, 2));
  },
};

/** Built once, so a registered gradient keeps its identity (what makes registration idempotent). */
const REGISTRATIONS = FUSED_GRADIENTS.map((fused) => ({ kernel: fusedKernel(fused), gradient: fusedGradient(fused) }));

/**
 * Registers the fused ReLU and softplus gradients and the sum of squares of the Normal prior's KL
 * for the `tensorflow` backend (idempotent);
 * returns whether this call changed anything. Call it after loading tfjs-node: loading
 * `@tensorflow/tfjs` registers tfjs' gradients again, over these. Changes nothing on other backends.
 */
export function registerNativeTrainingKernels(): boolean {
  let changed = tf.getKernel(SUM_OF_SQUARES_KERNEL, NATIVE_BACKEND) === undefined;
  if (changed) tf.registerKernel(sumOfSquaresKernel);
  for (const { kernel, gradient } of REGISTRATIONS) {
    if (tf.getKernel(kernel.kernelName, NATIVE_BACKEND) === undefined) {
      tf.registerKernel(kernel);
      changed = true;
    }
    if (tf.getGradient(gradient.kernelName) !== gradient) {
      tf.registerGradient(gradient);
      changed = true;
    }
  }
  return changed;
}
