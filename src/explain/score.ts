import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ScoreKind, TargetFunction } from '../conventions';
import { ShapeError } from '../errors';
import { describe, isTensor } from '../validation';
import type { ResolvedTarget } from './model_checks';
import { patch } from './patch';

type Layer = tfl.layers.Layer;
type ActivationHolder = { activation?: { getClassName?: () => string } };

/** The layer that produces the model's output, looking inside a nested model that ends it. */
function finalLayer(model: tfl.LayersModel): Layer {
  let layer = model.outputs[0].sourceLayer as Layer;
  for (;;) {
    const nested = (layer as unknown as { outputs?: tfl.SymbolicTensor[] }).outputs;
    if (!Array.isArray(nested) || nested.length !== 1) return layer;
    layer = nested[0].sourceLayer as Layer;
  }
}

/** Who holds a softmax activation object: the layer itself (Dense, Activation) or its inner activation layer (variational layers). */
function softmaxHolder(layer: Layer): ActivationHolder | null {
  const candidates = [layer, (layer as unknown as { activationLayer?: unknown }).activationLayer] as ActivationHolder[];
  return candidates.find((holder) => holder?.activation?.getClassName?.() === 'softmax') ?? null;
}

const LINEAR = { apply: (x: tf.Tensor) => x, getClassName: () => 'linear' };
const identity = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);

/**
 * Finds a final softmax, wherever it sits (a layer's activation, an Activation layer, a Softmax
 * layer), and returns the function that switches it off (which returns the function that switches
 * it back on); null if the model does not end in a softmax.
 */
function finalSoftmax(model: tfl.LayersModel): (() => () => void) | null {
  const layer = finalLayer(model);
  if (layer.getClassName() === 'Softmax') return () => patch(layer, 'call', identity);
  const holder = softmaxHolder(layer);
  return holder ? () => patch(holder, 'activation', LINEAR) : null;
}

/**
 * Runs `fn` with the model set up to produce the requested score, passing it the function that
 * turns the model's output into [batch, classes] scores. Restores the model even if `fn` throws.
 */
export function withScore<T>(model: tfl.LayersModel, kind: ScoreKind, fn: (toScores: (output: tf.Tensor) => tf.Tensor) => T): T {
  const disableSoftmax = finalSoftmax(model);
  if (kind === 'probability') return fn(disableSoftmax ? identity : (output) => tf.softmax(output));
  const restore = disableSoftmax?.();
  try {
    return fn(identity);
  } finally {
    restore?.();
  }
}

/**
 * Each image's score: for its class (`classes` per image, or the argmax for 'predicted'), or a
 * target function's value. Returns the scores [batch] and, for class targets, the classes used
 * [batch] (int32); null for a target function.
 */
export function classScores(
  scores: tf.Tensor,
  target: ResolvedTarget,
  who = 'classScores',
): { scores: tf.Tensor1D; classes: tf.Tensor1D | null } {
  if (typeof target === 'function') return { scores: tf.tidy(() => targetScores(scores as tf.Tensor2D, target, who)), classes: null };
  return tf.tidy(() => {
    const chosen = target === 'predicted' ? tf.argMax(scores, 1) : tf.tensor1d(target, 'int32');
    const picked = tf.sum(tf.mul(scores, tf.oneHot(chosen, scores.shape[1]!)), 1) as tf.Tensor1D;
    return { scores: picked, classes: chosen as tf.Tensor1D };
  });
}

/** A target function's scores, checked to be one per row of the output. */
function targetScores(output: tf.Tensor2D, target: TargetFunction, who: string): tf.Tensor1D {
  const result: unknown = target(output);
  if (!isTensor(result) || result.rank !== 1 || result.shape[0] !== output.shape[0]) {
    throw new ShapeError(
      `${who}: classIdx, a target function, must return one score per image, shape ${describe([output.shape[0]])}; ` +
        `got ${isTensor(result) ? `shape ${describe(result.shape)}` : describe(result)}. ` +
        'Reduce each row of the output to a scalar, e.g. with tf.sum(output, 1).',
    );
  }
  return result as tf.Tensor1D;
}
