import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** tfjs-node where `npm run setup:native` (or npm install) put it; the native tests need it (CI has none). */
export function loadNative(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, so loaded synchronously to decide it.skip
    require('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/**
 * Trains `model` (input [9, 9, 2], 2 softmax outputs) with Adam on the current backend, 15 epochs
 * of 32 seeded images whose class is the sign of the first channel's mean (a learnable rule), then
 * disposes it. Returns the loss of every epoch, what `inspect` read from the trained model, and the
 * tensors gained after the first epoch (which creates Adam's moment variables, which stay): 0 unless training leaks.
 */
export async function fitOnSignRule<T = null>(model: tfl.LayersModel, inspect?: (model: tfl.LayersModel) => T) {
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy' });
  const xs = tf.randomNormal([32, 9, 9, 2], 0, 1, 'float32', 7);
  const ys = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(tf.slice(xs, [0, 0, 0, 0], [32, 9, 9, 1]), [1, 2, 3]), 0), 'int32'), 2));
  try {
    const fit = (epochs: number) => model.fit(xs, ys, { epochs, batchSize: 16, shuffle: false, verbose: 0 });
    const first = await fit(1);
    const before = tf.memory().numTensors;
    const rest = await fit(14);
    const tensorsGained = tf.memory().numTensors - before;
    const losses = [...(first.history.loss as number[]), ...(rest.history.loss as number[])];
    return { losses, tensorsGained, inspected: inspect ? inspect(model) : null };
  } finally {
    model.dispose();
    tf.dispose([xs, ys]);
  }
}

/** A small CNN (strided conv, depthwise conv, pooling, dense) trained by `fitOnSignRule`. */
export async function fitSmallCnn(): Promise<{ losses: number[]; tensorsGained: number }> {
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [9, 9, 2], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', activation: 'relu', depthwiseInitializer: init(2) }),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
  return fitOnSignRule(model);
}
