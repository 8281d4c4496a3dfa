import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv3DFlipout, conv3dFlipout, type Conv3DFlipoutArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { flipsSignsPerExampleAndChannel, runConvGeometryTests } from './conv_battery';
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

runConvGeometryTests({
  className: 'Conv3DFlipout',
  create: (args) => new Conv3DFlipout(args as Conv3DFlipoutArgs),
  plain: (args) => tfl.layers.conv3d(args as Parameters<typeof tfl.layers.conv3d>[0]),
  inputShape: [4, 5, 4, 2],
  geometries: [
    { strides: 1, padding: 'valid' },
    { strides: [2, 1, 2], padding: 'same' },
    { dilationRate: [2, 1, 2], padding: 'valid' },
  ],
});

describe('Conv3DFlipout', () => {
  flipsSignsPerExampleAndChannel({ className: 'Conv3DFlipout', create: (args) => new Conv3DFlipout(args as Conv3DFlipoutArgs) }, [2, 3, 2]);

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
});
