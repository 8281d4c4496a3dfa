import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs the forward function of a `tf.grad` and, when it throws, frees what the gradient tape had
 * kept for the backward pass (each kernel's saved inputs and outputs): the backward pass that
 * would have freed them never comes, and tfjs drops the tape without them. Call it inside the
 * function given to `tf.grad`/`tf.grads`, so the tape is the active one.
 */
export function freeTapeOnThrow<T>(forward: () => T): T {
  try {
    return forward();
  } catch (error) {
    const tape = (tf.engine().state as unknown as { activeTape: { saved?: tf.Tensor[] }[] | null }).activeTape;
    tape?.forEach((node) => node.saved?.forEach((tensor) => tensor.dispose()));
    throw error;
  }
}
