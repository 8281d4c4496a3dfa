import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { COMPILED_GRADIENT_KERNELS, COMPILED_KERNELS_ENV, loadCompiledKernels } from '../../src/backends/compiled_kernels';
import { registerNativeTrainingKernels } from '../../src/backends/native_training';
import { DenseFlipout, DenseLocalReparameterization } from '../../src';
import { POSTERIOR_DRAW_KERNEL, SIGMA_FLOOR } from '../../src/layers/variational';
import { fillNormal, fillRademacher, NORMAL_CHUNK } from '../../src/noise';
import { SeedStream } from '../../src/random';
import { expectSameStep, FUSED_CASES, trainingStep } from '../layers/fused_cases';
import { loadNative } from './small_cnn';

/**
 * tfjs-trust's compiled kernels (native/kernels.cc), where `npm run setup:native` built them beside
 * tfjs-node: each against tfjs' own ops on cpu, which CI runs (test/layers/fused_draw.test.ts
 * checks the layers' fused path against the same contract in JavaScript).
 */
const native = loadNative() && loadCompiledKernels().loaded;
const onNative = native ? it : it.skip;

/** Runs fn on `backend`, with the native kernels registered there. */
async function on<T>(backend: 'cpu' | 'tensorflow', fn: () => T | Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  try {
    return await fn();
  } finally {
    await tf.setBackend('cpu');
  }
}

beforeAll(() => {
  if (!native) return;
  registerNativeTrainingKernels();
  // tfjs' per-kernel leak check (on under IS_TEST) trips on tfjs-node's own fusedMatMul kernel.
  tf.env().set('IS_TEST', false);
});
afterAll(() => tf.env().set('IS_TEST', true));

describe('compiled kernels', () => {
  it(`are not loaded with ${COMPILED_KERNELS_ENV}=off, and say why`, () => {
    expect(loadCompiledKernels({ [COMPILED_KERNELS_ENV]: 'off' })).toEqual({ loaded: false, reason: `${COMPILED_KERNELS_ENV}=off` });
  });

  onNative('draw the same noise as JavaScript, bit for bit, across chunks (needs setup:native)', async () => {
    for (const [seed, shape] of [[7, [3]], [0xdeadbeef, [NORMAL_CHUNK + 1]], [42, [300, 700]]] as [number, number[]][]) {
      const size = shape.reduce((a, b) => a * b, 1);
      const [normal, signs] = await on('tensorflow', () => {
        const stream = new SeedStream(seed, 'test');
        return [stream.normal(shape), stream.rademacher(shape)].map((t) => Array.from(t.dataSync()));
      });
      const stream = new SeedStream(seed, 'test');
      expect(normal).toEqual(Array.from(fillNormal(new Float32Array(size), stream.drawSeed())));
      expect(signs).toEqual(Array.from(fillRademacher(new Float32Array(size), stream.drawSeed())));
    }
  });

  onNative.each(FUSED_CASES)('%s: a training step gives the loss and gradients of tfjs on cpu (needs setup:native)', async (_name, make, shape) => {
    const expected = trainingStep(make, shape);
    const before = tf.memory().numTensors;
    const actual = await on('tensorflow', () => trainingStep(make, shape));
    expect(tf.memory().numTensors).toBe(before);
    expectSameStep(actual, expected);
  });

  onNative('σ and the KL by their own kernels (local estimator, prediction) agree with tfjs on cpu (needs setup:native)', async () => {
    const local = () => new DenseLocalReparameterization({ units: 4, seed: 6, prior: { stddev: 0.4 } });
    expectSameStep(await on('tensorflow', () => trainingStep(local, [5, 8])), trainingStep(local, [5, 8]));
    const predict = () => {
      const layer = new DenseFlipout({ units: 4, seed: 8, kernelRhoInitializer: tfl.initializers.constant({ value: -20 }) });
      const x = tf.randomNormal([3, 8], 0, 1, 'float32', 1);
      const outputs = [layer.apply(x), layer.apply(x)] as tf.Tensor[];
      const sigma = layer.kernelPosterior().sigma;
      const values = [...outputs.map((t) => Array.from(t.dataSync())), Array.from(sigma.dataSync())];
      tf.dispose([x, ...outputs, sigma]);
      layer.weights.forEach((w) => w.dispose());
      return values;
    };
    const [expected, actual] = [predict(), await on('tensorflow', predict)];
    // Far in softplus' tail (ρ = −20), σ = exp(ρ) + floor: exact there too.
    expect(Math.abs(actual[2][0] - (Math.exp(-20) + SIGMA_FLOOR))).toBeLessThan(1e-6 * actual[2][0]);
    actual.forEach((values, i) => values.forEach((v, j) => expect(Math.abs(v - expected[i][j])).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected[i][j])))));
  });

  onNative('a model trains to the loss curve tfjs gives on cpu, and leaks nothing (needs setup:native)', async () => {
    const fit = async () => {
      const model = tfl.sequential({
        layers: [tfl.layers.dense({ units: 16, inputShape: [10], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }), new DenseFlipout({ units: 3, seed: 2, klWeight: 1 / 64 })],
      });
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
      const [x, y] = [tf.randomNormal([64, 10], 0, 1, 'float32', 3), tf.randomNormal([64, 3], 0, 1, 'float32', 4)];
      await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      const before = tf.memory().numTensors;
      const history = await model.fit(x, y, { epochs: 5, batchSize: 16, shuffle: false, verbose: 0 });
      const gained = tf.memory().numTensors - before;
      model.dispose();
      tf.dispose([x, y]);
      return { losses: history.history.loss as number[], gained };
    };
    const expected = await fit();
    const actual = await on('tensorflow', fit);
    expect(actual.gained).toBe(0);
    actual.losses.forEach((loss, i) => expect(Math.abs(loss - expected.losses[i])).toBeLessThan(1e-4 * expected.losses[i]));
  });

  onNative("the draw's gradient is the same from the factors the draw kept as from factors computed again (needs setup:native)", async () => {
    await on('tensorflow', () => {
      const shape = [300, 700]; // several threads' units and blocks
      const attrs = { seed: 3, floor: SIGMA_FLOOR, priorMean: 0.1, priorStddev: 0.5 };
      const [loc, rho, dPerturbation, dLoc] = [0, -4, 0, 0].map((mean, i) => tf.randomNormal(shape, mean, 1, 'float32', 10 + i));
      const dKl = tf.scalar(0.25);
      const before = tf.memory().numTensors;
      const [perturbation, kl, locOut] = tf.engine().runKernel(POSTERIOR_DRAW_KERNEL, { loc, rho }, attrs) as tf.Tensor[];
      const gradient = () => tf.engine().runKernel(COMPILED_GRADIENT_KERNELS.posteriorDraw, { dPerturbation, dKl, dLoc, loc, rho, perturbation }, attrs) as tf.Tensor[];
      // The first takes the draw's factors; the second finds none and computes them again.
      const [kept, computed] = [gradient(), gradient()];
      const differing = kept.map((t, i) => {
        const [a, b] = [t.dataSync(), computed[i].dataSync()];
        return a.filter((v, j) => !Object.is(v, b[j])).length;
      });
      expect(differing).toEqual([0, 0]);
      tf.dispose([perturbation, kl, locOut, ...kept, ...computed]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([loc, rho, dPerturbation, dLoc, dKl]);
    });
  });

  onNative('a draw TensorFlow refuses throws its reason and frees what the kernel made (needs setup:native)', async () => {
    await on('tensorflow', () => {
      const [loc, rho] = [tf.zeros([4, 3]), tf.zeros([3, 5])];
      const before = tf.memory().numTensors;
      const attrs = { seed: 1, floor: SIGMA_FLOOR, priorMean: 0, priorStddev: 1 };
      expect(() => tf.engine().runKernel(POSTERIOR_DRAW_KERNEL, { loc, rho }, attrs)).toThrow('loc and rho must have one size');
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([loc, rho]);
    });
  });
});
