import * as tf from '@tensorflow/tfjs-core';
import { DenseLocalReparameterization, denseLocalReparameterization, type DenseLocalReparameterizationArgs } from '../../src';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<DenseLocalReparameterizationArgs>({
  className: 'DenseLocalReparameterization',
  create: (args) => denseLocalReparameterization({ units: 4, ...args }),
  inputShape: [5],
  linear: (x, kernel) => tf.matMul(x, kernel),
  defaultMode: 'local',
  badArguments: [{ args: { units: 0 }, message: /DenseLocalReparameterization: units must be an integer >= 1; got 0/ }],
});

describe('DenseLocalReparameterization', () => {
  it('draws each row independently: identical rows are uncorrelated across calls', () => {
    const layer = new DenseLocalReparameterization({ units: 1, seed: 3 });
    const x = tf.tile(tf.randomNormal([1, 4], 0, 1, 'float32', 4), [2, 1]);
    const calls = 2000;
    const draws = tf.tidy(() => tf.stack(Array.from({ length: calls }, () => layer.apply(x) as tf.Tensor)));
    // Correlation of row 0 with row 1 over the calls: ~N(0, 1/calls) when independent, 1 if shared.
    const [a, b] = tf.tidy(() => tf.unstack(tf.reshape(draws, [calls, 2]), 1).map((v) => tf.sub(v, tf.mean(v))));
    const correlation = tf.tidy(() => tf.div(tf.sum(tf.mul(a, b)), tf.sqrt(tf.mul(tf.sum(tf.square(a)), tf.sum(tf.square(b))))));
    expect(Math.abs(correlation.dataSync()[0])).toBeLessThan(5 / Math.sqrt(calls));
    tf.dispose([x, draws, a, b, correlation]);
  });
});
