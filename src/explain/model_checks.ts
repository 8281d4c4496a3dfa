import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ArgumentError, ShapeError } from '../errors';
import { withSampling } from '../layers/sampling';
import type { TargetFunction } from '../conventions';
import { describe, isTensor } from '../validation';

/** A ClassTarget checked against the batch: one class per image, 'predicted', or a target function. */
export type ResolvedTarget = number[] | 'predicted' | TargetFunction;

/** Checks that the model maps one image batch to one [batch, classes] output; returns the class count. */
export function checkClassifier(model: tfl.LayersModel, who: string): number {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ShapeError(
      `${who}: model must have one input and one output; got ${model.inputs.length} inputs and ${model.outputs.length} outputs. ` +
        'Build a single-input, single-output model around the part to explain.',
    );
  }
  const outputShape = model.outputs[0].shape;
  if (outputShape.length !== 2 || outputShape[1] === null) {
    throw new ShapeError(
      `${who}: model output must be [batch, classes]; got shape ${describe(outputShape)}. Explain a classifier's class scores.`,
    );
  }
  return outputShape[1];
}

/** Checks that `images` is a 4-D batch the model accepts (every fixed input dimension matches). */
export function checkImages(model: tfl.LayersModel, images: unknown, who: string): tf.Tensor4D {
  const expected = model.inputs[0].shape;
  const pretty = `[batch, ${expected.slice(1).map((d) => d ?? 'any').join(', ')}]`;
  if (!isTensor(images)) {
    throw new ArgumentError(`${who}: images must be a tf.Tensor4D ${pretty}; got ${describe(images)}.`);
  }
  const fits = images.rank === expected.length && expected.every((d, i) => i === 0 || d === null || d === images.shape[i]);
  if (!fits || images.rank !== 4 || images.shape[0] === 0) {
    throw new ShapeError(
      `${who}: images must have shape ${pretty} (the model's input); got ${describe(images.shape)}. ` +
        'Resize the images to the model input size and stack them into one 4-D batch.',
    );
  }
  return images as tf.Tensor4D;
}

/** Checks that `maps` holds one map per image at the image size, [batch, H, W], as the faithfulness measures need. */
export function checkMaps(who: string, maps: unknown, images: tf.Tensor4D): tf.Tensor3D {
  const [batch, height, width] = images.shape;
  if (!isTensor(maps) || maps.rank !== 3 || maps.shape[0] !== batch || maps.shape[1] !== height || maps.shape[2] !== width) {
    throw new ShapeError(
      `${who}: maps must have shape ${describe([batch, height, width])} (one map per image, at the image size); ` +
        `got ${isTensor(maps) ? describe(maps.shape) : describe(maps)}. Pass cam() maps without the raw option.`,
    );
  }
  return maps as tf.Tensor3D;
}

/** Turns a ClassTarget into one class index per image, 'predicted' or a target function; throws on indices out of range. */
export function resolveClassTarget(classIdx: unknown, batch: number, numClasses: number, who: string): ResolvedTarget {
  if (classIdx === 'predicted') return 'predicted';
  if (typeof classIdx === 'function') return classIdx as TargetFunction;
  const expected =
    `an integer in [0, ${numClasses - 1}] (the model has ${numClasses} classes), an array of ${batch} such integers (one per image), ` +
    "'predicted', or a target function (output) => scores";
  const list = Array.isArray(classIdx) ? classIdx : [classIdx];
  const valid = (c: unknown): boolean => Number.isInteger(c) && (c as number) >= 0 && (c as number) < numClasses;
  if ((Array.isArray(classIdx) && classIdx.length !== batch) || !list.every(valid)) {
    throw new ArgumentError(`${who}: classIdx must be ${expected}; got ${describe(classIdx)}.`);
  }
  return Array.isArray(classIdx) ? (classIdx as number[]) : new Array<number>(batch).fill(classIdx as number);
}

/**
 * What `'predicted'` means everywhere: each image's argmax class under the posterior-mean network
 * (stochastic layers in 'mean' mode). One forward pass and a read of B integers.
 */
export function predictedClasses(model: tfl.LayersModel, images: tf.Tensor4D): number[] {
  return withSampling(model, { mode: 'mean' }, () => {
    const classes = tf.tidy(() => tf.argMax(model.predict(images) as tf.Tensor, 1));
    try {
      return Array.from(classes.dataSync());
    } finally {
      classes.dispose();
    }
  });
}

/** A ClassTarget as one class per image, running the posterior-mean network for 'predicted'; a target function as is. */
export function classesOf(target: ResolvedTarget, model: tfl.LayersModel, images: tf.Tensor4D): number[] | TargetFunction {
  return target === 'predicted' ? predictedClasses(model, images) : target;
}
