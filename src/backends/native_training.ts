/**
 * Speeds up training on tfjs-node's native `tensorflow` backend. tfjs differentiates a ReLU as
 * `dy · step(x)`, and tfjs-node 4.22 builds `step` from six TensorFlow ops (IsNan, Greater, two
 * full-size fills, two Selects): in a compact CNN's training step that was a quarter of the
 * kernel time. TensorFlow has the fused op Keras uses, `ReluGrad(dy, x)` (dy where x > 0, else 0):
 * one pass. `registerNativeTrainingKernels()` registers it as a kernel of the `tensorflow` backend
 * and routes tfjs' ReLU gradient to it there; every other backend keeps tfjs' own formula.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The name of the ReLU gradient kernel; registered for the `tensorflow` backend only. */
export const RELU_GRAD_KERNEL = 'TfjsTrustReluGrad';
/** tfjs-node's and tfjs-node-gpu's backend name. */
const NATIVE_BACKEND = 'tensorflow';

/** The part of tfjs-node's backend used here (tfjs-node is optional, so it is not imported). */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: number }[], inputs: tf.TensorInfo[]): tf.TensorInfo;
}

const reluGradKernel: tf.KernelConfig = {
  kernelName: RELU_GRAD_KERNEL,
  backendName: NATIVE_BACKEND,
  kernelFunc: ({ inputs, backend }) => {
    const { dy, x } = inputs as Record<'dy' | 'x', tf.TensorInfo>;
    const native = backend as unknown as NativeBackend;
    const type = { name: 'T', type: native.binding.TF_ATTR_TYPE, value: native.binding.TF_FLOAT };
    return native.executeSingleOutput('ReluGrad', [type], [dy, x]);
  },
};

/** tfjs' ReLU gradient, unchanged except that float32 tensors on `tensorflow` take the fused kernel. */
const reluGradient: tf.GradConfig = {
  kernelName: tf.Relu,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    const dyTensor = dy as tf.Tensor;
    return {
      x: () =>
        x.dtype === 'float32' && tf.getBackend() === NATIVE_BACKEND
          ? (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: dyTensor, x }) as tf.Tensor)
          : tf.mul(dyTensor, tf.cast(tf.step(x), 'float32')),
    };
  },
};

/**
 * Registers the fused ReLU gradient for the `tensorflow` backend (idempotent); returns whether
 * this call changed anything. Call it after loading tfjs-node: loading `@tensorflow/tfjs`
 * registers tfjs' gradients again, over this one. Changes nothing on other backends.
 */
export function registerNativeTrainingKernels(): boolean {
  const fresh = tf.getKernel(RELU_GRAD_KERNEL, NATIVE_BACKEND) === undefined;
  if (fresh) tf.registerKernel(reluGradKernel);
  if (!fresh && tf.getGradient(tf.Relu) === reluGradient) return false;
  tf.registerGradient(reluGradient);
  return true;
}
