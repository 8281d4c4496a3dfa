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
