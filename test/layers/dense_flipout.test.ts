import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, type DenseFlipoutArgs } from '../../src';
import { expectLossIsCrossEntropyPlusKl, maxAbsDiff } from '../helpers';
import { runVariationalBattery } from './variational_battery';

runVariationalBattery<DenseFlipoutArgs>({
  className: 'DenseFlipout',
  create: (args) => new DenseFlipout({ units: 4, ...args }),
  inputShape: [5],
  linear: (x, kernel) => tf.matMul(x, kernel),
  badArguments: [
    { args: { units: 0 }, message: /DenseFlipout: units must be an integer >= 1; got 0/ },
    { args: { units: -3 }, message: /units must be an integer >= 1; got -3/ },
    { args: { units: 2.5 }, message: /units must be an integer >= 1; got 2.5/ },
  ],
});

describe('DenseFlipout in models', () => {
  it('samples by default in prediction, as TFP: two predicts give two samples', () => {
    const model = tfl.sequential({ layers: [new DenseFlipout({ units: 3, inputShape: [4] })] });
    const x = tf.ones([2, 4]);
    const [a, b] = [model.predict(x), model.predict(x)] as tf.Tensor[];
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0);
    tf.dispose([x, a, b]);
  });

  it('refuses an input of rank < 2, naming the shape and the fix', () => {
    const layer = new DenseFlipout({ units: 3, name: 'head' });
    expect(() => layer.build([4])).toThrow(
      "DenseFlipout 'head': input must have rank >= 2 (a batch axis then features); got shape [4]. Add a batch axis or reshape the input.",
    );
  });

  it('treats all leading axes of a rank-3 input as examples, like TFP', () => {
    const layer = new DenseFlipout({ units: 2, mode: 'mean' });
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 1);
    const y = layer.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([2, 3, 2]);
    const flat = layer.apply(tf.reshape(x, [6, 4])) as tf.Tensor;
    expect(maxAbsDiff(tf.reshape(y, [6, 2]), flat)).toBeLessThan(1e-6);
  });

  it('works in the functional API', () => {
    const input = tfl.input({ shape: [6] });
    const hidden = tfl.layers.dense({ units: 5, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    const output = new DenseFlipout({ units: 3, activation: 'softmax' }).apply(hidden) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    const y = model.predict(tf.ones([2, 6])) as tf.Tensor;
    expect(y.shape).toEqual([2, 3]);
    expect(maxAbsDiff(tf.sum(y, 1), [1, 1])).toBeLessThan(1e-5);
  });

  it('model.fit lowers the loss on a separable problem', async () => {
    const seed = 3;
    const x = tf.randomNormal([256, 2], 0, 1, 'float32', seed);
    const labels = tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32');
    const y = tf.oneHot(labels, 2);
    const model = tfl.sequential({
      layers: [new DenseFlipout({ units: 2, inputShape: [2], activation: 'softmax', klWeight: 1 / 256, seed })],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(x, y, { epochs: 30, batchSize: 64, verbose: 0, shuffle: false });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(0.6 * losses[0]);
    expect((history.history.acc as number[]).at(-1)).toBeGreaterThan(0.9);
  });

  it("the loss fit reports is cross-entropy plus klWeight · KL", async () => {
    const klWeight = 0.01;
    const layer = new DenseFlipout({ units: 3, inputShape: [4], activation: 'softmax', klWeight, mode: 'mean' });
    const { x } = await expectLossIsCrossEntropyPlusKl(layer, klWeight);
    x.dispose();
  });

  it('a functional model wrapping a model with DenseFlipout carries its KL into the training loss', () => {
    const inner = tfl.sequential({ layers: [new DenseFlipout({ units: 3, inputShape: [4], klWeight: 0.5 })] });
    const input = tfl.input({ shape: [4] });
    const outer = tfl.model({ inputs: input, outputs: inner.apply(input) as tfl.SymbolicTensor });
    const losses = outer.calculateLosses();
    expect(losses).toHaveLength(1);
    const kl = (inner.layers[0] as DenseFlipout).klDivergence();
    expect(losses[0].dataSync()[0]).toBeCloseTo(0.5 * kl.dataSync()[0], 4);
    tf.dispose([...losses, kl]);
  });
});
