import * as tf from '@tensorflow/tfjs-core';
import { DenseFlipout, sigmaOf } from '../../src';
import { ESTIMATORS, kernelSampler } from '../../src/layers/estimators';
import { expectNoLeaks } from '../helpers';
import { expectClose, loadFixture, PARITY_TOLERANCE, RecordedNoise, type Nested } from './golden';

/** One case of `tfp_dense_flipout.json`: TFP's DenseFlipout run with the noise recorded here. */
interface FlipoutCase {
  name: string;
  units: number;
  activation: 'linear' | 'relu';
  loc: Nested;
  rho: Nested;
  bias: number[];
  x: Nested;
  /** Standard normal weight noise: TFP's ΔW = sigma ⊙ epsilon. */
  epsilon: Nested;
  /** Rademacher signs of the input (shape of x) and of the output (shape of the output). */
  signIn: Nested;
  signOut: Nested;
  output: Nested;
  sigma: Nested;
  kl: number;
}

/**
 * The case's tensors with every leading axis folded into rows, as DenseVariational does with a
 * rank > 2 input (row-major, so TFP's per-element input signs stay with their elements).
 */
function caseTensors(c: FlipoutCase) {
  const rows = (values: Nested) => {
    const t = tf.tensor(values as number[]);
    return tf.reshape(t, [-1, t.shape[t.rank - 1]]);
  };
  return tf.tidy(() => ({
    loc: tf.tensor(c.loc as number[]),
    rho: tf.tensor(c.rho as number[]),
    bias: tf.tensor1d(c.bias),
    x: tf.tensor(c.x as number[]),
    epsilon: tf.tensor(c.epsilon as number[]),
    signIn: rows(c.signIn),
    signOut: rows(c.signOut),
  }));
}

const fixture = loadFixture<FlipoutCase>('tfp_dense_flipout.json');

describe(`DenseFlipout matches tfp.layers.DenseFlipout (TFP ${fixture.versions.tensorflow_probability}, TF ${fixture.versions.tensorflow})`, () => {
  describe.each(fixture.cases.map((c) => [c.name, c] as const))('case %s', (_name, c) => {
    let t: ReturnType<typeof caseTensors>;
    beforeAll(() => {
      t = caseTensors(c);
    });
    afterAll(() => tf.dispose(Object.values(t)));

    it('sigmaOf(rho) equals TFP softplus(rho) + float32 eps', () => {
      const sigma = sigmaOf(t.rho);
      expectClose(sigma, c.sigma, { floor: 0 });
      sigma.dispose();
    });

    it("the flipout estimator with TFP's noise gives TFP's output (Wen et al. 2018, eq. 4)", () => {
      const output = tf.tidy(() => {
        const noise = new RecordedNoise([t.epsilon], [t.signIn, t.signOut]);
        const x = tf.reshape(t.x, [-1, t.x.shape[t.x.rank - 1]]);
        const kernel = tf.add(ESTIMATORS.flipout(tf.matMul, x, kernelSampler(t.loc, () => sigmaOf(t.rho)), noise), t.bias);
        const activated = c.activation === 'relu' ? tf.relu(kernel) : kernel;
        return tf.reshape(activated, [...t.x.shape.slice(0, -1), c.units]);
      });
      expectClose(output, c.output);
      output.dispose();
    });

    it("the DenseFlipout layer with TFP's weights and noise gives TFP's output and KL, without leaks", async () => {
      const layer = new DenseFlipout({ units: c.units, activation: c.activation });
      layer.build(t.x.shape);
      layer.setWeights([t.loc, t.rho, t.bias]);
      layer.samplingOverride = { seeds: new RecordedNoise([t.epsilon], [t.signIn, t.signOut]) };
      await expectNoLeaks(
        () => {
          const output = layer.apply(t.x) as tf.Tensor;
          expectClose(output, c.output);
          return output;
        },
      );
      const kl = layer.klDivergence();
      const [loss] = layer.calculateLosses();
      // KL is a sum over every weight: relative tolerance.
      expect(Math.abs(kl.dataSync()[0] - c.kl)).toBeLessThanOrEqual(PARITY_TOLERANCE * Math.abs(c.kl));
      expect(Math.abs(loss.dataSync()[0] - c.kl)).toBeLessThanOrEqual(PARITY_TOLERANCE * Math.abs(c.kl));
      tf.dispose([kl, loss]);
      // Layer.dispose() refuses a layer never called symbolically: free its variables directly.
      layer.weights.forEach((weight) => weight.dispose());
    });
  });

  it('would notice a sign flipped: the fixture noise matters', () => {
    const c = fixture.cases[0];
    const t = caseTensors(c);
    const flipped = tf.neg(t.signOut);
    const output = tf.tidy(() =>
      tf.add(ESTIMATORS.flipout(tf.matMul, t.x, kernelSampler(t.loc, () => sigmaOf(t.rho)), new RecordedNoise([t.epsilon], [t.signIn, flipped])), t.bias),
    );
    const error = tf.tidy(() => tf.max(tf.abs(tf.sub(output, tf.tensor(c.output as number[])))).dataSync()[0]);
    expect(error).toBeGreaterThan(100 * PARITY_TOLERANCE);
    tf.dispose([output, flipped, ...Object.values(t)]);
  });

  it('records the versions of the reference stack', () => {
    expect(Object.keys(fixture.versions)).toEqual(
      expect.arrayContaining(['tensorflow', 'tensorflow_probability', 'tf_keras', 'numpy']),
    );
  });
});
