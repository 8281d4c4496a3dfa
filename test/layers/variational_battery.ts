import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { VariationalLayer, layerWeight, rhoOf, withSampling, type SamplingMode, type VariationalLayerArgs } from '../../src';
import { expectNoLeaks, maxAbsDiff, saveAndLoad } from '../helpers';

/**
 * What the shared battery needs to know of one variational layer class: how to make it, an input
 * shape, and the deterministic linear map its kernel defines (computed here with plain tfjs ops,
 * independently of the layer's code).
 */
export interface BatterySpec<A extends VariationalLayerArgs> {
  className: string;
  create: (args: Partial<A>) => VariationalLayer;
  /** Input shape without the batch axis. */
  inputShape: number[];
  linear: (x: tf.Tensor, kernel: tf.Tensor) => tf.Tensor;
  /** Arguments whose bad values must be refused, with the message each must match. */
  badArguments: Array<{ args: Partial<A>; message: RegExp }>;
  /** The estimator the class uses when no mode is given. Default 'flipout'. */
  defaultMode?: SamplingMode;
  /** The mode in which rows are independent draws (null for convolutions). Default 'local'. */
  independentRowsMode?: SamplingMode | null;
  /** Calls the moment tests average over (the bounds scale with it). Default 2000; fewer for costly layers. */
  calls?: number;
}

const DEFAULT_CALLS = 2000;
/** Tolerance in standard errors: a correct layer fails a 5-sigma bound about once in 1.7 million. */
const Z = 5;

/** Sets the posterior to known values so the closed forms are known too. */
function setPosterior(layer: VariationalLayer, seed: number): { loc: tf.Tensor; sigma: tf.Tensor; bias: tf.Tensor } {
  const variable = (name: string) => layerWeight(layer, name)!;
  const [locVar, rhoVar, biasVar] = ['kernel_loc', 'kernel_rho', 'bias_loc'].map(variable);
  const loc = tf.randomNormal(locVar.shape as number[], 0, 0.5, 'float32', seed);
  const sigma = tf.randomUniform(rhoVar.shape as number[], 0.1, 0.6, 'float32', seed + 1);
  const bias = tf.randomNormal(biasVar.shape as number[], 0, 0.5, 'float32', seed + 2);
  const rho = rhoOf(sigma);
  locVar.write(loc);
  rhoVar.write(rho);
  biasVar.write(bias);
  rho.dispose();
  return { loc, sigma, bias };
}

/** One battery, run for every variational layer class (as TFP's tests do for its estimators). */
export function runVariationalBattery<A extends VariationalLayerArgs>(spec: BatterySpec<A>): void {
  const batchShape = [3, ...spec.inputShape];
  const built = (args: Partial<A> = {}): VariationalLayer => {
    const layer = spec.create(args);
    layer.build([null, ...spec.inputShape]);
    return layer;
  };

  describe(`${spec.className}: the shared variational battery`, () => {
    it.each(['flipout', 'sample', 'local'] as const)(
      `output mean and variance over ${spec.calls ?? DEFAULT_CALLS} calls in %s mode match x·loc + b and x²·σ²`,
      (mode) => {
        const calls = spec.calls ?? DEFAULT_CALLS;
        const layer = built({ mode } as Partial<A>);
        const { loc, sigma, bias } = setPosterior(layer, 7);
        const x = tf.randomNormal(batchShape, 0, 1, 'float32', 3);
        const [expectedMean, expectedVar] = tf.tidy(() => [
          tf.add(spec.linear(x, loc), bias),
          spec.linear(tf.square(x), tf.square(sigma)),
        ]);
        let sum = tf.zerosLike(expectedMean);
        let sumSq = tf.zerosLike(expectedMean);
        for (let i = 0; i < calls; i++) {
          const [nextSum, nextSumSq] = tf.tidy(() => {
            const y = layer.apply(x) as tf.Tensor;
            return [tf.add(sum, y), tf.add(sumSq, tf.square(y))];
          });
          tf.dispose([sum, sumSq]);
          [sum, sumSq] = [nextSum, nextSumSq];
        }
        const mean = tf.div(sum, calls);
        const variance = tf.mul(tf.sub(tf.div(sumSq, calls), tf.square(mean)), calls / (calls - 1));
        // Standard error of the mean: sqrt(var / N); of the sample variance (Gaussian): var·sqrt(2 / (N − 1)).
        const meanBound = tf.mul(tf.sqrt(tf.div(expectedVar, calls)), Z);
        const varBound = tf.mul(expectedVar, Z * Math.sqrt(2 / (calls - 1)));
        const meanOk = tf.all(tf.lessEqual(tf.abs(tf.sub(mean, expectedMean)), meanBound)).dataSync()[0];
        const varOk = tf.all(tf.lessEqual(tf.abs(tf.sub(variance, expectedVar)), varBound)).dataSync()[0];
        expect(meanOk).toBe(1);
        expect(varOk).toBe(1);
        // A layer that ignored sigma would pass the mean test: make sure the variance is not ~0.
        expect(tf.min(variance).dataSync()[0]).toBeGreaterThan(0);
        tf.dispose([loc, sigma, bias, x, expectedMean, expectedVar, sum, sumSq, mean, variance, meanBound, varBound]);
      },
    );

    it('samples with its own default estimator and declares when rows are independent draws', () => {
      const layer = spec.create({});
      expect(layer.mode).toBe(spec.defaultMode ?? 'flipout');
      expect(layer.independentRowsMode).toBe(spec.independentRowsMode === undefined ? 'local' : spec.independentRowsMode);
    });

    it("'mean' mode is deterministic and equals x·loc + b", () => {
      const layer = built({ mode: 'mean' } as Partial<A>);
      const { loc, sigma, bias } = setPosterior(layer, 11);
      const x = tf.randomNormal(batchShape, 0, 1, 'float32', 5);
      const expected = tf.add(spec.linear(x, loc), bias);
      expect(maxAbsDiff(layer.apply(x) as tf.Tensor, expected)).toBeLessThan(1e-5);
      expect(maxAbsDiff(layer.apply(x) as tf.Tensor, layer.apply(x) as tf.Tensor)).toBe(0);
      tf.dispose([loc, sigma, bias, x, expected]);
    });

    it('KL equals the Normal-vs-Normal closed form, computed independently', () => {
      const prior = { mean: 0.3, stddev: 1.7 };
      const layer = built({ prior } as Partial<A>);
      const { loc, sigma, bias } = setPosterior(layer, 13);
      const locs = loc.dataSync();
      const sigmas = sigma.dataSync();
      let expected = 0;
      for (let i = 0; i < locs.length; i++) {
        expected +=
          Math.log(prior.stddev / sigmas[i]) +
          (sigmas[i] ** 2 + (locs[i] - prior.mean) ** 2) / (2 * prior.stddev ** 2) -
          0.5;
      }
      const kl = layer.klDivergence();
      expect(kl.dataSync()[0]).toBeCloseTo(expected, 2);
      expect(Math.abs(kl.dataSync()[0] - expected) / expected).toBeLessThan(1e-5);
      tf.dispose([loc, sigma, bias, kl]);
    });

    it('with prior.meanFromWeights, KL is measured from per-weight prior means, which save and load', async () => {
      const prior = { stddev: 0.8, meanFromWeights: true };
      const layer = spec.create({ inputShape: spec.inputShape, prior } as Partial<A>);
      const model = tfl.sequential({ layers: [layer] });
      const { loc, sigma, bias } = setPosterior(layer, 37);
      const priorMean = layerWeight(layer, 'kernel_prior_mean')!;
      expect(priorMean.trainable).toBe(false);
      const means = tf.randomNormal(loc.shape, 0, 0.5, 'float32', 41);
      priorMean.write(means);
      const expected = tf.tidy(() =>
        tf.sum(
          tf.sub(
            tf.add(tf.log(tf.div(prior.stddev, sigma)), tf.div(tf.add(tf.square(sigma), tf.square(tf.sub(loc, means))), 2 * 0.64)),
            0.5,
          ),
        ),
      );
      const kl = layer.klDivergence();
      expect(Math.abs(kl.dataSync()[0] - expected.dataSync()[0]) / expected.dataSync()[0]).toBeLessThan(1e-5);
      const copy = (await saveAndLoad(model)).layers[0] as VariationalLayer;
      const restoredKl = copy.klDivergence();
      expect(restoredKl.dataSync()[0]).toBe(kl.dataSync()[0]);
      tf.dispose([loc, sigma, bias, means, expected, kl, restoredKl]);
    });

    it('adds klWeight · KL to the layer losses', () => {
      const layer = built({ klWeight: 0.25 } as Partial<A>);
      const kl = layer.klDivergence();
      const [loss] = layer.calculateLosses();
      expect(loss.dataSync()[0]).toBeCloseTo(0.25 * kl.dataSync()[0], 3);
      tf.dispose([kl, loss]);
    });

    it('gradients of a sampled loss reach loc and rho', () => {
      const layer = built({ biasPosterior: 'normal' } as Partial<A>);
      const x = tf.randomNormal(batchShape, 0, 1, 'float32', 17);
      const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads, value } = tf.variableGrads(
        () => tf.add(tf.sum(tf.square(layer.apply(x) as tf.Tensor)), layer.klDivergence()),
        variables,
      );
      const names = layer.trainableWeights.map((w) => w.originalName);
      expect(names).toEqual(['kernel_loc', 'kernel_rho', 'bias_loc', 'bias_rho']);
      for (const variable of variables) {
        expect(tf.max(tf.abs(grads[variable.name])).dataSync()[0]).toBeGreaterThan(0);
      }
      tf.dispose([x, value, ...Object.values(grads)]);
    });

    it('a training step computes σ = softplus(ρ) once for the forward pass and the KL, with the gradients of separate passes', async () => {
      const kernelSize = (layer: VariationalLayer) => layerWeight(layer, 'kernel_rho')!.shape.reduce((a, b) => a! * b!, 1);
      const [shared, separate] = [built({ seed: 5 } as Partial<A>), built({ seed: 5 } as Partial<A>)];
      separate.setWeights(shared.getWeights());
      const x = tf.randomNormal(batchShape, 0, 1, 'float32', 23);
      const variables = (layer: VariationalLayer) => layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const dataLoss = (layer: VariationalLayer): tf.Scalar => tf.sum(tf.square(layer.apply(x) as tf.Tensor));
      const gradients = (layer: VariationalLayer, loss: () => tf.Scalar) => {
        const { value, grads } = tf.variableGrads(loss, variables(layer));
        value.dispose();
        return Object.values(grads);
      };
      const before = tf.memory().numTensors;
      const profile = await tf.profile(() => gradients(shared, () => tf.add(dataLoss(shared), shared.klDivergence())));
      const combined = profile.result as tf.Tensor[];
      const softplusPasses = profile.kernels.filter((k) => k.name === 'Softplus' && k.outputShapes[0]?.reduce((a, b) => a * b, 1) === kernelSize(shared));
      expect(softplusPasses).toHaveLength(1);
      // The same noise (same seed) in two tapes, one per term: the sum of their gradients is the reference.
      const fromData = gradients(separate, () => dataLoss(separate));
      const fromKl = gradients(separate, () => separate.klDivergence());
      combined.forEach((gradient, i) => expect(tf.tidy(() => maxAbsDiff(gradient, tf.add(fromData[i], fromKl[i] ?? 0)))).toBeLessThan(1e-4));
      tf.dispose([...combined, ...fromData, ...fromKl.filter((g) => g != null)]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });

    it('the same seed gives the same sequence of samples; no seed gives fresh ones', () => {
      const x = tf.randomNormal(batchShape, 0, 1, 'float32', 19);
      const sequence = (layer: VariationalLayer) => [0, 1, 2].map(() => Array.from((layer.apply(x) as tf.Tensor).dataSync()));
      const a = built({ seed: 42 } as Partial<A>);
      const b = built({ seed: 42 } as Partial<A>);
      const first = sequence(a);
      expect(sequence(b)).toEqual(first);
      expect(first[1]).not.toEqual(first[0]);
      const unseeded = built();
      unseeded.setWeights(a.getWeights());
      expect(sequence(unseeded)).not.toEqual(first);
      const otherSeed = built({ seed: 43 } as Partial<A>);
      otherSeed.setWeights(a.getWeights());
      expect(sequence(otherSeed)).not.toEqual(first);
      x.dispose();
    });

    it("withSampling({ mode: 'mean' }) switches a whole model to the posterior mean, then restores it", () => {
      const model = tfl.sequential({ layers: [spec.create({ inputShape: spec.inputShape, seed: 1 } as Partial<A>)] });
      const x = tf.randomNormal(batchShape, 0, 1, 'float32', 23);
      const [a, b] = withSampling(model, { mode: 'mean' }, () => [model.predict(x), model.predict(x)] as tf.Tensor[]);
      expect(maxAbsDiff(a, b)).toBe(0);
      const [c, d] = [model.predict(x), model.predict(x)] as tf.Tensor[];
      expect(maxAbsDiff(c, d)).toBeGreaterThan(0);
      tf.dispose([x, a, b, c, d]);
    });

    it('survives a save/load round trip with its config, and mean predictions are bit-identical', async () => {
      const layer = spec.create({
        inputShape: spec.inputShape,
        klWeight: 0.125,
        prior: { mean: 0.5, stddev: 2 },
        biasPosterior: 'normal',
        seed: 5,
        activation: 'relu',
      } as Partial<A>);
      const model = tfl.sequential({ layers: [layer] });
      const loaded = await saveAndLoad(model);
      const copy = loaded.layers[0] as VariationalLayer;
      expect(copy.getClassName()).toBe(spec.className);
      expect(copy.getConfig()).toEqual(layer.getConfig());
      const x = tf.randomNormal(batchShape, 0, 1, 'float32', 29);
      const [original, restored] = withSampling(model, { mode: 'mean' }, () =>
        withSampling(loaded, { mode: 'mean' }, () => [model.predict(x), loaded.predict(x)] as tf.Tensor[]),
      );
      expect(Array.from(restored.dataSync())).toEqual(Array.from(original.dataSync()));
      tf.dispose([x, original, restored]);
    });

    it('an unseeded layer (seed null in the saved config) loads back unseeded', async () => {
      const model = tfl.sequential({ layers: [spec.create({ inputShape: spec.inputShape } as Partial<A>)] });
      const copy = (await saveAndLoad(model)).layers[0] as VariationalLayer;
      expect(copy.getConfig().seed).toBeNull();
      expect(copy.seed).toBeUndefined();
    });

    it('leaks no tensors over 100 calls, in every mode, nor through its KL', async () => {
      const layer = built();
      const x = tf.randomNormal(batchShape, 0, 1, 'float32', 31);
      await expectNoLeaks(() => {
        for (let i = 0; i < 100; i++) tf.dispose(layer.apply(x) as tf.Tensor);
        for (const mode of ['flipout', 'sample', 'local', 'mean']) tf.dispose(layer.apply(x, { mode }) as tf.Tensor);
        tf.dispose(layer.klDivergence());
        tf.dispose(layer.calculateLosses());
      });
      x.dispose();
    });

    it.each([
      [{ klWeight: -1 }, /klWeight must be a number >= 0; got -1/],
      [{ prior: { stddev: -1 } }, /prior\.stddev must be a number > 0; got -1/],
      [{ prior: { stddev: 0 } }, /prior\.stddev must be a number > 0; got 0/],
      [{ mode: 'gibbs' }, /mode must be one of 'flipout', 'sample', 'local', 'mean'; got 'gibbs'/],
      [{ biasPosterior: 'laplace' }, /biasPosterior must be one of 'pointEstimate', 'normal'; got 'laplace'/],
      [{ seed: 1.5 }, /seed must be an integer; got 1.5/],
    ])('refuses %j with an error naming the argument and the allowed values', (args, message) => {
      expect(() => spec.create(args as Partial<A>)).toThrow(message);
    });

    it.each(spec.badArguments.map((c) => [c.args, c.message] as const))('refuses %j', (args, message) => {
      expect(() => spec.create(args)).toThrow(message);
    });

    it(`names the layer class in its errors, and refuses a call mode it does not know`, () => {
      expect(() => spec.create({ klWeight: -1, name: 'head' } as Partial<A>)).toThrow(
        new RegExp(`^${spec.className} 'head': klWeight`),
      );
      const layer = built();
      const x = tf.zeros(batchShape);
      expect(() => layer.apply(x, { mode: 'bogus' })).toThrow(/kwargs\.mode must be one of/);
      x.dispose();
    });
  });
}
