import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv1DFlipout, conv1dFlipout, type Conv1DFlipoutArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<Conv1DFlipoutArgs>({
  className: 'Conv1DFlipout',
  create: (args) => conv1dFlipout({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', ...args }),
  inputShape: [7, 2],
  linear: (x, kernel) => tf.conv1d(x as tf.Tensor3D, kernel as tf.Tensor3D, 2, 'same'),
  independentRowsMode: null,
  badArguments: [
    { args: { filters: 0 }, message: /Conv1DFlipout: filters must be an integer >= 1; got 0/ },
    { args: { kernelSize: [3, 3] as never }, message: /kernelSize must be a positive integer or \[width\] of them; got \[3, 3\]/ },
    { args: { strides: 0 }, message: /strides must be an integer >= 1; got 0/ },
  ],
});

describe('Conv1DFlipout geometry', () => {
  it.each([
    [{ strides: 1, padding: 'valid' }],
    [{ strides: 2, padding: 'same' }],
    [{ dilationRate: 2, padding: 'valid' }],
    [{ dilationRate: 3, padding: 'same' }],
  ] as const)('in mean mode matches tf.layers.conv1d with the same kernel and %j', (options) => {
    const args = { filters: 4, kernelSize: 3, ...options } as Conv1DFlipoutArgs;
    const variational = new Conv1DFlipout({ ...args, mode: 'mean' });
    const plain = tfl.layers.conv1d(args as Parameters<typeof tfl.layers.conv1d>[0]);
    const x = tf.randomNormal([2, 11, 3], 0, 1, 'float32', 1);
    const expected = plain.apply(x) as tf.Tensor;
    variational.build(x.shape);
    const [kernel, bias] = plain.getWeights();
    const [, rho] = variational.getWeights();
    variational.setWeights([kernel, rho, bias]);
    const y = variational.apply(x) as tf.Tensor;
    expect(y.shape).toEqual(expected.shape);
    expect(variational.computeOutputShape([null, 11, 3])).toEqual([null, ...expected.shape.slice(1)]);
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    tf.dispose([x, expected, y]);
  });

  it('flips signs per example and channel, tiled over steps: a constant sequence gives a constant perturbation', () => {
    const layer = new Conv1DFlipout({ filters: 2, kernelSize: 1, seed: 5 });
    const x = tf.ones([3, 6, 2]);
    const y = layer.apply(x) as tf.Tensor;
    const first = tf.slice(y, [0, 0, 0], [3, 1, 2]);
    expect(maxAbsDiff(y, tf.tile(first, [1, 6, 1]))).toBeLessThan(1e-6);
    const examples = tf.unstack(first);
    expect(maxAbsDiff(examples[0], examples[1])).toBeGreaterThan(0);
    tf.dispose([x, y, first, ...examples]);
  });

  it('refuses an input that is not rank 3, and one shorter than the kernel, naming the layout and the fix', () => {
    const layer = new Conv1DFlipout({ filters: 2, kernelSize: 3, dilationRate: 2, name: 'conv' });
    expect(() => layer.build([null, 8, 8, 3])).toThrow(
      "Conv1DFlipout 'conv': input must have rank 3 [batch, width, channels]; got shape [null, 8, 8, 3]. Reshape sequences to NWC.",
    );
    const x = tf.ones([1, 4, 3]);
    expect(() => layer.apply(x)).toThrow(
      "Conv1DFlipout 'conv': input must be at least 5 steps (the kernel's span, with padding 'valid'); got shape [1, 4, 3]. Use larger sequences, or padding 'same'.",
    );
    x.dispose();
  });

  it('trains inside a small sequence model with model.fit, its KL in the loss', async () => {
    const model = tfl.sequential({
      layers: [
        new Conv1DFlipout({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 1], klWeight: 1 / 32, seed: 2 }),
        tfl.layers.globalAveragePooling1d({}),
        tfl.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([32, 8, 1], 0, 1, 'float32', 3);
    const labels = tf.cast(tf.greater(tf.mean(x, [1, 2]), 0), 'int32');
    const y = tf.oneHot(labels, 2);
    expect(model.calculateLosses()).toHaveLength(1);
    const history = await model.fit(x, y, { epochs: 15, batchSize: 32, verbose: 0, shuffle: false });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    tf.dispose([x, labels, y]);
  });
});
