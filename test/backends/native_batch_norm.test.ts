import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { nativeBatchNormalization } from '../../src/backends/native_batch_norm';
import { BATCH_NORM_TRAINING_KERNEL, registerNativeTrainingKernels } from '../../src/backends/native_training';

/** tfjs-node where `npm run setup:native` (or npm install) put it; the native half of this file needs it. */
function loadNative(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, so loaded synchronously to decide it.skip
    require('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/** Relative tolerance of the fused batch norm against tfjs-layers': float32 sums in another order. */
const FUSED_TOLERANCE = 1e-5;

/**
 * Trains a small conv + batch norm network with Adam (10 epochs of 32 seeded 8×8×2 images, a
 * learnable rule), its batch norms fused or tfjs-layers' own. Returns the loss of every epoch,
 * the running statistics at the end and the tensors gained after the first epoch (0 unless it leaks).
 */
async function fitBatchNormCnn(fused: boolean) {
  const wrap = (layer: ReturnType<typeof tfl.layers.batchNormalization>) => (fused ? nativeBatchNormalization(layer) : layer);
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }),
      wrap(tfl.layers.batchNormalization({ momentum: 0.9 })),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(2) }),
      wrap(tfl.layers.batchNormalization({ epsilon: 1e-2 })),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy' });
  const xs = tf.randomNormal([32, 8, 8, 2], 1, 2, 'float32', 7);
  const ys = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(tf.slice(xs, [0, 0, 0, 0], [32, 8, 8, 1]), [1, 2, 3]), 1), 'int32'), 2));
  const fit = (epochs: number) => model.fit(xs, ys, { epochs, batchSize: 16, shuffle: false, verbose: 0 });
  const first = await fit(1);
  const before = tf.memory().numTensors;
  const rest = await fit(9);
  const tensorsGained = tf.memory().numTensors - before;
  const statistics = model.layers.filter((layer) => layer.getClassName() === 'BatchNormalization').flatMap((layer) => layer.getWeights().slice(2).map((w) => Array.from(w.dataSync())));
  model.dispose();
  tf.dispose([xs, ys]);
  return { losses: [...(first.history.loss as number[]), ...(rest.history.loss as number[])], statistics, tensorsGained };
}

const expectClose = (actual: number[], expected: number[]) =>
  actual.forEach((value, i) => expect(Math.abs(value - expected[i])).toBeLessThanOrEqual(FUSED_TOLERANCE * Math.max(1, Math.abs(expected[i]))));

describe('nativeBatchNormalization', () => {
  const native = loadNative();

  it('elsewhere than tensorflow the layer is tfjs-layers\' own: same class, config, outputs and running statistics', async () => {
    registerNativeTrainingKernels();
    expect(tf.getBackend()).toBe('cpu');
    const layer = nativeBatchNormalization(tfl.layers.batchNormalization({ name: 'bn' }));
    expect(layer.getClassName()).toBe('BatchNormalization');
    expect(layer.getConfig()).toEqual(tfl.layers.batchNormalization({ name: 'bn' }).getConfig());
    const plain = await fitBatchNormCnn(false);
    const wrapped = await fitBatchNormCnn(true);
    expect(wrapped.losses).toEqual(plain.losses);
    expect(wrapped.statistics).toEqual(plain.statistics);
  });

  (native ? it : it.skip)('on tfjs-node: trains through FusedBatchNormV3 to the loss curve and running statistics of tfjs-layers\' batch norm (needs tfjs-node)', async () => {
    await tf.setBackend('tensorflow');
    registerNativeTrainingKernels();
    // tfjs' per-kernel leak check (on under IS_TEST) trips on tfjs-node's own fusedMatMul kernel.
    tf.env().set('IS_TEST', false);
    const reference = await fitBatchNormCnn(false);
    const calls = jest.spyOn(tf.engine(), 'runKernel');
    const fused = await fitBatchNormCnn(true);
    expect(calls.mock.calls.map(([name]) => name)).toContain(BATCH_NORM_TRAINING_KERNEL);
    calls.mockRestore();
    expect(fused.tensorsGained).toBe(0);
    expectClose(fused.losses, reference.losses);
    expectClose(fused.statistics.flat(), reference.statistics.flat());
    expect(fused.losses[9]).toBeLessThan(fused.losses[0]);
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
  });

  (native ? it : it.skip)('on tfjs-node: the fused kernel frees what it made when TensorFlow fails (needs tfjs-node)', async () => {
    await tf.setBackend('tensorflow');
    registerNativeTrainingKernels();
    const x = tf.randomNormal([2, 3, 3, 4]);
    const [scale, offset] = [tf.ones([4]), tf.zeros([4])];
    const backend = tf.backend() as unknown as { executeMultipleOutputs: () => unknown };
    const failing = jest.spyOn(backend, 'executeMultipleOutputs').mockImplementation(() => {
      throw new Error('injected failure');
    });
    const before = tf.memory().numTensors;
    expect(() => tf.engine().runKernel(BATCH_NORM_TRAINING_KERNEL, { x, scale, offset }, { epsilon: 1e-3 })).toThrow('injected failure');
    expect(tf.memory().numTensors).toBe(before);
    failing.mockRestore();
    tf.dispose([x, scale, offset]);
    await tf.setBackend('cpu');
  });
});
