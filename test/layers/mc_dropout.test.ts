import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MCDropout, mcDropout, stochasticLayers, withSampling } from '../../src';
import { expectNoLeaks, maxAbsDiff, saveAndLoad } from '../helpers';

const CALLS = 4000;
/** Tolerance in standard errors, as in the variational battery. */
const Z = 5;

/** Mean and unbiased variance, per element, of `calls` outputs of `layer` on `x`. */
function moments(layer: tfl.layers.Layer, x: tf.Tensor, calls: number): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const draws = tf.stack(Array.from({ length: calls }, () => layer.apply(x) as tf.Tensor));
    const { mean, variance } = tf.moments(draws, 0);
    return [mean, tf.mul(variance, calls / (calls - 1))];
  });
}

describe('MCDropout', () => {
  it.each([0.1, 0.5])('rate %p: mean x and variance x²·p/(1 − p), the closed forms of inverted dropout', (rate) => {
    const layer = new MCDropout({ rate, seed: 1 });
    const x = tf.tensor2d([[0.5, -1, 2, 3]]);
    const [mean, variance] = moments(layer, x, CALLS);
    const expectedVar = tf.mul(tf.square(x), rate / (1 - rate));
    // y − x = x·(m/(1−p) − 1), m ~ Bernoulli(1 − p): its 4th central moment is x⁴·(p⁴/(1−p)³ + p).
    const fourth = tf.mul(tf.pow(x, 4), rate ** 4 / (1 - rate) ** 3 + rate);
    const meanBound = tf.mul(tf.sqrt(tf.div(expectedVar, CALLS)), Z);
    // Var of the sample variance ≈ (μ4 − σ⁴)/N, plus the (sample mean − x)² it absorbs, ≤ Z²σ²/N: the
    // second term alone remains at p = ½, where |y − x| = |x| always and μ4 = σ⁴.
    const varBound = tf.add(
      tf.mul(tf.sqrt(tf.div(tf.sub(fourth, tf.square(expectedVar)), CALLS)), Z),
      tf.mul(expectedVar, (Z * Z) / CALLS),
    );
    expect(tf.all(tf.lessEqual(tf.abs(tf.sub(mean, x)), meanBound)).dataSync()[0]).toBe(1);
    expect(tf.all(tf.lessEqual(tf.abs(tf.sub(variance, expectedVar)), varBound)).dataSync()[0]).toBe(1);
    tf.dispose([x, mean, variance, expectedVar, fourth, meanBound, varBound]);
  });

  it('kept units are scaled by 1 / (1 − rate), dropped ones are exactly 0', () => {
    const layer = new MCDropout({ rate: 0.25, seed: 2 });
    const values = (layer.apply(tf.ones([50, 20])) as tf.Tensor).dataSync();
    expect(new Set(Array.from(values))).toEqual(new Set([0, Math.fround(1 / 0.75)]));
  });

  it('stays on in model.predict, where tf.layers.dropout turns off', () => {
    const x = tf.ones([4, 8]);
    const model = tfl.sequential({ layers: [mcDropout({ rate: 0.5, inputShape: [8] })] });
    const [a, b] = [model.predict(x), model.predict(x)] as tf.Tensor[];
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0);
    const plain = tfl.sequential({ layers: [tfl.layers.dropout({ rate: 0.5, inputShape: [8] })] });
    const off = plain.predict(x) as tf.Tensor;
    expect(maxAbsDiff(off, x)).toBe(0);
    tf.dispose([x, a, b, off]);
  });

  it("'mean' mode, per layer, per call or model-wide, is the identity", () => {
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 3);
    const layer = new MCDropout({ rate: 0.5, mode: 'mean' });
    expect(maxAbsDiff(layer.apply(x) as tf.Tensor, x)).toBe(0);
    expect(maxAbsDiff(new MCDropout({ rate: 0.5 }).apply(x, { mode: 'mean' }) as tf.Tensor, x)).toBe(0);
    const model = tfl.sequential({ layers: [mcDropout({ rate: 0.5, inputShape: [5] })] });
    const y = withSampling(model, { mode: 'mean' }, () => model.predict(x) as tf.Tensor);
    expect(maxAbsDiff(y, x)).toBe(0);
    tf.dispose([x, y]);
  });

  it("is a stochastic layer whose rows are independent draws in 'sample' mode, also under weight-space overrides", () => {
    const model = tfl.sequential({ layers: [mcDropout({ rate: 0.5, inputShape: [64] })] });
    const [layer] = stochasticLayers(model);
    expect(layer).toBe(model.layers[0]);
    expect(layer.independentRowsMode).toBe('sample');
    const x = tf.ones([2, 64]);
    // A model-wide 'local' (the Monte Carlo fast path) still samples, each row its own mask.
    const y = withSampling(model, { mode: 'local', seed: 4 }, () => model.predict(x) as tf.Tensor);
    const [first, second] = tf.unstack(y);
    expect(maxAbsDiff(first, second)).toBeGreaterThan(0);
    tf.dispose([x, y, first, second]);
  });

  it('the same seed gives the same masks; another seed or none gives others', () => {
    const x = tf.ones([2, 16]);
    const sequence = (layer: MCDropout) => [0, 1].map(() => Array.from((layer.apply(x) as tf.Tensor).dataSync()));
    const first = sequence(new MCDropout({ rate: 0.5, seed: 9 }));
    expect(sequence(new MCDropout({ rate: 0.5, seed: 9 }))).toEqual(first);
    expect(first[1]).not.toEqual(first[0]);
    expect(sequence(new MCDropout({ rate: 0.5, seed: 10 }))).not.toEqual(first);
    expect(sequence(new MCDropout({ rate: 0.5 }))).not.toEqual(first);
    x.dispose();
  });

  it('survives a save/load round trip with rate, mode and seed', async () => {
    for (const seed of [7, undefined]) {
      const layer = new MCDropout({ rate: 0.3, seed, mode: 'mean', inputShape: [4], name: 'mc' });
      const copy = (await saveAndLoad(tfl.sequential({ layers: [layer] }))).layers[0] as MCDropout;
      expect(copy).toBeInstanceOf(MCDropout);
      expect(copy.getConfig()).toEqual(layer.getConfig());
      expect(copy.getConfig()).toMatchObject({ rate: 0.3, mode: 'mean', seed: seed ?? null });
    }
  });

  it('leaks no tensors over 100 calls in either mode', async () => {
    const layer = new MCDropout({ rate: 0.2 });
    const x = tf.ones([3, 4]);
    await expectNoLeaks(() => {
      for (let i = 0; i < 100; i++) tf.dispose(layer.apply(x) as tf.Tensor);
      tf.dispose(layer.apply(x, { mode: 'mean' }) as tf.Tensor);
    });
    x.dispose();
  });

  it.each([
    [{ rate: 1 }, /^MCDropout: rate must be a number >= 0 and < 1; got 1\. A rate of 1 would drop every input\.$/],
    [{ rate: -0.1 }, /^MCDropout: rate must be a number >= 0 and <= 1; got -0\.1\.$/],
    [{ rate: '0.5' }, /^MCDropout: rate must be a number >= 0 and <= 1; got '0\.5'\.$/],
    [{ rate: 0.5, mode: 'flipout' }, /^MCDropout: mode must be one of 'sample', 'mean'; got 'flipout'\.$/],
    [{ rate: 0.5, seed: 0.5, name: 'mc' }, /^MCDropout 'mc': seed must be an integer; got 0\.5\.$/],
  ])('refuses %j, naming the argument and what it accepts', (args, message) => {
    expect(() => new MCDropout(args as never)).toThrow(message);
  });

  it('refuses an unknown call mode', () => {
    const x = tf.ones([1, 2]);
    expect(() => new MCDropout({ rate: 0.5 }).apply(x, { mode: 'gibbs' })).toThrow(/kwargs\.mode must be one of/);
    x.dispose();
  });
});
