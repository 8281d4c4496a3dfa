import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  DenseVariationalV2,
  denseVariationalV2,
  layerWeight,
  MAX_FULL_COVARIANCE_WEIGHTS,
  SeedStream,
  withSampling,
  type DenseVariationalV2Args,
  type JointPosteriorSpec,
  type JointPriorSpec,
} from '../../src';
import { expectLossIsCrossEntropyPlusKl, expectNoLeaks, maxAbsDiff, saveAndLoad } from '../helpers';

const INPUTS = 3;
const UNITS = 2;
/** n = inputs·units + units: the length of the joint weight vector. */
const SIZE = INPUTS * UNITS + UNITS;
const CALLS = 2000;
/** Tolerance in standard errors, as the mean-field battery. */
const Z = 5;
const FLOOR = 1.1920929e-7;

const POSTERIORS: JointPosteriorSpec[] = [{ kind: 'meanField' }, { kind: 'fullCovariance' }, { kind: 'lowRank', rank: 2 }];
const PRIORS: JointPriorSpec[] = [{ kind: 'fixedNormal', mean: 0.2, stddev: 1.5 }, { kind: 'learnableNormal', mean: -0.1, stddev: 0.7 }];

const built = (args: Partial<DenseVariationalV2Args> = {}): DenseVariationalV2 => {
  const layer = new DenseVariationalV2({ units: UNITS, ...args });
  layer.build([null, INPUTS]);
  return layer;
};

const softplus = (v: number) => Math.log1p(Math.exp(v));

/** The joint Gaussian a layer holds, written here with random values and recomputed in float64 JS. */
interface Joint {
  mu: number[];
  sigma: number[][];
  priorMean: number[];
  priorStd: number[];
}

/** Writes random parameters into every posterior (and learnable prior) weight; returns N(μ, Σ) and the prior. */
function randomise(layer: DenseVariationalV2, seed: number): Joint {
  const write = (name: string, fill: (shape: number[], seed: number) => tf.Tensor): number[] | null => {
    const variable = layerWeight(layer, name);
    if (!variable) return null;
    const value = fill(variable.shape as number[], seed + name.length);
    variable.write(value);
    const values = Array.from(value.dataSync());
    value.dispose();
    return values;
  };
  const mu = write('loc', (shape, s) => tf.randomNormal(shape, 0, 0.5, 'float32', s))!;
  const rho = write('rho', (shape, s) => tf.randomUniform(shape, -2, 0, 'float32', s))!;
  const tril = write('scale_tril', (shape, s) => tf.randomNormal(shape, 0, 0.3, 'float32', s));
  const factor = write('cov_factor', (shape, s) => tf.randomNormal(shape, 0, 0.4, 'float32', s));
  const priorLoc = write('prior_loc', (shape, s) => tf.randomNormal(shape, 0, 0.5, 'float32', s));
  const priorRho = write('prior_rho', () => tf.scalar(0.3));
  const sd = rho.map((r) => softplus(r) + FLOOR);
  const sigma = sd.map((_, i) => sd.map((__, j) => (i === j ? sd[i] ** 2 : 0)));
  if (tril) {
    const l = sd.map((_, i) => sd.map((__, j) => (j < i ? tril[i * SIZE + j] : i === j ? sd[i] : 0)));
    l.forEach((_, i) => l.forEach((__, j) => (sigma[i][j] = l[i].reduce((acc, v, k) => acc + v * l[j][k], 0))));
  }
  if (factor) {
    const rank = factor.length / SIZE;
    sigma.forEach((row, i) => row.forEach((_, j) => {
      for (let k = 0; k < rank; k++) row[j] += factor[i * rank + k] * factor[j * rank + k];
    }));
  }
  const spec = layer.prior.spec;
  const priorMean = priorLoc ?? new Array(SIZE).fill(spec.mean);
  const priorStd = new Array(SIZE).fill(priorRho ? softplus(priorRho[0]) + FLOOR : spec.stddev);
  return { mu, sigma, priorMean, priorStd };
}

/** log det of a symmetric positive-definite matrix by a plain float64 Cholesky (independent of the layer's). */
function logDet(a: number[][]): number {
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  let total = 0;
  for (let j = 0; j < n; j++) {
    let d = a[j][j];
    for (let k = 0; k < j; k++) d -= l[j][k] ** 2;
    l[j][j] = Math.sqrt(d);
    total += 2 * Math.log(l[j][j]);
    for (let i = j + 1; i < n; i++) {
      let v = a[i][j];
      for (let k = 0; k < j; k++) v -= l[i][k] * l[j][k];
      l[i][j] = v / l[j][j];
    }
  }
  return total;
}

/** KL(N(μ, Σ) ‖ N(m, diag(s²))) in float64 (Rasmussen & Williams 2006, eq. A.23). */
function expectedKl({ mu, sigma, priorMean, priorStd }: Joint): number {
  let kl = -SIZE - logDet(sigma);
  for (let i = 0; i < SIZE; i++) {
    kl += (sigma[i][i] + (mu[i] - priorMean[i]) ** 2) / priorStd[i] ** 2 + Math.log(priorStd[i] ** 2);
  }
  return kl / 2;
}

/** Output j of row x is a_jᵀ w, a_j = (x in column j of the kernel, 1 at bias j): mean a_jᵀμ, variance a_jᵀΣa_j. */
function outputMoments(x: number[][], { mu, sigma }: Joint): { mean: number[]; variance: number[] } {
  const mean: number[] = [];
  const variance: number[] = [];
  for (const row of x) {
    for (let j = 0; j < UNITS; j++) {
      const a = new Array<number>(SIZE).fill(0);
      row.forEach((value, i) => (a[i * UNITS + j] = value));
      a[INPUTS * UNITS + j] = 1;
      mean.push(a.reduce((acc, v, i) => acc + v * mu[i], 0));
      variance.push(a.reduce((acc, v, i) => acc + v * a.reduce((inner, w, k) => inner + sigma[i][k] * w, 0), 0));
    }
  }
  return { mean, variance };
}

describe.each(POSTERIORS.flatMap((posterior) => PRIORS.map((prior) => [posterior.kind, prior.kind, posterior, prior] as const)))(
  'DenseVariationalV2, %s posterior, %s prior',
  (_posteriorKind, _priorKind, posterior, prior) => {
    it(`output mean and variance over ${CALLS} calls match a·μ and aᵀΣa of the joint Gaussian`, () => {
      const layer = built({ posterior, prior, seed: 3 });
      const joint = randomise(layer, 7);
      const x = tf.randomNormal([3, INPUTS], 0, 1, 'float32', 5);
      const expected = outputMoments(x.arraySync() as number[][], joint);
      const sum = new Float64Array(expected.mean.length);
      const sumSq = new Float64Array(expected.mean.length);
      for (let call = 0; call < CALLS; call++) {
        const y = layer.apply(x) as tf.Tensor;
        y.dataSync().forEach((v, i) => {
          sum[i] += v;
          sumSq[i] += v * v;
        });
        y.dispose();
      }
      expected.mean.forEach((m, i) => {
        const mean = sum[i] / CALLS;
        const variance = (sumSq[i] / CALLS - mean ** 2) * (CALLS / (CALLS - 1));
        const v = expected.variance[i];
        expect(Math.abs(mean - m)).toBeLessThanOrEqual(Z * Math.sqrt(v / CALLS));
        expect(Math.abs(variance - v)).toBeLessThanOrEqual(Z * v * Math.sqrt(2 / (CALLS - 1)));
      });
      x.dispose();
    });

    it("'mean' mode is deterministic and equals x·K + b from the posterior mean", () => {
      const layer = built({ posterior, prior, mode: 'mean' });
      const joint = randomise(layer, 11);
      const x = tf.randomNormal([4, INPUTS], 0, 1, 'float32', 5);
      const { mean } = outputMoments(x.arraySync() as number[][], joint);
      expect(maxAbsDiff(layer.apply(x) as tf.Tensor, mean)).toBeLessThan(1e-5);
      expect(maxAbsDiff(layer.apply(x) as tf.Tensor, layer.apply(x) as tf.Tensor)).toBe(0);
      x.dispose();
    });

    it('KL equals the Gaussian closed form, computed independently in float64 with a dense Cholesky', () => {
      const layer = built({ posterior, prior });
      const joint = randomise(layer, 13);
      const kl = layer.klDivergence();
      const expected = expectedKl(joint);
      expect(expected).toBeGreaterThan(0);
      expect(Math.abs(kl.dataSync()[0] - expected) / expected).toBeLessThan(1e-4);
      kl.dispose();
    });

    it('gradients of a sampled loss plus KL reach every trainable weight', () => {
      const layer = built({ posterior, prior, seed: 1 });
      randomise(layer, 17);
      const x = tf.randomNormal([3, INPUTS], 0, 1, 'float32', 17);
      const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads, value } = tf.variableGrads(() => tf.add(tf.sum(tf.square(layer.apply(x) as tf.Tensor)), layer.klDivergence()), variables);
      for (const variable of variables) expect(tf.max(tf.abs(grads[variable.name])).dataSync()[0]).toBeGreaterThan(0);
      tf.dispose([x, value, ...Object.values(grads)]);
    });

    it('survives a save/load round trip: config, weights, KL and mean predictions bit-identical', async () => {
      const layer = new DenseVariationalV2({ units: UNITS, inputShape: [INPUTS], posterior, prior, klWeight: 0.125, seed: 5, activation: 'relu' });
      const model = tfl.sequential({ layers: [layer] });
      randomise(layer, 19);
      const loaded = await saveAndLoad(model);
      const copy = loaded.layers[0] as DenseVariationalV2;
      expect(copy.getClassName()).toBe('DenseVariationalV2');
      expect(copy.getConfig()).toEqual(layer.getConfig());
      expect(copy.weights.map((w) => w.originalName)).toEqual(layer.weights.map((w) => w.originalName));
      const [kl, restoredKl] = [layer.klDivergence(), copy.klDivergence()];
      expect(restoredKl.dataSync()[0]).toBe(kl.dataSync()[0]);
      const x = tf.randomNormal([3, INPUTS], 0, 1, 'float32', 29);
      const [original, restored] = withSampling(model, { mode: 'mean' }, () =>
        withSampling(loaded, { mode: 'mean' }, () => [model.predict(x), loaded.predict(x)] as tf.Tensor[]),
      );
      expect(Array.from(restored.dataSync())).toEqual(Array.from(original.dataSync()));
      tf.dispose([x, original, restored, kl, restoredKl]);
    });
  },
);

describe('DenseVariationalV2', () => {
  it('names its weights: loc, rho, then scale_tril or cov_factor, then a learnable prior', () => {
    const names = (args: Partial<DenseVariationalV2Args>) => built(args).weights.map((w) => `${w.originalName.split('/').pop()}${w.trainable ? '' : '*'}`);
    expect(names({})).toEqual(['loc', 'rho']);
    expect(names({ posterior: { kind: 'fullCovariance' } })).toEqual(['loc', 'rho', 'scale_tril']);
    expect(names({ posterior: { kind: 'lowRank', rank: 3 }, prior: { kind: 'learnableNormal' } })).toEqual([
      'loc',
      'rho',
      'cov_factor',
      'prior_loc',
      'prior_rho',
    ]);
    expect(built({ posterior: { kind: 'lowRank', rank: 3 } }).weights[2].shape).toEqual([SIZE, 3]);
    expect(built({ useBias: false }).weights[0].shape).toEqual([INPUTS * UNITS]);
  });

  it('a full-covariance posterior starts as the mean-field one: same KL with zero off-diagonal entries', () => {
    const full = built({ posterior: { kind: 'fullCovariance' }, seed: 4 });
    const meanField = built({ seed: 4 });
    meanField.setWeights(full.getWeights().slice(0, 2));
    const [a, b] = [full.klDivergence(), meanField.klDivergence()];
    expect(Math.abs(a.dataSync()[0] - b.dataSync()[0])).toBeLessThan(1e-4);
    tf.dispose([a, b]);
  });

  it('shares one weight sample across the batch: identical rows give identical outputs', () => {
    const layer = built({ posterior: { kind: 'fullCovariance' }, seed: 6 });
    randomise(layer, 3);
    const x = tf.tile(tf.randomNormal([1, INPUTS], 0, 1, 'float32', 8), [4, 1]);
    const y = layer.apply(x) as tf.Tensor;
    const rows = tf.unstack(y);
    rows.forEach((row) => expect(maxAbsDiff(row, rows[0])).toBe(0));
    expect(layer.independentRowsMode).toBeNull();
    tf.dispose([x, y, ...rows]);
  });

  it('the same seed gives the same sequence of samples; another seed does not', () => {
    const x = tf.randomNormal([2, INPUTS], 0, 1, 'float32', 19);
    const sequence = (layer: DenseVariationalV2) => [0, 1, 2].map(() => Array.from((layer.apply(x) as tf.Tensor).dataSync()));
    const posterior: JointPosteriorSpec = { kind: 'lowRank', rank: 1 };
    const a = built({ posterior, seed: 42 });
    const first = sequence(a);
    expect(sequence(built({ posterior, seed: 42 }))).toEqual(first);
    expect(first[1]).not.toEqual(first[0]);
    const other = built({ posterior, seed: 43 });
    other.setWeights(a.getWeights());
    expect(sequence(other)).not.toEqual(first);
    x.dispose();
  });

  it("the loss fit reports is cross-entropy plus klWeight · KL, and 'flipout' overrides mean 'sample'", async () => {
    const klWeight = 0.01;
    const layer = new DenseVariationalV2({ units: 3, inputShape: [4], activation: 'softmax', klWeight, mode: 'mean', posterior: { kind: 'fullCovariance' } });
    const { model, x } = await expectLossIsCrossEntropyPlusKl(layer, klWeight);
    const [a, b] = withSampling(model, { mode: 'flipout', seed: 1 }, () => [model.predict(x), model.predict(x)] as tf.Tensor[]);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0);
    tf.dispose([x, a, b]);
  });

  it('model.fit lowers the loss, and a learnable prior moves towards the posterior', async () => {
    const x = tf.randomNormal([128, 2], 0, 1, 'float32', 3);
    const y = tf.oneHot(tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32'), 2);
    const layer = new DenseVariationalV2({
      units: 2, inputShape: [2], activation: 'softmax', klWeight: 1 / 128, seed: 3,
      posterior: { kind: 'lowRank', rank: 2 }, prior: { kind: 'learnableNormal' },
    });
    const model = tfl.sequential({ layers: [layer] });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
    const klBefore = layer.klDivergence().dataSync()[0];
    const history = await model.fit(x, y, { epochs: 30, batchSize: 32, verbose: 0, shuffle: false });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(0.6 * losses[0]);
    expect(layerWeight(layer, 'prior_loc')!.read().dataSync().some((v) => v !== 0)).toBe(true);
    expect(klBefore).toBeGreaterThan(0);
    tf.dispose([x, y]);
  });

  it('leaks no tensors over 100 calls, in both modes, nor through its KL and losses', async () => {
    const layer = built({ posterior: { kind: 'lowRank', rank: 2 }, prior: { kind: 'learnableNormal' } });
    const x = tf.randomNormal([3, INPUTS], 0, 1, 'float32', 31);
    await expectNoLeaks(() => {
      for (let i = 0; i < 100; i++) tf.dispose(layer.apply(x) as tf.Tensor);
      tf.dispose(layer.apply(x, { mode: 'mean' }) as tf.Tensor);
      tf.dispose(layer.klDivergence());
      tf.dispose(layer.calculateLosses());
    });
    x.dispose();
  });

  it('leaks nothing when a call fails midway: the low-rank sample throws at its second noise draw', async () => {
    const layer = built({ posterior: { kind: 'lowRank', rank: 2 }, seed: 1 });
    const x = tf.randomNormal([3, INPUTS], 0, 1, 'float32', 31);
    let draws = 0;
    const failing = new SeedStream(1, 'failing');
    const normal = failing.normal.bind(failing);
    failing.normal = (shape: number[]) => {
      draws += 1;
      if (draws === 2) throw new Error('injected failure');
      return normal(shape);
    };
    layer.samplingOverride = { seeds: failing };
    await expectNoLeaks(() => expect(() => layer.apply(x)).toThrow('injected failure'));
    expect(draws).toBe(2);
    layer.samplingOverride = null;
    x.dispose();
  });

  it(`refuses a full-covariance posterior over more than ${MAX_FULL_COVARIANCE_WEIGHTS} weights, naming the size and the fix, without leaks`, async () => {
    const layer = new DenseVariationalV2({ units: 10, posterior: { kind: 'fullCovariance' }, name: 'head' });
    await expectNoLeaks(() =>
      expect(() => layer.build([null, 128])).toThrow(
        "DenseVariationalV2 'head': posterior 'fullCovariance' must have at most 1024 weights (its scale matrix has one parameter per pair); " +
          "got 1290 weights, a 1290 × 1290 matrix. Use posterior { kind: 'lowRank', rank } or { kind: 'meanField' } for a layer this size.",
      ),
    );
  });

  it.each([
    [{ units: 0 }, /^DenseVariationalV2: units must be an integer >= 1; got 0/],
    [{ posterior: { kind: 'gaussian' } }, /posterior\.kind must be one of 'meanField', 'fullCovariance', 'lowRank'; got 'gaussian'/],
    [{ posterior: { kind: 'lowRank', rank: 0 } }, /posterior\.rank must be an integer >= 1 and <= 32; got 0/],
    [{ posterior: 'meanField' }, /posterior must be an object \{ kind: 'meanField' \| 'fullCovariance' \| 'lowRank' \}; got 'meanField'/],
    [{ prior: { kind: 'normal' } }, /prior\.kind must be one of 'fixedNormal', 'learnableNormal'; got 'normal'/],
    [{ prior: { kind: 'learnableNormal', stddev: 0 } }, /prior\.stddev must be a number > 0; got 0/],
    [{ mode: 'flipout' }, /mode must be one of 'sample', 'mean'; got 'flipout'/],
    [{ posterior: { kind: 'lowRank', rnak: 4 } }, /posterior has unknown 'rnak'; did you mean 'rnak' → 'rank'\? The known keys are 'kind', 'rank'\./],
    [{ posterior: { kind: 'fullCovariance', rank: 4 } }, /posterior has unknown 'rank'; did you mean 'rank' → 'kind'\? The known keys are 'kind'\./],
    [{ prior: { kind: 'learnableNormal', stdev: 2 } }, /prior has unknown 'stdev'; did you mean 'stdev' → 'stddev'\?/],
    [{ klWeight: -1, name: 'head' }, /^DenseVariationalV2 'head': klWeight must be a number >= 0; got -1/],
  ])('refuses %j, naming the argument and the allowed values', (args, message) => {
    expect(() => denseVariationalV2({ units: 2, ...args } as DenseVariationalV2Args)).toThrow(message);
  });

  it('refuses a low rank not below the number of weights, and an input of another width, naming the fix', () => {
    expect(() => built({ posterior: { kind: 'lowRank', rank: SIZE }, name: 'head' })).toThrow(
      `DenseVariationalV2 'head': posterior.rank must be smaller than the number of weights (${SIZE}); got ${SIZE}. Use { kind: 'fullCovariance' } instead.`,
    );
    const layer = built({ name: 'head' });
    const x = tf.ones([2, INPUTS + 1]);
    expect(() => layer.apply(x)).toThrow(/^DenseVariationalV2 'head': input must have size 3 on axis -1/);
    x.dispose();
  });
});
