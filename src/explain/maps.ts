import * as tf from '@tensorflow/tfjs-core';
/**
 * Min-max normalises each map of a batch [N, ...] to [0, 1] on its own; a flat map becomes 0.
 * Exactly scale-invariant (no epsilon in the denominator), so a map and any positive multiple of
 * it normalise to the same result.
 */
export function normalizePerMap(maps: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const axes = maps.shape.map((_, axis) => axis).slice(1);
    const shifted = tf.sub(maps, tf.min(maps, axes, true));
    return tf.divNoNan(shifted, tf.max(shifted, axes, true));
  });
}

/**
 * Resizes a batch of maps [N, h, w] to [N, height, width] bilinearly, with half-pixel centres (as
 * OpenCV and PyTorch's `align_corners=False`), so a map stays aligned with the image it explains.
 */
export function resizeMaps(maps: tf.Tensor3D, height: number, width: number): tf.Tensor3D {
  return tf.tidy(() => {
    if (maps.shape[1] === height && maps.shape[2] === width) return tf.clone(maps);
    const resized = tf.image.resizeBilinear(tf.expandDims(maps, -1) as tf.Tensor4D, [height, width], false, true);
    return tf.squeeze(resized, [3]) as tf.Tensor3D;
  });
}
