import * as tf from '@tensorflow/tfjs-core';
import {
  Conv1DFlipout,
  Conv1DReparameterization,
  Conv3DFlipout,
  Conv3DReparameterization,
  DenseVariationalV2,
  layerWeight,
  type ConvVariationalArgs,
  type JointPosteriorSpec,
  type JointPriorSpec,
  type VariationalLayer,
  type VariationalLayerArgs,
} from '../../src';
import { expectClose, loadFixture, PARITY_TOLERANCE, RecordedNoise, type Nested } from './golden';

/** Calls our layers make for the moment checks; the bounds scale with them and with TFP's sample count. */
const CALLS = 1000;
/** Tolerance in standard errors, as the layer battery. */
const Z = 5;

/** One case of `tfp_conv_variational.json` (see scripts/golden/variational_layers.py). */
interface ConvCase {
  name: string;
  className: 'Conv1DFlipout' | 'Conv1DReparameterization' | 'Conv3DFlipout' | 'Conv3DReparameterization';
  geometry: Omit<ConvVariationalArgs, keyof VariationalLayerArgs>;
  x: Nested;
  loc: Nested;
  rho: Nested;
  bias: number[];
  kl: number;
  meanOutput: Nested;
  epsilon: Nested;
  signIn: Nested | null;
  signOut: Nested | null;
  sampledOutput: Nested;
  samples: number;
  sampleMean: Nested;
  sampleVariance: Nested;
}

/** One case of `tfp_dense_variational_v2.json`. */
interface DenseCase {
  name: string;
  units: number;
  useBias: boolean;
  posterior: JointPosteriorSpec;
  prior: JointPriorSpec;
  weights: Record<'loc' | 'rho' | 'scaleTril' | 'covFactor' | 'priorLoc' | 'priorRho', Nested | undefined>;
  x: Nested;
  kl: number;
  meanOutput: Nested;
  outputMean: Nested;
  outputVariance: Nested;
}

const CONV_CLASSES = { Conv1DFlipout, Conv1DReparameterization, Conv3DFlipout, Conv3DReparameterization };
/** Our weight names for the fixture's. */
const DENSE_WEIGHTS = { loc: 'loc', rho: 'rho', scaleTril: 'scale_tril', covFactor: 'cov_factor', priorLoc: 'prior_loc', priorRho: 'prior_rho' } as const;

/**
 * Expects the mean and variance of `calls` outputs of `draw` to match a reference mean and
 * variance within Z standard errors: of our estimate alone when the reference is exact
 * (`referenceSamples` Infinity), of the difference of two independent estimates otherwise.
 */
function expectMoments(draw: () => tf.Tensor, mean: Nested, variance: Nested, referenceSamples: number): void {
  const wantMean = (tf.tensor(mean as number[]).dataSync() as Float32Array).slice();
  const wantVariance = (tf.tensor(variance as number[]).dataSync() as Float32Array).slice();
  const sum = new Float64Array(wantMean.length);
  const sumSq = new Float64Array(wantMean.length);
  for (let call = 0; call < CALLS; call++) {
    const y = draw();
    y.dataSync().forEach((v, i) => {
      sum[i] += v;
      sumSq[i] += v * v;
    });
    y.dispose();
  }
  wantMean.forEach((m, i) => {
    const ours = sum[i] / CALLS;
    const oursVariance = (sumSq[i] / CALLS - ours ** 2) * (CALLS / (CALLS - 1));
    const v = wantVariance[i];
    expect(v).toBeGreaterThan(0);
    expect(Math.abs(ours - m)).toBeLessThanOrEqual(Z * Math.sqrt(v * (1 / CALLS + 1 / referenceSamples)));
    expect(Math.abs(oursVariance - v)).toBeLessThanOrEqual(Z * v * Math.sqrt(2 / (CALLS - 1) + 2 / (referenceSamples - 1)));
  });
}

const convFixture = loadFixture<ConvCase>('tfp_conv_variational.json');

describe(`1-D and 3-D variational convolutions match TFP's (TFP ${convFixture.versions.tensorflow_probability}, TF ${convFixture.versions.tensorflow})`, () => {
  describe.each(convFixture.cases.map((c) => [c.name, c] as const))('case %s', (_name, c) => {
    let layer: VariationalLayer;
    let x: tf.Tensor;
    beforeAll(() => {
      x = tf.tensor(c.x as number[]);
      layer = new CONV_CLASSES[c.className]({ ...c.geometry, seed: 1 } as never);
      layer.build(x.shape);
      layer.setWeights([tf.tensor(c.loc as number[]), tf.tensor(c.rho as number[]), tf.tensor1d(c.bias)]);
    });
    afterAll(() => {
      x.dispose();
      layer.weights.forEach((weight) => weight.dispose());
    });

    it("KL and the layer loss equal TFP's KL(posterior ‖ N(0, 1))", () => {
      const kl = layer.klDivergence();
      const [loss] = layer.calculateLosses();
      expect(Math.abs(kl.dataSync()[0] - c.kl)).toBeLessThanOrEqual(PARITY_TOLERANCE * Math.abs(c.kl));
      expect(Math.abs(loss.dataSync()[0] - c.kl)).toBeLessThanOrEqual(PARITY_TOLERANCE * Math.abs(c.kl));
      tf.dispose([kl, loss]);
    });

    it("the mean output equals TFP's", () => {
      const y = layer.apply(x, { mode: 'mean' }) as tf.Tensor;
      expectClose(y, c.meanOutput);
      y.dispose();
    });

    it("with TFP's weight noise (and Flipout signs) it gives TFP's sampled output", () => {
      const signs = c.signIn && c.signOut ? [tf.tensor(c.signIn as number[]), tf.tensor(c.signOut as number[])] : [];
      const epsilon = tf.tensor(c.epsilon as number[]);
      layer.samplingOverride = { seeds: new RecordedNoise([epsilon], [...signs]) };
      try {
        const y = layer.apply(x) as tf.Tensor;
        expectClose(y, c.sampledOutput);
        y.dispose();
      } finally {
        layer.samplingOverride = null;
        tf.dispose([epsilon, ...signs]);
      }
    });

    it(`the mean and variance of each output over ${CALLS} calls match TFP's over its own samples`, () => {
      expectMoments(() => layer.apply(x) as tf.Tensor, c.sampleMean, c.sampleVariance, c.samples);
    });
  });
});

const denseFixture = loadFixture<DenseCase>('tfp_dense_variational_v2.json');

describe(`DenseVariationalV2 matches tfp.layers.DenseVariational (TFP ${denseFixture.versions.tensorflow_probability})`, () => {
  describe.each(denseFixture.cases.map((c) => [c.name, c] as const))('case %s', (_name, c) => {
    let layer: DenseVariationalV2;
    let x: tf.Tensor;
    beforeAll(() => {
      x = tf.tensor(c.x as number[]);
      layer = new DenseVariationalV2({ units: c.units, useBias: c.useBias, posterior: c.posterior, prior: c.prior, seed: 2 });
      layer.build(x.shape);
      for (const [key, name] of Object.entries(DENSE_WEIGHTS)) {
        const value = c.weights[key as keyof typeof DENSE_WEIGHTS];
        const variable = layerWeight(layer, name);
        expect(variable === undefined).toBe(value === undefined);
        if (variable && value !== undefined) {
          tf.tidy(() => {
            variable.write(tf.tensor(value as number[], variable.shape as number[]));
          });
        }
      }
    });
    afterAll(() => {
      x.dispose();
      layer.weights.forEach((weight) => weight.dispose());
    });

    it("KL equals TFP's exact KL from layer.losses", () => {
      const kl = layer.klDivergence();
      expect(Math.abs(kl.dataSync()[0] - c.kl)).toBeLessThanOrEqual(PARITY_TOLERANCE * Math.abs(c.kl));
      kl.dispose();
    });

    it("the mean output equals TFP's (convert_to_tensor_fn = mean) and TFP's q.mean()", () => {
      const y = layer.apply(x, { mode: 'mean' }) as tf.Tensor;
      expectClose(y, c.meanOutput);
      expectClose(y, c.outputMean);
      y.dispose();
    });

    it(`the mean and variance of each output over ${CALLS} calls match TFP's exact a·μ and aᵀΣa`, () => {
      expectMoments(() => layer.apply(x) as tf.Tensor, c.outputMean, c.outputVariance, Infinity);
    });
  });
});
