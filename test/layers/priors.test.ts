import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, layerWeight, NormalPrior, rhoOf, type ScaleMixturePriorSpec } from '../../src';
import { expectNoLeaks, saveAndLoad } from '../helpers';

const MIXTURE: ScaleMixturePriorSpec = { kind: 'scaleMixture', pi: 0.3, stddev1: 1.5, stddev2: 0.1 };
const CALLS = 400;
const Z = 5;

/** A built DenseFlipout with a known posterior (and per-weight prior means when asked). */
function layerWithPosterior(prior: ScaleMixturePriorSpec, seed?: number): { layer: DenseFlipout; loc: number[]; sigma: number[]; centre: number[] } {
  const layer = new DenseFlipout({ units: 3, prior, seed });
  layer.build([null, 4]);
  const loc = tf.randomNormal([4, 3], 0, 0.4, 'float32', 1);
  const sigma = tf.randomUniform([4, 3], 0.05, 0.5, 'float32', 2);
  const rho = rhoOf(sigma);
  layerWeight(layer, 'kernel_loc')!.write(loc);
  layerWeight(layer, 'kernel_rho')!.write(rho);
  const means = layerWeight(layer, 'kernel_prior_mean');
  const centre = means ? tf.randomNormal([4, 3], 0, 0.3, 'float32', 3) : tf.fill([4, 3], prior.mean ?? 0);
  means?.write(centre);
  const result = { layer, loc: Array.from(loc.dataSync()), sigma: Array.from(layer.kernelPosterior().sigma.dataSync()), centre: Array.from(centre.dataSync()) };
  tf.dispose([loc, sigma, rho, centre]);
  return result;
}

/** KL(N(μ, σ²) ‖ mixture) for one weight: exact entropy, cross term by the trapezoid rule over μ ± 10σ. */
function klByQuadrature(mu: number, sigma: number, centre: number, { pi, stddev1, stddev2 }: Required<Pick<ScaleMixturePriorSpec, 'pi' | 'stddev1' | 'stddev2'>>): number {
  const normal = (w: number, m: number, s: number) => Math.exp(-0.5 * ((w - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));
  const steps = 4000;
  const h = (20 * sigma) / steps;
  let crossEntropy = 0;
  for (let i = 0; i <= steps; i++) {
    const w = mu - 10 * sigma + i * h;
    const logPrior = Math.log(pi * normal(w, centre, stddev1) + (1 - pi) * normal(w, centre, stddev2));
    crossEntropy -= (i === 0 || i === steps ? 0.5 : 1) * h * normal(w, mu, sigma) * logPrior;
  }
  const entropy = Math.log(sigma) + 0.5 * Math.log(2 * Math.PI) + 0.5;
  return crossEntropy - entropy;
}

describe('scale-mixture prior (Blundell et al. 2015)', () => {
  it.each([false, true])(
    `its single-sample KL estimate is unbiased: the mean of ${CALLS} calls matches the KL by quadrature (meanFromWeights: %s)`,
    (meanFromWeights) => {
      const prior = { ...MIXTURE, meanFromWeights };
      const { layer, loc, sigma, centre } = layerWithPosterior(prior, 5);
      const expected = loc.reduce((sum, mu, i) => sum + klByQuadrature(mu, sigma[i], centre[i], prior as Required<ScaleMixturePriorSpec>), 0);
      const estimates = Array.from({ length: CALLS }, () => {
        const kl = layer.klDivergence();
        const value = kl.dataSync()[0];
        kl.dispose();
        return value;
      });
      const mean = estimates.reduce((a, b) => a + b) / CALLS;
      const sd = Math.sqrt(estimates.reduce((a, b) => a + (b - mean) ** 2, 0) / (CALLS - 1));
      expect(sd).toBeGreaterThan(0); // a fresh sample each call
      expect(Math.abs(mean - expected)).toBeLessThan((Z * sd) / Math.sqrt(CALLS));
    },
  );

  it('the same seed gives the same sequence of KL estimates', () => {
    const sequence = () => {
      const { layer } = layerWithPosterior(MIXTURE, 11);
      return [0, 1, 2].map(() => {
        const kl = layer.klDivergence();
        const value = kl.dataSync()[0];
        kl.dispose();
        return value;
      });
    };
    const first = sequence();
    expect(sequence()).toEqual(first);
    expect(new Set(first).size).toBe(3);
  });

  it('gradients of its KL reach loc and rho', () => {
    const { layer } = layerWithPosterior(MIXTURE, 13);
    const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads, value } = tf.variableGrads(() => layer.klDivergence(), variables.slice(0, 2));
    for (const variable of variables.slice(0, 2)) {
      expect(tf.max(tf.abs(grads[variable.name])).dataSync()[0]).toBeGreaterThan(0);
    }
    tf.dispose([value, ...Object.values(grads)]);
  });

  it('trains with model.fit, the sampled KL in the loss, without leaking', async () => {
    const model = tfl.sequential({ layers: [new DenseFlipout({ units: 2, inputShape: [3], prior: MIXTURE, klWeight: 1 / 16, seed: 1 })] });
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = tf.ones([16, 3]);
    const y = tf.zeros([16, 2]);
    await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 }); // warm-up: the optimizer's slots
    await expectNoLeaks(async () => {
      const history = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      expect((history.history.loss as number[]).every(Number.isFinite)).toBe(true);
    });
    tf.dispose([x, y]);
  });

  it('survives a save/load round trip, per-weight means included', async () => {
    const prior = { ...MIXTURE, meanFromWeights: true };
    const layer = new DenseFlipout({ units: 2, inputShape: [3], prior, seed: 3 });
    const model = tfl.sequential({ layers: [layer] });
    const copy = (await saveAndLoad(model)).layers[0] as DenseFlipout;
    expect(copy.getConfig().prior).toEqual({ ...prior, mean: 0 });
    expect(copy.prior.toSpec()).toEqual(layer.prior.toSpec());
  });

  it.each([
    [{ kind: 'scaleMixture', pi: 1.5 }, /prior\.pi must be a number >= 0 and <= 1; got 1\.5/],
    [{ kind: 'scaleMixture', stddev1: 0 }, /prior\.stddev1 must be a number > 0; got 0/],
    [{ kind: 'scaleMixture', stddev2: -1 }, /prior\.stddev2 must be a number > 0; got -1/],
    [{ kind: 'scaleMixture', meanFromWeights: 'yes' }, /prior\.meanFromWeights must be true or false; got 'yes'/],
    [{ kind: 'laplace' }, /prior\.kind must be one of 'normal', 'scaleMixture'; got 'laplace'/],
  ])('refuses %j, naming the argument', (prior, message) => {
    expect(() => new DenseFlipout({ units: 1, prior: prior as never })).toThrow(message);
  });
});

describe('Normal prior', () => {
  // Its KL carries a hand-written gradient; the reference is tfjs' autodiff of the elementwise formula.
  const reference = (loc: tf.Tensor, sigma: tf.Tensor, mean: number | tf.Tensor, stddev: number) =>
    tf.sum(tf.sub(tf.add(tf.log(tf.div(stddev, sigma)), tf.div(tf.add(tf.square(sigma), tf.square(tf.sub(loc, mean))), 2 * stddev * stddev)), 0.5));

  it.each([
    ['a scalar mean', 0.3],
    ['per-weight means', 'tensor'],
  ] as const)('KL value and gradients in loc and sigma equal autodiff of the closed form (%s)', (_, meanKind) => {
    const loc = tf.randomNormal([6, 5], 0, 0.5, 'float32', 1);
    const sigma = tf.randomUniform([6, 5], 0.01, 0.8, 'float32', 2);
    const mean = meanKind === 'tensor' ? tf.randomNormal([6, 5], 0, 0.2, 'float32', 3) : meanKind;
    const prior = new NormalPrior('test', { stddev: 1.7 });
    const context = { mean: typeof mean === 'number' ? undefined : mean };
    const priorWithMean = typeof mean === 'number' ? new NormalPrior('test', { stddev: 1.7, mean }) : prior;
    const ours = tf.grads((l, s) => priorWithMean.divergence(l, s, context))([loc, sigma]);
    const theirs = tf.grads((l, s) => reference(l, s, mean, 1.7))([loc, sigma]);
    const value = priorWithMean.divergence(loc, sigma, context);
    const expected = reference(loc, sigma, mean, 1.7);
    expect(Math.abs(value.dataSync()[0] - expected.dataSync()[0]) / expected.dataSync()[0]).toBeLessThan(1e-5);
    for (const i of [0, 1]) {
      const diff = tf.max(tf.abs(tf.sub(ours[i], theirs[i]))).dataSync()[0];
      expect(diff).toBeLessThan(1e-5 * tf.max(tf.abs(theirs[i])).dataSync()[0]);
    }
    tf.dispose([loc, sigma, value, expected, ...ours, ...theirs]);
    if (typeof mean !== 'number') mean.dispose();
  });

  it('leaks no tensors through its KL and gradients', async () => {
    const loc = tf.ones([4, 3]);
    const sigma = tf.fill([4, 3], 0.2);
    const prior = new NormalPrior('test');
    await expectNoLeaks(() => {
      tf.dispose(prior.divergence(loc, sigma));
      tf.dispose(tf.grads((l, s) => prior.divergence(l, s))([loc, sigma]));
    });
    tf.dispose([loc, sigma]);
  });
});
