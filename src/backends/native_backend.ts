/** What tfjs-trust's kernels for tfjs-node's `tensorflow` backend share (tfjs-node is optional, so it is not imported). */
import type * as tf from '@tensorflow/tfjs-core';

/** tfjs-node's and tfjs-node-gpu's backend name. */
export const NATIVE_BACKEND = 'tensorflow';

/** The name of the softplus gradient kernel (σ = softplus(ρ) of every variational layer); `tensorflow` only. */
export const SOFTPLUS_GRAD_KERNEL = 'TfjsTrustSoftplusGrad';

/** An attribute of a TensorFlow op, as tfjs-node's binding takes it. */
export interface OpAttr {
  name: string;
  type: number;
  value: number | number[] | string | boolean;
}

/** The part of tfjs-node's backend these kernels use. */
export interface NativeBackend {
  binding: Record<'TF_ATTR_TYPE' | 'TF_ATTR_INT' | 'TF_ATTR_FLOAT' | 'TF_ATTR_STRING' | 'TF_ATTR_BOOL' | 'TF_FLOAT', number>;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[], numOutputs: number): tf.Tensor[];
}
