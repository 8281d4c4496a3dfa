/**
 * Tensor-side preparation of image batches: each backbone's input convention and training augmentation.
 * Pure tfjs, so it runs on any backend; the decoding itself lives in images.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors';
import { checkNumber, checkOneOf } from '../validation';
import { dihedralTransform } from '../uncertainty/views';
import { Rng } from '../random';

/**
 * ImageNet channel means in BGR order, as Keras' `imagenet_utils.preprocess_input` (mode 'caffe')
 * subtracts them for VGG16 (Simonyan & Zisserman, ICLR 2015), whose weights were trained in Caffe.
 */
export const IMAGENET_BGR_MEANS = [103.939, 116.779, 123.68] as const;

/** Keras VGG16 'caffe' preprocessing: RGB 0..255 to BGR, minus the ImageNet mean of each channel. No scaling. */
export function vggPreprocess(rgb: tf.Tensor4D): tf.Tensor4D {
  checkBatch('vggPreprocess', rgb);
  return tf.tidy(() => tf.sub(tf.reverse(rgb, -1), tf.tensor1d([...IMAGENET_BGR_MEANS])));
}

/**
 * How pixels 0..255 become a backbone's input, named as Keras' `imagenet_utils.preprocess_input`
 * modes: 'caffe' (VGG16, ResNet50: BGR minus the ImageNet means) or 'tf' (MobileNetV2: [-1, 1]).
 */
export const PREPROCESSINGS = ['caffe', 'tf'] as const;
/** A Keras preprocessing mode (see PREPROCESSINGS). */
export type Preprocessing = (typeof PREPROCESSINGS)[number];

/** Keras 'tf' preprocessing (MobileNetV2): RGB 0..255 to [-1, 1], x / 127.5 - 1. */
export function tfPreprocess(rgb: tf.Tensor4D): tf.Tensor4D {
  checkBatch('tfPreprocess', rgb);
  return tf.tidy(() => tf.sub(tf.div(rgb, TF_MODE_HALF_RANGE), 1));
}

/** Half of 255: Keras' 'tf' mode divides by it to map 0..255 onto [0, 2]. */
const TF_MODE_HALF_RANGE = 127.5;

/** Applies a backbone's preprocessing (see PREPROCESSINGS) to RGB 0..255 images. */
export function preprocessImages(rgb: tf.Tensor4D, preprocessing: Preprocessing): tf.Tensor4D {
  return checkOneOf('preprocessImages', 'preprocessing', preprocessing, PREPROCESSINGS) === 'tf' ? tfPreprocess(rgb) : vggPreprocess(rgb);
}

/** Options of the training augmentation: its seed and which random transformations apply. */
export interface AugmentOptions {
  /** The same seed and batch give the same result; vary it per batch and epoch. */
  seed: number;
  /** Mirror left-right with probability 1/2. Default true. */
  flip?: boolean;
  /** Rotate by a random multiple of 90° (square images) or by 0°/180° (others, to keep the shape). Default true. */
  rotate?: boolean;
}

/**
 * Light augmentation for dermoscopy, where a lesion has no preferred orientation: each image gets
 * an independent random element of the symmetry group of its rectangle (mirror, then rotation).
 * Every output pixel is an input pixel: no interpolation, no new values, nothing cropped.
 */
export function augment(images: tf.Tensor4D, options: AugmentOptions): tf.Tensor4D {
  checkBatch('augment', images);
  const seed = checkNumber('augment', 'options.seed', options?.seed, { integer: true });
  const { flip = true, rotate = true } = options;
  const [, height, width] = images.shape;
  const quarterTurns = rotate ? (height === width ? [0, 1, 2, 3] : [0, 2]) : [0];
  const rng = new Rng(seed, 'augment');
  return tf.tidy(() => {
    const transformed = tf.unstack(images).map((image) => {
      const mirror = flip && rng.next() < 0.5;
      return dihedralTransform(tf.expandDims(image, 0) as tf.Tensor4D, mirror, rng.pick(quarterTurns));
    });
    return transformed.length > 0 ? (tf.concat(transformed) as tf.Tensor4D) : tf.clone(images);
  });
}

function checkBatch(who: string, images: tf.Tensor): void {
  if (images.rank !== 4 || images.shape[3] !== 3) {
    throw new ShapeError(
      `${who}: images must be a batch of RGB images [batch, height, width, 3]; got shape [${images.shape.join(', ')}]. ` +
        'Add a batch axis with tf.expandDims(image, 0) for a single image.',
    );
  }
}
