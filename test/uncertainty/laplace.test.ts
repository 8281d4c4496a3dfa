import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LaplaceDense, MCDropout, fitLastLayerLaplace, mcPredict, withSampling, type LaplaceStructure } from '../../src';
import { expectNoLeaks, saveAndLoad } from '../helpers';

/** scripts/golden/laplace_torch.py: laplace-torch 0.3 (torch 2.14.1, float64) on a 4-8-3 tanh MLP. */
interface Fixture {
  x: number[][];
  y: number[];
  xTest: number[][];
  weights: { hiddenKernel: number[][]; hiddenBias: number[]; outputKernel: number[][]; outputBias: number[] };
  cases: Record<LaplaceStructure, {
    priorPrecision: number;
    logMarginalLikelihood: number;
    logMarginalLikelihoodAtOne: number;
    posteriorPrecision: number[][];
    posteriorCovariance: number[][];
    probit: number[][];
    monteCarlo: number[][];
  }>;
}
const fixture: Fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/laplace_torch.json'), 'utf8'));
const STRUCTURES: LaplaceStructure[] = ['full', 'kron', 'diag'];

/** The fixture's MLP with its trained weights. */
function mlp(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, activation: 'tanh', inputShape: [4], name: 'hidden' }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: 'output' }),
    ],
  });
  const w = fixture.weights;
  model.setWeights([tf.tensor2d(w.hiddenKernel), tf.tensor1d(w.hiddenBias), tf.tensor2d(w.outputKernel), tf.tensor1d(w.outputBias)]);
  return model;
}

/** Max |a − b| over max |b|: float32 here against float64 there. */
function relativeError(a: number[][], b: number[][]): number {
  const scale = Math.max(...b.flat().map(Math.abs));
  return Math.max(...a.flat().map((value, i) => Math.abs(value - b.flat()[i]))) / scale;
}

describe('fitLastLayerLaplace: parity with laplace-torch (last layer, GGN, scalar prior by marginal likelihood)', () => {
  const model = mlp();
  const x = tf.tensor2d(fixture.x);
  const xTest = tf.tensor2d(fixture.xTest);

  it.each(STRUCTURES)('%s: prior precision, marginal likelihood, posterior precision and covariance, probit', (structure) => {
    const expected = fixture.cases[structure];
    const laplace = fitLastLayerLaplace(model, x, fixture.y, { structure });
    try {
      // laplace-torch converges Adam on log δ (3000 steps); the bisection solves the same stationarity condition.
      expect(Math.abs(laplace.priorPrecision / expected.priorPrecision - 1)).toBeLessThan(1e-4);
      expect(laplace.logMarginalLikelihood()).toBeCloseTo(expected.logMarginalLikelihood, 3);
      expect(laplace.logMarginalLikelihood(1)).toBeCloseTo(expected.logMarginalLikelihoodAtOne, 3);
      const precision = laplace.posteriorPrecision();
      const covariance = laplace.posteriorCovariance();
      expect(relativeError(precision.arraySync(), expected.posteriorPrecision)).toBeLessThan(1e-5);
      expect(relativeError(covariance.arraySync(), expected.posteriorCovariance)).toBeLessThan(1e-4);
      tf.dispose([precision, covariance]);
      const probit = laplace.predictProbit(xTest, { batchSize: 3 });
      expect(relativeError(probit.arraySync(), expected.probit)).toBeLessThan(1e-5);
      probit.dispose();
      expect([laplace.parameters, laplace.trainingExamples, laplace.layerName]).toEqual([27, 60, 'output']);
    } finally {
      laplace.dispose();
    }
  });

  it('the fitted prior precision maximises the marginal likelihood', () => {
    const laplace = fitLastLayerLaplace(model, x, fixture.y, { structure: 'kron' });
    const best = laplace.logMarginalLikelihood();
    for (const factor of [0.9, 1.1, 0.5, 2]) expect(laplace.logMarginalLikelihood(laplace.priorPrecision * factor)).toBeLessThan(best);
    laplace.dispose();
  });

  it('a given prior precision is used as is, and a larger one shrinks the covariance', () => {
    const loose = fitLastLayerLaplace(model, x, fixture.y, { structure: 'diag', priorPrecision: 0.5 });
    const tight = fitLastLayerLaplace(model, x, fixture.y, { structure: 'diag', priorPrecision: 50 });
    expect(loose.priorPrecision).toBe(0.5);
    const [a, b] = [loose.posteriorCovariance(), tight.posteriorCovariance()];
    const [traceA, traceB] = tf.tidy(() => [tf.sum(tf.linalg.bandPart(a, 0, 0)).dataSync()[0], tf.sum(tf.linalg.bandPart(b, 0, 0)).dataSync()[0]]);
    expect(traceB).toBeLessThan(traceA);
    tf.dispose([a, b]);
    loose.dispose();
    tight.dispose();
  });
});

describe('LaplaceDense: its samples follow the posterior', () => {
  const model = mlp();
  const x = tf.tensor2d(fixture.x);
  const ROWS = 20000;
  const Z = 5;

  /** Logit samples [ROWS, 3] of one input, in `mode`, through a linear copy of the fitted layer. */
  function logitSamples(structure: LaplaceStructure, mode: 'local' | 'sample', feature: tf.Tensor2D) {
    const laplace = fitLastLayerLaplace(model, x, fixture.y, { structure });
    const fitted = laplace.model.layers[laplace.model.layers.length - 1] as LaplaceDense;
    const linear = new LaplaceDense({ units: 3, structure, seed: 4 });
    linear.apply(tfl.input({ shape: [8] }));
    linear.setWeights(fitted.getWeights());
    const covariance = laplace.posteriorCovariance();
    const rows = mode === 'local' ? tf.tile(feature, [ROWS, 1]) : feature;
    const samples =
      mode === 'local'
        ? (linear.apply(rows, { mode }) as tf.Tensor2D).arraySync()
        : Array.from({ length: 4000 }, () => tf.tidy(() => (linear.apply(rows, { mode }) as tf.Tensor2D).arraySync()[0]));
    // (x̃ᵀ ⊗ I) Σ (x̃ ⊗ I): the exact covariance of the logits.
    const expected = tf.tidy(() => {
      const jacobian = tf.reshape(tf.mul(tf.reshape(tf.concat([feature, tf.ones([1, 1])], 1), [9, 1, 1]), tf.reshape(tf.eye(3), [1, 3, 3])), [27, 3]);
      return tf.matMul(tf.matMul(jacobian, covariance, true), jacobian).arraySync() as number[][];
    });
    const mean = tf.tidy(() => (linear.apply(feature, { mode: 'mean' }) as tf.Tensor2D).arraySync()[0]);
    tf.dispose([covariance, rows]);
    linear.dispose();
    laplace.dispose();
    return { samples, expected, mean };
  }

  it.each([
    ['kron', 'local'],
    ['diag', 'local'],
    ['full', 'sample'],
    ['kron', 'sample'],
  ] as const)('%s, %s mode: mean x̃ᵀθ_MAP and covariance (x̃ᵀ ⊗ I) Σ (x̃ ⊗ I) (5-sigma bounds)', (structure, mode) => {
    const feature = tf.tanh(tf.add(tf.matMul(tf.tensor2d([fixture.xTest[0]]), tf.tensor2d(fixture.weights.hiddenKernel)), fixture.weights.hiddenBias)) as tf.Tensor2D;
    const { samples, expected, mean } = logitSamples(structure, mode, feature) as { samples: number[][]; expected: number[][]; mean: number[] };
    feature.dispose();
    const n = samples.length;
    const average = [0, 1, 2].map((k) => samples.reduce((sum, row) => sum + row[k], 0) / n);
    for (let k = 0; k < 3; k++) {
      expect(Math.abs(average[k] - mean[k])).toBeLessThan(Z * Math.sqrt(expected[k][k] / n));
      for (let l = 0; l < 3; l++) {
        const sample = samples.reduce((sum, row) => sum + (row[k] - average[k]) * (row[l] - average[l]), 0) / (n - 1);
        // Var of a sample covariance of Gaussians: (Σₖₗ² + ΣₖₖΣₗₗ) / n.
        expect(Math.abs(sample - expected[k][l])).toBeLessThan(Z * Math.sqrt((expected[k][l] ** 2 + expected[k][k] * expected[l][l]) / n));
      }
    }
  });
});

describe('LastLayerLaplace.model: mcPredict, serialisation and memory', () => {
  const model = mlp();
  const x = tf.tensor2d(fixture.x);
  const xTest = tf.tensor2d(fixture.xTest);

  it('mcPredict samples the posterior on the fast path (kron, diag) or the loop (full), reproducibly', () => {
    for (const structure of STRUCTURES) {
      const laplace = fitLastLayerLaplace(model, x, fixture.y, { structure });
      const a = mcPredict(laplace.model, xTest, { samples: 64, seed: 3 });
      const b = mcPredict(laplace.model, xTest, { samples: 64, seed: 3 });
      expect(a.strategy).toBe(structure === 'full' ? 'naive' : 'fast');
      expect(a.mean.arraySync()).toEqual(b.mean.arraySync());
      expect(Math.min(...a.mutualInformation.arraySync())).toBeGreaterThan(0);
      a.dispose();
      b.dispose();
      laplace.dispose();
    }
  });

  it.each(STRUCTURES)("%s: mcPredict's mean matches laplace-torch's Monte Carlo predictive (100,000 samples)", (structure) => {
    const laplace = fitLastLayerLaplace(model, x, fixture.y, { structure });
    const prediction = mcPredict(laplace.model, xTest, { samples: 4000, seed: 5 });
    const std = prediction.std.arraySync();
    const mean = prediction.mean.arraySync();
    // 5 standard errors of a 4000-sample mean, plus laplace-torch's own (about 1e-3).
    fixture.cases[structure].monteCarlo.forEach((row, i) =>
      row.forEach((value, k) => expect(Math.abs(mean[i][k] - value)).toBeLessThan((5 * std[i][k]) / Math.sqrt(4000) + 3e-3)),
    );
    prediction.dispose();
    laplace.dispose();
  });

  it('round-trips through save and load: the same posterior mean and, seeded, the same samples', async () => {
    const laplace = fitLastLayerLaplace(model, x, fixture.y, { structure: 'kron' });
    const loaded = await saveAndLoad(laplace.model);
    for (const mode of ['mean', 'local'] as const) {
      const [a, b] = [laplace.model, loaded].map((m) => withSampling(m, { mode, seed: 9 }, () => (m.predict(xTest) as tf.Tensor).arraySync()));
      expect(b).toEqual(a);
    }
    loaded.dispose();
    laplace.dispose();
  });

  it('leaks no tensor, and leaves the trained model intact when disposed', async () => {
    const before = (model.predict(xTest) as tf.Tensor).arraySync();
    await expectNoLeaks(() => fitLastLayerLaplace(model, x, fixture.y, { structure: 'full' }));
    await expectNoLeaks(() => {
      const laplace = fitLastLayerLaplace(model, x, fixture.y, { structure: 'kron', batchSize: 7 });
      const probit = laplace.predictProbit(xTest);
      probit.dispose();
      return laplace;
    });
    expect((model.predict(xTest) as tf.Tensor).arraySync()).toEqual(before);
  });

  it('leaks no tensor when the fit fails midway', async () => {
    const spy = jest.spyOn(LaplaceDense.prototype, 'setWeights').mockImplementation(() => {
      throw new Error('injected');
    });
    try {
      await expectNoLeaks(() => expect(() => fitLastLayerLaplace(model, x, fixture.y, { structure: 'full' })).toThrow('injected'));
    } finally {
      spy.mockRestore();
    }
  });
});

describe('fitLastLayerLaplace: arguments', () => {
  const model = mlp();
  const x = tf.tensor2d(fixture.x);

  it('refuses unknown options, naming the nearest', () => {
    expect(() => fitLastLayerLaplace(model, x, fixture.y, { structur: 'kron' } as never)).toThrow(
      /^fitLastLayerLaplace: options has unknown 'structur'; did you mean 'structur' → 'structure'\?/,
    );
    expect(() => fitLastLayerLaplace(model, x, fixture.y, { structure: 'lowrank' as never })).toThrow(
      /^fitLastLayerLaplace: options.structure must be one of 'full', 'kron', 'diag'; got 'lowrank'\.$/,
    );
  });

  it('refuses labels that do not match the images', () => {
    expect(() => fitLastLayerLaplace(model, x, fixture.y.slice(1))).toThrow(
      /^fitLastLayerLaplace: labels must be an array of one class index per image \(60\); got 59 labels\. Pass the training labels\.$/,
    );
    expect(() => fitLastLayerLaplace(model, x, fixture.y.map(() => 3))).toThrow(/^fitLastLayerLaplace: labels\[0\] must be an integer >= 0 and <= 2; got 3\.$/);
  });

  it('refuses a stochastic model and a model not ending with a Dense layer', () => {
    const stochastic = tfl.sequential({ layers: [new MCDropout({ rate: 0.1, inputShape: [4] }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
    expect(() => fitLastLayerLaplace(stochastic, x, fixture.y)).toThrow(/^fitLastLayerLaplace: model must be deterministic; got stochastic layer '.*' \(MCDropout\)\./);
    const activation = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4] }), tfl.layers.activation({ activation: 'softmax', name: 'act' })] });
    expect(() => fitLastLayerLaplace(activation, x, fixture.y)).toThrow(
      /^fitLastLayerLaplace: model must end with a Dense layer with a bias and a softmax or linear activation, used once; got Activation 'act'/,
    );
  });

  it("refuses 'full' for a layer beyond MAX_FULL_PARAMETERS", () => {
    const wide = tfl.sequential({ layers: [tfl.layers.dense({ units: 600, inputShape: [4] }), tfl.layers.dense({ units: 7, activation: 'softmax' })] });
    expect(() => fitLastLayerLaplace(wide, x, fixture.y.map(() => 0), { structure: 'full' })).toThrow(
      /^fitLastLayerLaplace: options.structure 'full' needs at most 4096 parameters in the last layer; got 4207 \(\(600 features \+ 1\) × 7 classes\)\. Use 'kron' or 'diag'\.$/,
    );
  });
});
