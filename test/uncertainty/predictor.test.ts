import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, McPredictor, dihedralViews, mcPredict, type McPredictOptions } from '../../src';
import { expectNoLeaks } from '../helpers';
import { CountingLayer, LyingFlipout, NoiseLayer, setPosterior } from './test_layers';

/** Tolerance in standard errors: a correct sampler fails a 5-sigma bound about once in 1.7 million. */
const Z = 5;
const S = 2000;

/** Samples [S][B][C] of a prediction, as nested arrays. */
function samplesOf(model: tfl.LayersModel, x: tf.Tensor, options: McPredictOptions): { values: number[][][]; strategy: string } {
  const prediction = mcPredict(model, x, { ...options, keepSamples: true });
  const values = prediction.samples!.arraySync();
  const strategy = prediction.strategy;
  prediction.dispose();
  return { values, strategy };
}

/** The S values of one image and class. */
const column = (values: number[][][], image: number, cls: number): number[] => values.map((s) => s[image][cls]);
const average = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const centralMoment = (v: number[], k: number): number => average(v.map((x) => (x - average(v)) ** k));
const cdfAt = (v: number[], at: number): number => v.filter((x) => x <= at).length / v.length;
const quantile = (v: number[], q: number): number => [...v].sort((a, b) => a - b)[Math.floor(q * (v.length - 1))];

/**
 * Two independent samples of size S from the same distribution: their means differ by less than
 * Z·sqrt(var₁/S + var₂/S), their variances by less than Z·sqrt((μ4₁ − var₁²)/S + (μ4₂ − var₂²)/S)
 * (the asymptotic variance of a sample variance), and the first sample's q-quantile sits at
 * q ± Z·sqrt(2q(1 − q)/S) in the second's empirical CDF.
 */
function expectSameDistribution(a: number[], b: number[]): void {
  const [va, vb] = [centralMoment(a, 2), centralMoment(b, 2)];
  expect(Math.abs(average(a) - average(b))).toBeLessThanOrEqual(Z * Math.sqrt((va + vb) / a.length));
  const varianceError = Math.sqrt((centralMoment(a, 4) - va ** 2 + centralMoment(b, 4) - vb ** 2) / a.length);
  expect(Math.abs(va - vb)).toBeLessThanOrEqual(Z * varianceError);
  for (const q of [0.05, 0.5, 0.95]) {
    expect(Math.abs(cdfAt(b, quantile(a, q)) - q)).toBeLessThanOrEqual(Z * Math.sqrt((2 * q * (1 - q)) / a.length) + 1 / a.length);
  }
}

/** input [4] → dense 8 relu (deterministic) → counting → DenseFlipout 3 softmax, with a wide posterior. */
function flipoutClassifier(head: DenseFlipout = new DenseFlipout({ units: 3, activation: 'softmax', seed: 5 })) {
  const counter = new CountingLayer({});
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ units: 8, activation: 'relu', inputShape: [4], kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) }), counter, head],
  });
  tf.tidy(() => setPosterior(head, tf.randomNormal([8, 3], 0, 0.5, 'float32', 2), tf.fill([8, 3], 0.4), tf.tensor1d([0.1, 0, -0.1])));
  return { model, counter, head };
}

describe('mcPredict: the fast path is exact in distribution', () => {
  it('fast and naive samples agree in mean, variance and quantiles per class (5-sigma bounds)', () => {
    const { model } = flipoutClassifier();
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 3);
    const fast = samplesOf(model, x, { samples: S, seed: 11, strategy: 'fast' });
    const naive = samplesOf(model, x, { samples: S, seed: 12, strategy: 'naive' });
    expect([fast.strategy, naive.strategy]).toEqual(['fast', 'naive']);
    for (const image of [0, 1]) {
      for (const cls of [0, 1, 2]) {
        const a = column(fast.values, image, cls);
        expect(centralMoment(a, 2)).toBeGreaterThan(1e-4);
        expectSameDistribution(a, column(naive.values, image, cls));
      }
    }
    x.dispose();
  });

  it('matches the closed form of a linear Gaussian head: mean h·loc + b, variance h²·σ²', () => {
    const head = new DenseFlipout({ units: 1, seed: 3 });
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [2], useBias: false, weights: [tf.tensor2d([[1, 0, 2], [0, -1, 1]])] }), head] });
    tf.tidy(() => setPosterior(head, tf.tensor2d([[0.5], [1], [-1]]), tf.tensor2d([[0.3], [0.2], [0.1]]), tf.tensor1d([0.25])));
    const x = tf.tensor2d([[1, 2]]); // h = [1, -2, 4]
    const values = column(samplesOf(model, x, { samples: S, seed: 4 }).values, 0, 0);
    const [mean, variance] = [0.5 - 2 - 4 + 0.25, 0.09 + 4 * 0.04 + 16 * 0.01];
    expect(Math.abs(average(values) - mean)).toBeLessThanOrEqual(Z * Math.sqrt(variance / S));
    expect(Math.abs(centralMoment(values, 2) - variance)).toBeLessThanOrEqual(Z * variance * Math.sqrt(2 / (S - 1)));
    // Gaussian: the 5 % quantile is 1.645 standard deviations below the mean.
    expect(Math.abs(cdfAt(values, mean - 1.645 * Math.sqrt(variance)) - 0.05)).toBeLessThanOrEqual(Z * Math.sqrt(0.05 * 0.95 / S));
    x.dispose();
  });

  it('fast samples are independent across S; tiling through Flipout makes them dependent', () => {
    // A narrow layer, one input, one noisy unit: under Flipout the rows of one call share |ΔW|,
    // so their squared deviations from the mean (0.5 by symmetry) are equal: correlation 1.
    const correlationOfSquaredDeviations = (head: DenseFlipout): number => {
      const model = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [1] }), head] });
      tf.tidy(() => setPosterior(head, tf.zeros([1, 2]), tf.tensor2d([[1, 1e-6]]), tf.zeros([2])));
      const x = tf.ones([1, 1]);
      // chunkSize 2: each suffix call holds one pair of samples, fresh noise between calls.
      const p = column(samplesOf(model, x, { samples: S, seed: 8, chunkSize: 2, strategy: 'fast' }).values, 0, 0);
      x.dispose();
      const first = p.filter((_, s) => s % 2 === 0).map((v) => (v - 0.5) ** 2);
      const second = p.filter((_, s) => s % 2 === 1).map((v) => (v - 0.5) ** 2);
      const [m1, m2] = [average(first), average(second)];
      const cov = average(first.map((v, i) => (v - m1) * (second[i] - m2)));
      return cov / Math.sqrt(centralMoment(first, 2) * centralMoment(second, 2));
    };
    const args = { units: 2, activation: 'softmax' as const, seed: 21 };
    // Independent pairs: the sample correlation of S / 2 pairs has standard error ≈ 1 / sqrt(S / 2).
    expect(Math.abs(correlationOfSquaredDeviations(new DenseFlipout(args)))).toBeLessThan(Z / Math.sqrt(S / 2));
    expect(correlationOfSquaredDeviations(new LyingFlipout(args))).toBeGreaterThan(0.99);
  });
});

describe('mcPredict: the prefix runs once, the suffix in chunks', () => {
  it('runs the deterministic prefix once per batch and the suffix on S × B rows in ceil(S / per-call) calls', () => {
    const { model, counter } = flipoutClassifier();
    const suffixCounter = new CountingLayer({});
    model.add(suffixCounter);
    const x = tf.ones([3, 4]);
    const prediction = mcPredict(model, x, { samples: 10, chunkSize: 12, seed: 1 });
    // The prefix sees the 3 images once, never tiled; chunkSize 12 = 4 samples of 3 rows per call.
    expect(counter.batchSizes).toEqual([3]);
    expect(suffixCounter.batchSizes).toEqual([12, 12, 6]);
    expect(prediction.strategy).toBe('fast');
    expect(prediction.mean.shape).toEqual([3, 3]);
    prediction.dispose();
    x.dispose();
  });

  it('handles a nested base model followed by a stochastic head (transfer learning)', () => {
    const counter = new CountingLayer({});
    // Seeded: with unseeded weights every ReLU was now and then dead for both images, the head then
    // saw zeros, and both strategies gave one constant whose last bits differ (a flaky quantile test).
    const relu = tfl.layers.dense({ units: 5, activation: 'relu', inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) });
    const base = tfl.sequential({ layers: [relu, counter] });
    const head = new DenseFlipout({ units: 3, activation: 'softmax', seed: 2 });
    const model = tfl.sequential({ layers: [base, head] });
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 9);
    const fast = samplesOf(model, x, { samples: 400, seed: 1 });
    expect(counter.batchSizes).toEqual([2]);
    const naive = samplesOf(model, x, { samples: 400, seed: 2, strategy: 'naive' });
    expect(fast.strategy).toBe('fast');
    for (const cls of [0, 1, 2]) {
      // The samples really vary (the premise of comparing their distributions).
      expect(centralMoment(column(fast.values, 1, cls), 2)).toBeGreaterThan(1e-6);
      expectSameDistribution(column(fast.values, 1, cls), column(naive.values, 1, cls));
    }
    x.dispose();
  });

  it('cuts a functional model with a deterministic branch beside the stochastic one', () => {
    const input = tfl.input({ shape: [3] });
    const counter = new CountingLayer({});
    const shared = counter.apply(tfl.layers.dense({ units: 4, activation: 'tanh' }).apply(input)) as tfl.SymbolicTensor;
    const noisy = new NoiseLayer({ sigma: 0.7, perRow: true, seed: 4 }).apply(shared) as tfl.SymbolicTensor;
    const skip = tfl.layers.dense({ units: 4 }).apply(shared) as tfl.SymbolicTensor;
    const merged = tfl.layers.add().apply([noisy, skip]) as tfl.SymbolicTensor;
    const output = tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(merged) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    const x = tf.randomNormal([1, 3], 0, 1, 'float32', 5);
    const fast = samplesOf(model, x, { samples: 1000, seed: 1 });
    expect(counter.batchSizes).toEqual([1]);
    const naive = samplesOf(model, x, { samples: 1000, seed: 2, strategy: 'naive' });
    expect(fast.strategy).toBe('fast');
    expectSameDistribution(column(fast.values, 0, 0), column(naive.values, 0, 0));
    x.dispose();
  });

  it('falls back to the loop when a stochastic layer shares its noise across the batch', () => {
    const model = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [2] }), new NoiseLayer({ sigma: 1, perRow: false, seed: 3 })] });
    const x = tf.tensor2d([[0, 0], [0, 0]]);
    const { values, strategy } = samplesOf(model, x, { samples: 50, seed: 1 });
    expect(strategy).toBe('naive');
    // One pass per sample: both images see the same shared noise within a sample, fresh across samples.
    values.forEach((sample) => expect(sample[0]).toEqual(sample[1]));
    expect(new Set(values.map((sample) => sample[0][0])).size).toBe(50);
    expect(() => mcPredict(model, x, { strategy: 'fast' })).toThrow(
      /mcPredict: options.strategy must be 'auto' or 'naive' for this model; got 'fast'. Layer '.*' \(TestNoiseLayer\) has no mode/,
    );
    x.dispose();
  });
});

describe('mcPredict: deterministic models, seeds, reuse', () => {
  it('a deterministic model gives zero variance and zero mutual information', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, activation: 'softmax', inputShape: [4] })] });
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 1);
    const prediction = mcPredict(model, x, { samples: 20 });
    const expected = model.predict(x) as tf.Tensor;
    expect(Math.max(...(prediction.std.dataSync() as Float32Array))).toBeLessThan(1e-6);
    expect(Math.max(...(prediction.mutualInformation.dataSync() as Float32Array))).toBeLessThan(1e-6);
    expect(Array.from(prediction.quantiles.dataSync()).every((q, i) => Math.abs(q - expected.dataSync()[i % 6]) < 1e-6)).toBe(true);
    prediction.dispose();
    tf.dispose([x, expected]);
  });

  it('the same seed gives the same result, another seed another', () => {
    const { model } = flipoutClassifier();
    const x = tf.ones([2, 4]);
    const run = (seed: number) => samplesOf(model, x, { samples: 30, seed }).values;
    expect(run(7)).toEqual(run(7));
    expect(run(8)).not.toEqual(run(7));
    x.dispose();
  });

  it('McPredictor reuses its split across calls and merges per-call options', () => {
    const { model, head } = flipoutClassifier();
    const predictor = new McPredictor(model, { samples: 5, seed: 3 });
    const x = tf.ones([1, 4]);
    const a = predictor.predict(x);
    const b = predictor.predict(x, { samples: 7 });
    expect(a.sampleCount).toBe(5);
    expect(b.sampleCount).toBe(7);
    // The layer's own sampling settings are restored after each call.
    expect(head.samplingOverride).toBeNull();
    predictor.dispose();
    expect(() => predictor.predict(x)).toThrow(/mcPredict: this McPredictor was disposed/);
    tf.dispose([x]);
    a.dispose();
    b.dispose();
  });

  it('leaks no tensor, on either strategy, kept samples or not', async () => {
    const { model } = flipoutClassifier();
    const x = tf.ones([2, 4]);
    mcPredict(model, x, { samples: 2 }).dispose(); // builds lazily-created weights outside the count
    for (const options of [{ strategy: 'fast' }, { strategy: 'naive' }, { keepSamples: true }] as McPredictOptions[]) {
      await expectNoLeaks(() => mcPredict(model, x, { samples: 6, chunkSize: 4, ...options }));
    }
    await expectNoLeaks(() => {
      const prediction = mcPredict(model, x, { samples: 3 });
      prediction.summary();
      prediction.dispose();
    });
    x.dispose();
  });
});

describe('mcPredict: test-time augmentation views', () => {
  /** [side, side, 1] images → flatten → `head`: no symmetry of its own, so every view predicts differently. */
  const imageClassifier = (head: tfl.layers.Layer) =>
    tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [3, 3, 1] }), head] });
  const mirror = (images: tf.Tensor) => tf.reverse(images, 2);

  it('sample s sees view s mod V: a deterministic model gives each view its own prediction, in view order', async () => {
    const model = imageClassifier(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }) }));
    const x = tf.randomNormal([2, 3, 3, 1], 0, 1, 'float32', 5);
    const views = dihedralViews();
    const perView = views.map((view) => tf.tidy(() => (model.predict(view(x)) as tf.Tensor).arraySync() as number[][]));
    const values = await expectNoLeaks(() => samplesOf(model, x, { samples: 10, views }).values);
    // 10 samples over 8 views: views 0 and 1 get 2 samples, the others 1, grouped by view.
    const viewOfSample = [0, 0, 1, 1, 2, 3, 4, 5, 6, 7];
    values.forEach((sample, s) => sample.forEach((probs, image) => probs.forEach((p, c) => expect(p).toBeCloseTo(perView[viewOfSample[s]][image][c], 6))));
    expect(new Set(perView.map((v) => v[0][0].toFixed(6))).size).toBe(8);
    // The mean of 8 samples is the average of the 8 views' predictions (the classic test-time augmentation).
    const prediction = mcPredict(model, x, { samples: 8, views });
    const mean = prediction.mean.arraySync();
    prediction.dispose();
    mean.forEach((probs, image) => probs.forEach((p, c) => expect(p).toBeCloseTo(average(perView.map((v) => v[image][c])), 6)));
    x.dispose();
  });

  it("each view's samples follow that view's predictive distribution (5-sigma bounds), and the seed fixes them", () => {
    const head = new DenseFlipout({ units: 3, activation: 'softmax', seed: 8 });
    const model = imageClassifier(head);
    tf.tidy(() => setPosterior(head, tf.randomNormal([9, 3], 0, 0.5, 'float32', 2), tf.fill([9, 3], 0.4), tf.tensor1d([0.1, 0, -0.1])));
    const x = tf.randomNormal([1, 3, 3, 1], 0, 1, 'float32', 6);
    const mirrored = mirror(x);
    const mixed = samplesOf(model, x, { samples: 2 * S, seed: 3, views: [(images) => images, mirror] }).values;
    const plain = samplesOf(model, x, { samples: S, seed: 4 }).values;
    const ofMirror = samplesOf(model, mirrored, { samples: S, seed: 5 }).values;
    for (const c of [0, 1, 2]) {
      expectSameDistribution(column(mixed.slice(0, S), 0, c), column(plain, 0, c));
      expectSameDistribution(column(mixed.slice(S), 0, c), column(ofMirror, 0, c));
    }
    expect(samplesOf(model, x, { samples: 20, seed: 3, views: [(images) => images, mirror] }).values).toEqual(
      samplesOf(model, x, { samples: 20, seed: 3, views: [(images) => images, mirror] }).values,
    );
    tf.dispose([x, mirrored]);
  });

  it('refuses views that are not functions, and a view that changes the shape, leaking nothing', async () => {
    const model = imageClassifier(new DenseFlipout({ units: 2, activation: 'softmax', seed: 1 }));
    const x = tf.ones([1, 3, 3, 1]);
    expect(() => mcPredict(model, x, { views: [] })).toThrow(
      "mcPredict: options.views must be a non-empty array of functions (images => images of the same shape); got []. Use dihedralViews(), or leave views out.",
    );
    expect(() => new McPredictor(model, { views: ['flip'] as unknown as McPredictOptions['views'] })).toThrow(/options.views must be a non-empty array of functions/);
    await expectNoLeaks(() =>
      expect(() => mcPredict(model, x, { samples: 2, views: [(images) => images, (images) => tf.slice(images, [0, 0, 0, 0], [1, 2, 3, 1])] })).toThrow(
        "mcPredict: options.views[1] must return images of the input's shape [1, 3, 3, 1]; got [1, 2, 3, 1]. Use views that keep the shape (square images for quarter turns).",
      ),
    );
    x.dispose();
  });
});

describe('mcPredict: errors', () => {
  const { model } = flipoutClassifier();
  const deterministic = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, activation: 'softmax', inputShape: [4] })] });

  it('refuses epistemicOnly on a model without stochastic layers', () => {
    const x = tf.ones([1, 4]);
    expect(() => mcPredict(deterministic, x, { epistemicOnly: true })).toThrow(
      /mcPredict: the model must hold a stochastic layer to measure epistemic uncertainty; got none in model '.*'. Add a variational/,
    );
    x.dispose();
  });

  it.each([
    [{ samples: 0 }, /mcPredict: options.samples must be an integer >= 1; got 0/],
    [{ samples: 2.5 }, /mcPredict: options.samples must be an integer >= 1; got 2.5/],
    [{ chunkSize: 0 }, /mcPredict: options.chunkSize must be an integer >= 1; got 0/],
    [{ quantiles: [0.5, 1.5] }, /mcPredict: options.quantiles\[1\] must be a number >= 0 and <= 1; got 1.5/],
    [{ strategy: 'quick' }, /mcPredict: options.strategy must be one of 'auto', 'fast', 'naive'; got 'quick'/],
  ])('refuses options %j', (options, message) => {
    const x = tf.ones([1, 4]);
    expect(() => mcPredict(model, x, options as McPredictOptions)).toThrow(message);
    expect(() => new McPredictor(model, options as McPredictOptions)).toThrow(message);
    x.dispose();
  });

  it('refuses images of the wrong shape, and a model output that is not [batch, classes]', async () => {
    const x = tf.ones([2, 5]);
    expect(() => mcPredict(model, x)).toThrow(/mcPredict: images must have shape \['batch', 4\]; got \[2, 5\]. Resize/);
    x.dispose();
    const flat = tf.ones([4]);
    expect(() => mcPredict(model, flat)).toThrow(/images must have shape \['batch', 4\]; got \[4\]/);
    flat.dispose();
    const image = tfl.sequential({ layers: [new DenseFlipout({ units: 2, inputShape: [3, 4] })] });
    const y = tf.ones([1, 3, 4]);
    await expectNoLeaks(() => expect(() => mcPredict(image, y, { samples: 2 })).toThrow(/the model output must have shape \[batch, classes\]; got \[1, 3, 2\]/));
    y.dispose();
  });
});
