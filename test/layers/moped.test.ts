import * as tf from '@tensorflow/tfjs-core';
import { DenseFlipout, layerWeight, mopedInitialize, sigmaOf } from '../../src';
import { expectNoLeaks, maxAbsDiff } from '../helpers';

/** A built DenseFlipout [3 → 2] with a Gaussian bias, its prior centred on per-weight means. */
function builtLayer(): DenseFlipout {
  const layer = new DenseFlipout({ units: 2, biasPosterior: 'normal', prior: { meanFromWeights: true }, name: 'head' });
  layer.build([null, 3]);
  return layer;
}

const read = (layer: DenseFlipout, name: string) => layerWeight(layer, name)!.read();

describe('mopedInitialize (Krishnan et al. 2020)', () => {
  it('sets loc = w, sigma = δ·|w| and the per-weight prior means to w, for the kernel and a Gaussian bias', () => {
    const layer = builtLayer();
    const kernel = tf.tensor2d([[0.5, -2], [0, 1e-3], [3, -0.25]]);
    const bias = tf.tensor1d([0.2, -0.4]);
    mopedInitialize(layer, { kernel, bias }, { delta: 0.05 });
    for (const [prefix, w] of [['kernel', kernel], ['bias', bias]] as const) {
      expect(maxAbsDiff(read(layer, `${prefix}_loc`), w)).toBe(0);
      expect(maxAbsDiff(read(layer, `${prefix}_prior_mean`), w)).toBe(0);
      const sigma = sigmaOf(read(layer, `${prefix}_rho`));
      const expected = tf.mul(tf.abs(w), 0.05);
      // Within 0.1% of δ|w|, or 1e-6 absolute: a zero weight keeps a tiny sigma and a finite rho.
      const close = tf.tidy(() => tf.all(tf.lessEqual(tf.abs(tf.sub(sigma, expected)), tf.add(tf.mul(expected, 1e-3), 1e-6))));
      expect(close.dataSync()[0]).toBe(1);
      expect(tf.all(tf.isFinite(read(layer, `${prefix}_rho`))).dataSync()[0]).toBe(1);
      tf.dispose([sigma, expected, close]);
    }
    tf.dispose([kernel, bias]);
  });

  it('defaults δ to 0.1 and copies a point-estimate bias', () => {
    const layer = new DenseFlipout({ units: 1 });
    layer.build([null, 2]);
    const kernel = tf.tensor2d([[2], [-4]]);
    const bias = tf.tensor1d([0.7]);
    mopedInitialize(layer, { kernel, bias });
    const sigma = sigmaOf(read(layer, 'kernel_rho'));
    expect(maxAbsDiff(sigma, [0.2, 0.4])).toBeLessThan(1e-6);
    expect(maxAbsDiff(read(layer, 'bias_loc'), bias)).toBe(0);
    tf.dispose([kernel, bias, sigma]);
  });

  it('leaks no tensors and leaves the caller its tensors', async () => {
    const layer = builtLayer();
    const kernel = tf.ones([3, 2]);
    const bias = tf.ones([2]);
    await expectNoLeaks(() => mopedInitialize(layer, { kernel, bias }));
    expect(kernel.isDisposed || bias.isDisposed).toBe(false);
    tf.dispose([kernel, bias]);
  });

  it('refuses weights of the wrong shape, a missing bias, an unbuilt layer and a negative δ', () => {
    const layer = builtLayer();
    const kernel = tf.ones([3, 2]);
    const wrong = tf.ones([2, 3]);
    const who = "mopedInitialize\\(DenseFlipout 'head'\\)";
    expect(() => mopedInitialize(layer, { kernel: wrong, bias: tf.ones([2]) })).toThrow(
      new RegExp(`^${who}: weights\\.kernel must have shape \\[3, 2\\]; got \\[2, 3\\]\\. Pass the weights of the matching deterministic layer\\.$`),
    );
    expect(() => mopedInitialize(layer, { kernel })).toThrow(new RegExp(`^${who}: weights\\.bias must be a tensor \\(the layer has a bias\\); got undefined`));
    expect(() => mopedInitialize(new DenseFlipout({ units: 2, name: 'head' }), { kernel })).toThrow(
      new RegExp(`^${who}: layer must be a built layer; got 'an unbuilt one'\\. Apply it to an input first\\.$`),
    );
    expect(() => mopedInitialize(layer, { kernel }, { delta: -1 })).toThrow(/options\.delta must be a number >= 0; got -1/);
    tf.dispose([kernel, wrong]);
  });
});
