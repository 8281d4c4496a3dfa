import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv2DFlipout, conv2dFlipout, type Conv2DFlipoutArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { flipsSignsPerExampleAndChannel, runConvGeometryTests } from './conv_battery';
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

runConvGeometryTests({
  className: 'Conv2DFlipout',
  create: (args) => new Conv2DFlipout(args as Conv2DFlipoutArgs),
  plain: (args) => tfl.layers.conv2d(args as Parameters<typeof tfl.layers.conv2d>[0]),
  inputShape: [9, 8, 3],
  geometries: [
    { kernelSize: 3, strides: 1, padding: 'valid' },
    { kernelSize: 3, strides: [2, 1], padding: 'same' },
    { kernelSize: 3, dilationRate: 2, padding: 'valid' },
    { kernelSize: 3, dilationRate: [1, 2], padding: 'same' },
  ],
});

describe('Conv2DFlipout', () => {
  flipsSignsPerExampleAndChannel({ className: 'Conv2DFlipout', create: (args) => new Conv2DFlipout(args as Conv2DFlipoutArgs) }, [4, 4]);

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

  it('refuses an input that is not rank 4, naming the layout', () => {
    const layer = new Conv2DFlipout({ filters: 2, kernelSize: 3, name: 'conv' });
    expect(() => layer.build([null, 8, 3])).toThrow(
      "Conv2DFlipout 'conv': input must have rank 4 [batch, height, width, channels]; got shape [null, 8, 3]. Reshape images to NHWC.",
    );
  });
});
