import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { nativeBatchNormalization } from '../../src/backends/native_batch_norm';
import { BATCH_NORM_TRAINING_KERNEL, registerNativeTrainingKernels } from '../../src/backends/native_training';
import { fitOnSignRule, loadNative } from './small_cnn';

/** Relative tolerance of the fused batch norm against tfjs-layers': float32 sums in another order. */
const FUSED_TOLERANCE = 1e-5;

/**
 * A small conv + batch norm network trained by `fitOnSignRule`, its batch norms fused or
 * tfjs-layers' own; `statistics` are their running means and variances at the end.
 */
async function fitBatchNormCnn(fused: boolean) {
  const wrap = (layer: ReturnType<typeof tfl.layers.batchNormalization>) => (fused ? nativeBatchNormalization(layer) : layer);
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [9, 9, 2], filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(1) }),
      wrap(tfl.layers.batchNormalization({ momentum: 0.9 })),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(2) }),
      wrap(tfl.layers.batchNormalization({ epsilon: 1e-2 })),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
  const { losses, tensorsGained, inspected } = await fitOnSignRule(model, (trained) =>
    trained.layers.filter((layer) => layer.getClassName() === 'BatchNormalization').flatMap((layer) => layer.getWeights().slice(2).map((w) => Array.from(w.dataSync()))),
  );
  return { losses, tensorsGained, statistics: inspected! };
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
    expect(fused.losses[14]).toBeLessThan(fused.losses[0]);
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
