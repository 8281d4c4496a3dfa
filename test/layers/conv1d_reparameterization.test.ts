import * as tf from '@tensorflow/tfjs-core';
import { Conv1DReparameterization, conv1dReparameterization, type Conv1DReparameterizationArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<Conv1DReparameterizationArgs>({
  className: 'Conv1DReparameterization',
  create: (args) => conv1dReparameterization({ filters: 3, kernelSize: 2, dilationRate: 2, ...args }),
  inputShape: [6, 2],
  linear: (x, kernel) => tf.conv1d(x as tf.Tensor3D, kernel as tf.Tensor3D, 1, 'valid', 'NWC', 2),
  defaultMode: 'sample',
  independentRowsMode: null,
  badArguments: [{ args: { filters: 1.5 }, message: /Conv1DReparameterization: filters must be an integer >= 1; got 1.5/ }],
});

describe('Conv1DReparameterization', () => {
  it('shares one kernel sample across the batch: identical sequences give identical outputs', () => {
    const layer = new Conv1DReparameterization({ filters: 2, kernelSize: 3, padding: 'same', seed: 7 });
    const x = tf.tile(tf.randomNormal([1, 5, 2], 0, 1, 'float32', 8), [3, 1, 1]);
    const y = layer.apply(x) as tf.Tensor;
    const [first, ...rest] = tf.unstack(y);
    rest.forEach((other) => expect(maxAbsDiff(other, first)).toBe(0));
    tf.dispose([x, y, first, ...rest]);
  });
});
