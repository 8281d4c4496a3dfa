import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv2DFlipout, conv2dFlipout, type Conv2DFlipoutArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { runVariationalBattery } from './variational_battery';

/** The conv geometry the battery checks moments against, per output position: strided and padded. */
const geometry = { filters: 3, kernelSize: [3, 2] as [number, number], strides: 2, padding: 'same' as const };

runVariationalBattery<Conv2DFlipoutArgs>({
  className: 'Conv2DFlipout',
  create: (args) => conv2dFlipout({ ...geometry, ...args }),
  inputShape: [5, 4, 2],
  linear: (x, kernel) => tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 2, 'same'),
  independentRowsMode: null,
  badArguments: [
    { args: { filters: 0 }, message: /Conv2DFlipout: filters must be an integer >= 1; got 0/ },
    { args: { kernelSize: [3, 0] }, message: /kernelSize must be an integer >= 1; got 0/ },
    { args: { kernelSize: [3, 3, 3] as never }, message: /kernelSize must be a positive integer or \[height, width\] of them; got \[3, 3, 3\]/ },
    { args: { padding: 'causal' as never }, message: /padding must be one of 'valid', 'same'; got 'causal'/ },
    { args: { dilationRate: 0 }, message: /dilationRate must be an integer >= 1; got 0/ },
  ],
});

describe('Conv2DFlipout geometry', () => {
  it.each([
    [{ strides: 1, padding: 'valid' }],
    [{ strides: [2, 1], padding: 'same' }],
    [{ dilationRate: 2, padding: 'valid' }],
    [{ dilationRate: [1, 2], padding: 'same' }],
  ] as const)('in mean mode matches tf.layers.conv2d with the same kernel and %j', (options) => {
    const args = { filters: 4, kernelSize: 3, ...options } as Conv2DFlipoutArgs;
    const variational = new Conv2DFlipout({ ...args, mode: 'mean' });
    const plain = tfl.layers.conv2d(args as Parameters<typeof tfl.layers.conv2d>[0]);
    const x = tf.randomNormal([2, 9, 8, 3], 0, 1, 'float32', 1);
    const expected = plain.apply(x) as tf.Tensor;
    variational.build(x.shape);
    const [kernel, bias] = plain.getWeights();
    const [, rho] = variational.getWeights();
    variational.setWeights([kernel, rho, bias]);
    const y = variational.apply(x) as tf.Tensor;
    expect(y.shape).toEqual(expected.shape);
    expect(variational.computeOutputShape([null, 9, 8, 3])).toEqual([null, ...expected.shape.slice(1)]);
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    tf.dispose([x, expected, y]);
  });

  it('combines strides with dilation (tfjs conv2d cannot): the stride-1 dilated output, subsampled', () => {
    const layer = new Conv2DFlipout({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2, mode: 'mean' });
    const x = tf.randomNormal([1, 9, 9, 2], 0, 1, 'float32', 4);
    const y = layer.apply(x) as tf.Tensor;
    const [loc, , bias] = layer.getWeights();
    const dense = tf.add(tf.conv2d(x as tf.Tensor4D, loc as tf.Tensor4D, 1, 'valid', 'NHWC', 2), bias);
    const subsampled = tf.stridedSlice(dense, [0, 0, 0, 0], dense.shape, [1, 2, 2, 1]);
    expect(y.shape).toEqual([1, 3, 3, 2]);
    expect(maxAbsDiff(y, subsampled)).toBeLessThan(1e-5);
    tf.dispose([x, y, dense, subsampled]);
  });

  it('flips signs per example and channel, tiled over space: a constant image gives a constant perturbation map', () => {
    // With a 1×1 kernel every position of a constant image sees the same input, so any per-position
    // sign would show up as spatial variation of the output.
    const layer = new Conv2DFlipout({ filters: 2, kernelSize: 1, seed: 5 });
    const x = tf.ones([3, 4, 4, 2]);
    const y = layer.apply(x) as tf.Tensor;
    const corner = tf.slice(y, [0, 0, 0, 0], [3, 1, 1, 2]);
    expect(maxAbsDiff(y, tf.tile(corner, [1, 4, 4, 1]))).toBeLessThan(1e-6);
    const examples = tf.unstack(corner);
    expect(maxAbsDiff(examples[0], examples[1])).toBeGreaterThan(0);
    tf.dispose([x, y, corner, ...examples]);
  });

  it('refuses an input that is not rank 4, naming the layout', () => {
    const layer = new Conv2DFlipout({ filters: 2, kernelSize: 3, name: 'conv' });
    expect(() => layer.build([null, 8, 3])).toThrow(
      "Conv2DFlipout 'conv': input must have rank 4 [batch, height, width, channels]; got shape [null, 8, 3]. Reshape images to NHWC.",
    );
  });

  it('trains inside a small CNN with model.fit, its KL in the loss', async () => {
    const model = tfl.sequential({
      layers: [
        new Conv2DFlipout({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [6, 6, 1], klWeight: 1 / 32, seed: 2 }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([32, 6, 6, 1], 0, 1, 'float32', 3);
    const labels = tf.cast(tf.greater(tf.mean(x, [1, 2, 3]), 0), 'int32');
    const y = tf.oneHot(labels, 2);
    expect(model.calculateLosses()).toHaveLength(1);
    const history = await model.fit(x, y, { epochs: 15, batchSize: 32, verbose: 0, shuffle: false });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    tf.dispose([x, labels, y]);
  });
});
