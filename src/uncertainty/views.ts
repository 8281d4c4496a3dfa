import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors';
import { checkNumber, describe } from '../validation';

/**
 * A view of an image batch for test-time augmentation: a transformation the label does not
 * depend on (a dermoscopy lesion has no preferred orientation). It must keep the batch's shape.
 */
export type InputView = (images: tf.Tensor) => tf.Tensor;

/**
 * Mirrors a batch [batch, height, width, channels] left-right (when `mirror`), then rotates it
 * counter-clockwise by `turns` quarter turns. Odd turns swap height and width, so they need
 * square images to keep the shape. Every output pixel is an input pixel: no interpolation.
 */
export function dihedralTransform(images: tf.Tensor4D, mirror: boolean, turns: number): tf.Tensor4D {
  checkNumber('dihedralTransform', 'turns', turns, { min: 0, max: 3, integer: true });
  if (images.rank !== 4) {
    throw new ShapeError(
      `dihedralTransform: images must be a batch [batch, height, width, channels]; got shape ${describe(images.shape)}. ` +
        'Add a batch axis with tf.expandDims(image, 0) for a single image.',
    );
  }
  return tf.tidy(() => {
    let out: tf.Tensor4D = mirror ? tf.reverse(images, 2) : tf.clone(images);
    if (turns === 2) return tf.reverse(out, [1, 2]);
    // One quarter turn counter-clockwise: swap rows and columns, then reverse the rows.
    for (let turn = 0; turn < turns; turn++) out = tf.reverse(tf.transpose(out, [0, 2, 1, 3]), 1);
    return out;
  });
}

/**
 * The 8 symmetries of a square (4 rotations, each with and without a mirror), identity first, as
 * views for `mcPredict`'s test-time augmentation. Images must be square [batch, side, side, channels].
 */
export function dihedralViews(): InputView[] {
  return [0, 1, 2, 3].flatMap((turns) =>
    [false, true].map((mirror) => (images: tf.Tensor) => {
      if (images.rank !== 4 || images.shape[1] !== images.shape[2]) {
        throw new ShapeError(
          `dihedralViews: images must be square batches [batch, side, side, channels] to be rotated; got shape ${describe(images.shape)}. ` +
            'Resize or crop them to a square first.',
        );
      }
      return dihedralTransform(images as tf.Tensor4D, mirror, turns);
    }),
  );
}
