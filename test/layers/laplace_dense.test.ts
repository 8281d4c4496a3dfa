import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LaplaceDense, withSampling } from '../../src';
import { expectNoLeaks } from '../helpers';

/** A built diag layer 3 → 2 with known weights: kernel, bias and per-weight variances. */
function diagLayer(activation?: 'softmax'): LaplaceDense {
  const layer = new LaplaceDense({ units: 2, structure: 'diag', activation, seed: 1 });
  layer.apply(tfl.input({ shape: [3] }));
  layer.setWeights([tf.tensor2d([[1, 0], [0, 1], [1, 1]]), tf.tensor1d([0.5, -0.5]), tf.tensor2d([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]])]);
  return layer;
}

describe('LaplaceDense', () => {
  it("'mean' is x · kernel + bias, then the activation", () => {
    const x = tf.tensor2d([[1, 2, 3]]);
    expect((diagLayer().apply(x, { mode: 'mean' }) as tf.Tensor).arraySync()).toEqual([[4.5, 4.5]]);
    const softmax = (diagLayer('softmax').apply(x, { mode: 'mean' }) as tf.Tensor).arraySync() as number[][];
    expect(softmax[0][0]).toBeCloseTo(0.5, 6);
  });

  it("diag: logitMoments' variance is x̃² · v (by hand)", () => {
    const { mean, variance } = diagLayer().logitMoments(tf.tensor2d([[1, 2, 3]]));
    // x̃ = [1, 2, 3, 1]: 1·0.1 + 4·0.3 + 9·0.5 + 0.7 = 6.5 and 0.2 + 1.6 + 5.4 + 0.8 = 8.
    expect(variance.arraySync()[0][0]).toBeCloseTo(6.5, 5);
    expect(variance.arraySync()[0][1]).toBeCloseTo(8, 5);
    expect(mean.arraySync()).toEqual([[4.5, 4.5]]);
    tf.dispose([mean, variance]);
  });

  it('declares its modes: row-wise draws for kron and diag (the fast path), weight draws for full', () => {
    for (const structure of ['kron', 'diag'] as const) {
      const layer = new LaplaceDense({ units: 2, structure });
      expect([layer.independentRowsMode, layer.mode, [...layer.supportedModes]]).toEqual(['local', 'local', ['local', 'sample', 'mean']]);
    }
    const full = new LaplaceDense({ units: 2, structure: 'full' });
    expect([full.independentRowsMode, full.mode, [...full.supportedModes]]).toEqual([null, 'sample', ['sample', 'mean']]);
  });

  it('a model-wide mode it lacks means one weight sample per call; seeded calls repeat', () => {
    const layer = diagLayer();
    const model = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [3] }), layer] });
    const x = tf.ones([4, 3]);
    const flipout = withSampling(model, { mode: 'flipout', seed: 2 }, () => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
    const sample = withSampling(model, { mode: 'sample', seed: 2 }, () => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
    expect(flipout).toEqual(sample);
    // One weight draw for the whole batch: identical inputs give identical rows.
    expect(new Set(sample.map((row) => row.join())).size).toBe(1);
    const local = withSampling(model, { mode: 'local', seed: 2 }, () => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
    expect(new Set(local.map((row) => row.join())).size).toBe(4);
  });

  it('config round trip, and no leaks per call', async () => {
    const layer = new LaplaceDense({ units: 4, structure: 'kron', activation: 'softmax', mode: 'sample', seed: 3, name: 'posterior' });
    const copy = LaplaceDense.fromConfig(LaplaceDense, layer.getConfig()) as LaplaceDense;
    expect(copy.getConfig()).toEqual(layer.getConfig());
    expect(layer.getConfig()).toMatchObject({ units: 4, structure: 'kron', activation: 'softmax', mode: 'sample', seed: 3, trainable: false });
    const built = diagLayer();
    const x = tf.ones([2, 3]);
    await expectNoLeaks(() => built.apply(x) as tf.Tensor);
  });

  it('refuses bad arguments and inputs', () => {
    expect(() => new LaplaceDense({ units: 0, structure: 'diag' })).toThrow(/^LaplaceDense: units must be an integer >= 1; got 0\.$/);
    expect(() => new LaplaceDense({ units: 2, structure: 'lowrank' as never })).toThrow(/^LaplaceDense: structure must be one of 'full', 'kron', 'diag'; got 'lowrank'\.$/);
    expect(() => new LaplaceDense({ units: 2, structure: 'full', mode: 'local' })).toThrow(/^LaplaceDense: mode must be one of 'sample', 'mean'; got 'local'\.$/);
    expect(() => new LaplaceDense({ units: 2, structure: 'diag', name: 'l' }).apply(tfl.input({ shape: [4, 3] }))).toThrow(
      /^LaplaceDense 'l': input must have shape \[batch, features\]; got \[null, 4, 3\]\. Flatten or pool the features first\.$/,
    );
  });
});
