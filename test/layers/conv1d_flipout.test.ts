import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv1DFlipout, conv1dFlipout, type Conv1DFlipoutArgs } from '../../src';
import { flipsSignsPerExampleAndChannel, runConvGeometryTests } from './conv_battery';
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

runConvGeometryTests({
  className: 'Conv1DFlipout',
  create: (args) => new Conv1DFlipout(args as Conv1DFlipoutArgs),
  plain: (args) => tfl.layers.conv1d(args as Parameters<typeof tfl.layers.conv1d>[0]),
  inputShape: [11, 3],
  geometries: [
    { kernelSize: 3, strides: 1, padding: 'valid' },
    { kernelSize: 3, strides: 2, padding: 'same' },
    { kernelSize: 3, dilationRate: 2, padding: 'valid' },
    { kernelSize: 3, dilationRate: 3, padding: 'same' },
  ],
});

describe('Conv1DFlipout', () => {
  flipsSignsPerExampleAndChannel({ className: 'Conv1DFlipout', create: (args) => new Conv1DFlipout(args as Conv1DFlipoutArgs) }, [6]);

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
});
