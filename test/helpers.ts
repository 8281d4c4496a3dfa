import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Runs `fn` and fails if it leaves tensors behind (results it returns are disposed first). */
export async function expectNoLeaks<T>(fn: () => T | Promise<T>, dispose: (result: T) => void = disposeAny): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  dispose(result);
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

function disposeAny(result: unknown): void {
  if (result instanceof tf.Tensor) result.dispose();
  else if (result && typeof (result as { dispose?: unknown }).dispose === 'function') {
    (result as { dispose: () => void }).dispose();
  } else if (Array.isArray(result)) result.forEach(disposeAny);
}

/** Max absolute difference between two tensors (or arrays), as a number. */
export function maxAbsDiff(a: tf.Tensor | number[], b: tf.Tensor | number[]): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(tf.tensor(toArray(a)), tf.tensor(toArray(b))))).dataSync()[0]);
}

function toArray(t: tf.Tensor | number[]): number[] {
  return t instanceof tf.Tensor ? Array.from(t.dataSync()) : t;
}

/** Saves a model to memory and loads it back, as a file round trip would (without the file). */
export async function saveAndLoad(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tfl.loadLayersModel(tf.io.fromMemory(saved!));
}

/**
 * Fits `layer` (softmax over 3 classes on 4 inputs, in 'mean' mode, built with `inputShape: [4]`)
 * for one step at learning rate 0 and expects the loss fit reports to be the cross-entropy plus
 * klWeight · KL at those weights: the ELBO the layer claims to add. Returns the model and input.
 */
export async function expectLossIsCrossEntropyPlusKl(
  layer: tfl.layers.Layer & { klDivergence(): tf.Scalar },
  klWeight: number,
): Promise<{ model: tfl.Sequential; x: tf.Tensor }> {
  const model = tfl.sequential({ layers: [layer] });
  // A zero learning rate so the weights the loss was measured at are the weights we check against.
  model.compile({ optimizer: tf.train.sgd(0), loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([8, 4], 0, 1, 'float32', 2);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
  const history = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  const crossEntropy = tf.tidy(() => tf.mean(tfl.metrics.categoricalCrossentropy(y, model.predict(x) as tf.Tensor)).dataSync()[0]);
  const kl = tf.tidy(() => layer.klDivergence().dataSync()[0]);
  expect(kl).toBeGreaterThan(1);
  expect(history.history.loss[0] as number).toBeCloseTo(crossEntropy + klWeight * kl, 4);
  y.dispose();
  return { model, x };
}
