import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError } from '../errors';
import { outputShapeOf } from './find_layer';
import { patch } from './patch';
import type { TargetFunction } from '../conventions';
import type { ResolvedTarget } from './model_checks';
import { classScores } from './score';
import { freeTapeOnThrow } from './tape';

/** What one pass through the model records at the target layer. The caller disposes it. */
export interface LayerPass {
  /** The target layer's output A: [batch, height, width, channels], or any layout a reshapeTransform turns into it. */
  activations: tf.Tensor;
  /** d(class score)/dA, same shape, when gradients were asked for; else null. */
  gradients: tf.Tensor | null;
  /** What each image was explained for: its class (the argmax for 'predicted'), or the target function. */
  target: number[] | TargetFunction;
  dispose(): void;
}

export interface ProbeOptions {
  classes: ResolvedTarget;
  /** Turns the model's output into [batch, classes] scores (see withScore). */
  toScores: (output: tf.Tensor) => tf.Tensor;
  gradients: boolean;
  who: string;
}

/**
 * Records the activations of `layer` and, when asked, their gradients, for the whole batch in one
 * forward and one backward pass, whatever the model's shape (branches, residual adds after the
 * layer, nested models). The layer's `call` is patched for the duration to return `A + probe`,
 * with `probe` a zeros tensor of A's shape: then d(score)/d(probe) = d(score)/dA, and the backward
 * pass stops at the layer instead of running down to the input.
 */
export function probeLayer(model: tfl.LayersModel, layer: tfl.layers.Layer, images: tf.Tensor4D, options: ProbeOptions): LayerPass {
  if (!options.gradients) return recordPass(model, layer, images, options, null);
  const shape = outputShapeOf(layer)!;
  const probeShape = shape.slice(1).every((d) => d !== null)
    ? [images.shape[0], ...(shape.slice(1) as number[])]
    : discoverShape(model, layer, images, options);
  const probe = tf.zeros(probeShape);
  try {
    return recordPass(model, layer, images, options, probe);
  } finally {
    probe.dispose();
  }
}

/** For a layer whose spatial size depends on the input (a fully convolutional model): one extra forward. */
function discoverShape(model: tfl.LayersModel, layer: tfl.layers.Layer, images: tf.Tensor4D, options: ProbeOptions): number[] {
  const pass = recordPass(model, layer, images, { ...options, gradients: false }, null);
  const shape = pass.activations.shape;
  pass.dispose();
  return shape;
}

function recordPass(
  model: tfl.LayersModel,
  layer: tfl.layers.Layer,
  images: tf.Tensor4D,
  options: ProbeOptions,
  probe: tf.Tensor | null,
): LayerPass {
  const kept: tf.Tensor[] = [];
  let calls = 0;
  const originalCall = layer.call;
  const restore = patch(layer, 'call', (inputs: tf.Tensor | tf.Tensor[], kwargs: Parameters<typeof originalCall>[1]) => {
    const output = originalCall.call(layer, inputs, kwargs) as tf.Tensor;
    calls += 1;
    kept.push(tf.keep(output));
    // Inference-mode execution disposes intermediate tensors once used: hand it a copy.
    return probe ? tf.add(output, probe) : tf.clone(output);
  });
  const recorded: { scored?: boolean; classes?: tf.Tensor; gradients?: tf.Tensor } = {};
  const totalScore = (): tf.Scalar => {
    const output = model.apply(images, { training: false }) as tf.Tensor;
    const picked = classScores(options.toScores(output), options.classes, options.who);
    if (picked.classes) recorded.classes = tf.keep(picked.classes);
    recorded.scored = true;
    return tf.sum(picked.scores);
  };
  let failure: unknown = null;
  try {
    if (probe) recorded.gradients = tf.grad((_probe: tf.Tensor) => freeTapeOnThrow(totalScore))(probe);
    else tf.tidy(() => void totalScore());
  } catch (error) {
    failure = error;
    if (probe) freeAbandonedTape();
  } finally {
    restore();
  }
  const { classes, gradients = null } = recorded;
  if (failure !== null || calls !== 1 || !recorded.scored) {
    tf.dispose([...kept, ...(classes ? [classes] : []), ...(gradients ? [gradients] : [])]);
    if (failure === null && calls !== 1) {
      throw new ShapeError(
        `${options.who}: layer '${layer.name}' must run exactly once in the model's forward pass; it ran ${calls} times. ` +
          'Explain a layer on the path from the input to the output that is not shared.',
      );
    }
    throw failure;
  }
  let target = options.classes as number[] | TargetFunction;
  if (classes) {
    target = Array.from(classes.dataSync());
    classes.dispose();
  }
  const activations = kept[0];
  return {
    activations,
    gradients,
    target,
    dispose: () => tf.dispose(gradients ? [activations, gradients] : [activations]),
  };
}

/**
 * tfjs' `gradients` keeps a copy of every tensor its forward pass saves for the backward pass and
 * frees them only after the backward pass: when the forward pass throws, they stay (tfjs-core 4.22,
 * engine.ts `gradients`). Frees them, and the abandoned tape, when no outer gradient is running.
 */
function freeAbandonedTape(): void {
  const { state } = tf.engine() as unknown as { state: { gradientDepth: number; activeTape: Array<{ saved?: tf.Tensor[] }> | null } };
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  state.activeTape.forEach((node) => node.saved?.forEach((tensor) => tensor.dispose()));
  state.activeTape = null;
}
