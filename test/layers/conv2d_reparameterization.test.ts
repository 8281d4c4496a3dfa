import * as tf from '@tensorflow/tfjs-core';
import { Conv2DReparameterization, conv2dReparameterization, type Conv2DReparameterizationArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<Conv2DReparameterizationArgs>({
  className: 'Conv2DReparameterization',
  create: (args) => conv2dReparameterization({ filters: 3, kernelSize: 2, dilationRate: [2, 1], ...args }),
  inputShape: [5, 5, 2],
  linear: (x, kernel) => tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'valid', 'NHWC', [2, 1]),
  defaultMode: 'sample',
  independentRowsMode: null,
  badArguments: [{ args: { filters: 1.5 }, message: /Conv2DReparameterization: filters must be an integer >= 1; got 1.5/ }],
});

describe('Conv2DReparameterization', () => {
  it('shares one kernel sample across the batch: identical images give identical outputs', () => {
    const layer = new Conv2DReparameterization({ filters: 2, kernelSize: 3, padding: 'same', seed: 7 });
    const x = tf.tile(tf.randomNormal([1, 4, 4, 2], 0, 1, 'float32', 8), [3, 1, 1, 1]);
    const y = layer.apply(x) as tf.Tensor;
    const [first, ...rest] = tf.unstack(y);
    rest.forEach((other) => expect(maxAbsDiff(other, first)).toBe(0));
    tf.dispose([x, y, first, ...rest]);
  });
});
