import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv3DFlipout, conv3dFlipout, type Conv3DFlipoutArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<Conv3DFlipoutArgs>({
  className: 'Conv3DFlipout',
  create: (args) => conv3dFlipout({ filters: 2, kernelSize: [2, 2, 1], strides: [1, 2, 1], padding: 'same', ...args }),
  inputShape: [3, 3, 2, 2],
  linear: (x, kernel) => tf.conv3d(x as tf.Tensor5D, kernel as tf.Tensor5D, [1, 2, 1], 'same'),
  independentRowsMode: null,
  calls: 1000,
  badArguments: [
    { args: { filters: 0 }, message: /Conv3DFlipout: filters must be an integer >= 1; got 0/ },
    { args: { kernelSize: [3, 3] as never }, message: /kernelSize must be a positive integer or \[depth, height, width\] of them; got \[3, 3\]/ },
    { args: { dilationRate: [1, 0, 1] }, message: /dilationRate must be an integer >= 1; got 0/ },
  ],
});

describe('Conv3DFlipout geometry', () => {
  it.each([
    [{ strides: 1, padding: 'valid' }],
    [{ strides: [2, 1, 2], padding: 'same' }],
    [{ dilationRate: [2, 1, 2], padding: 'valid' }],
  ] as const)('in mean mode matches tf.layers.conv3d with the same kernel and %j', (options) => {
    const args = { filters: 3, kernelSize: 2, ...options } as Conv3DFlipoutArgs;
    const variational = new Conv3DFlipout({ ...args, mode: 'mean' });
    const plain = tfl.layers.conv3d(args as Parameters<typeof tfl.layers.conv3d>[0]);
    const x = tf.randomNormal([2, 4, 5, 4, 2], 0, 1, 'float32', 1);
    const expected = plain.apply(x) as tf.Tensor;
    variational.build(x.shape);
    const [kernel, bias] = plain.getWeights();
    const [, rho] = variational.getWeights();
    variational.setWeights([kernel, rho, bias]);
    const y = variational.apply(x) as tf.Tensor;
    expect(y.shape).toEqual(expected.shape);
    expect(variational.computeOutputShape([null, 4, 5, 4, 2])).toEqual([null, ...expected.shape.slice(1)]);
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    tf.dispose([x, expected, y]);
  });

  it('combines strides with dilation: the stride-1 dilated output, subsampled', () => {
    const layer = new Conv3DFlipout({ filters: 2, kernelSize: 2, strides: 2, dilationRate: 2, mode: 'mean' });
    const x = tf.randomNormal([1, 5, 5, 5, 2], 0, 1, 'float32', 4);
    const y = layer.apply(x) as tf.Tensor;
    const [loc, , bias] = layer.getWeights();
    const dense = tf.add(tf.conv3d(x as tf.Tensor5D, loc as tf.Tensor5D, 1, 'valid', 'NDHWC', 2), bias);
    const subsampled = tf.stridedSlice(dense, [0, 0, 0, 0, 0], dense.shape, [1, 2, 2, 2, 1]);
    expect(y.shape).toEqual([1, 2, 2, 2, 2]);
    expect(maxAbsDiff(y, subsampled)).toBeLessThan(1e-5);
    tf.dispose([x, y, dense, subsampled]);
  });

  it('refuses an input that is not rank 5, and one smaller than the kernel, naming the layout and the fix', () => {
    const layer = new Conv3DFlipout({ filters: 2, kernelSize: 3, name: 'conv' });
    expect(() => layer.build([null, 8, 8, 3])).toThrow(
      "Conv3DFlipout 'conv': input must have rank 5 [batch, depth, height, width, channels]; got shape [null, 8, 8, 3]. Reshape volumes to NDHWC.",
    );
    const x = tf.ones([1, 2, 4, 4, 1]);
    expect(() => layer.apply(x)).toThrow(
      "Conv3DFlipout 'conv': input must be at least 3 × 3 × 3 voxels (the kernel's span, with padding 'valid'); got shape [1, 2, 4, 4, 1]. Use larger volumes, or padding 'same'.",
    );
    x.dispose();
  });

  it('trains inside a small volume model with model.fit (Conv3D gradients), its KL in the loss', async () => {
    const model = tfl.sequential({
      layers: [
        new Conv3DFlipout({ filters: 3, kernelSize: 2, activation: 'relu', inputShape: [4, 4, 4, 1], klWeight: 1 / 16, seed: 2 }),
        tfl.layers.flatten({}),
        tfl.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([16, 4, 4, 4, 1], 0, 1, 'float32', 3);
    const labels = tf.cast(tf.greater(tf.mean(x, [1, 2, 3, 4]), 0), 'int32');
    const y = tf.oneHot(labels, 2);
    expect(model.calculateLosses()).toHaveLength(1);
    const history = await model.fit(x, y, { epochs: 10, batchSize: 16, verbose: 0, shuffle: false });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    tf.dispose([x, labels, y]);
  });
});
