/**
 * The core's hot paths (the variational layers' draw, KL and σ, Flipout's signs, the noise) call a
 * kernel by one of tfjs-trust's names where the active backend has one registered (src/backends
 * registers them for tfjs-node), and tfjs' ops everywhere else. Isomorphic.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Whether the active backend has a kernel registered as `kernelName`. */
export function backendHasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
