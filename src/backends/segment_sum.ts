/**
 * `UnsortedSegmentSum` from kernels every backend has: tfjs' gather gradient (so the gradient of
 * an embedding lookup) needs it, and `@tensorflow/tfjs-backend-wasm` 4.22 has none.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `out[s] = Σ_{i : segmentIds[i] = s} x[i]` over the first axis of `x` (TensorFlow's
 * `unsorted_segment_sum`), as one scatterND, which adds the updates sent to the same index. Ids
 * outside [0, numSegments) are dropped, as in TensorFlow: they go to an extra segment, cut off after.
 */
export function unsortedSegmentSum(x: tf.Tensor, segmentIds: tf.Tensor1D, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const inRange = tf.logicalAnd(tf.greaterEqual(segmentIds, 0), tf.less(segmentIds, numSegments));
    const ids = tf.where(inRange, segmentIds, tf.fill(segmentIds.shape, numSegments, 'int32'));
    const sums = tf.scatterND(tf.reshape(ids, [-1, 1]), x, [numSegments + 1, ...x.shape.slice(1)]);
    return tf.slice(sums, 0, numSegments);
  });
}
