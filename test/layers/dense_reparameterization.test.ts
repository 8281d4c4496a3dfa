import * as tf from '@tensorflow/tfjs-core';
import { DenseReparameterization, denseReparameterization, type DenseReparameterizationArgs } from '../../src';
import { maxAbsDiff } from '../helpers';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<DenseReparameterizationArgs>({
  className: 'DenseReparameterization',
  create: (args) => denseReparameterization({ units: 4, ...args }),
  inputShape: [5],
  linear: (x, kernel) => tf.matMul(x, kernel),
  defaultMode: 'sample',
  badArguments: [{ args: { units: 0 }, message: /DenseReparameterization: units must be an integer >= 1; got 0/ }],
});

describe('DenseReparameterization', () => {
  it('draws one weight sample per call, shared by the batch: identical rows give identical outputs', () => {
    const layer = new DenseReparameterization({ units: 3, seed: 1 });
    const x = tf.tile(tf.randomNormal([1, 4], 0, 1, 'float32', 2), [5, 1]);
    const y = layer.apply(x) as tf.Tensor;
    const firstRow = tf.tile(tf.slice(y, [0, 0], [1, 3]), [5, 1]);
    expect(maxAbsDiff(y, firstRow)).toBe(0);
    tf.dispose([x, y, firstRow]);
  });
});
