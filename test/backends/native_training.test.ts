import * as tf from '@tensorflow/tfjs-core';
import { COMPILED_KERNELS_ENV } from '../../src/backends/compiled_kernels';
import { RELU_GRAD_KERNEL, SOFTPLUS_GRAD_KERNEL, registerNativeTrainingKernels } from '../../src/backends/native_training';
import { createPrior, SUM_OF_SQUARES_KERNEL } from '../../src/layers/priors';
import { maxAbsDiff } from '../helpers';
import { fitSmallCnn, loadNative } from './small_cnn';

const reluGradient = (x: tf.Tensor, dy: tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), dy)))(x);
const softplusGradient = (x: tf.Tensor, dy: tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.softplus(v), dy)))(x);
const tfjsGradient = tf.getGradient(tf.Relu)!;
const tfjsSoftplusGradient = tf.getGradient(tf.Softplus)!;

// This file tests the kernels built from TensorFlow's own ops; compiled_kernels.test.ts tests the
// compiled ones, which would otherwise take the KL's place here.
const compiledKernels = process.env[COMPILED_KERNELS_ENV];
beforeAll(() => (process.env[COMPILED_KERNELS_ENV] = 'off'));
afterAll(() => {
  [tfjsGradient, tfjsSoftplusGradient].forEach((gradient) => tf.registerGradient(gradient));
  if (compiledKernels === undefined) delete process.env[COMPILED_KERNELS_ENV];
  else process.env[COMPILED_KERNELS_ENV] = compiledKernels;
});

describe('registerNativeTrainingKernels', () => {
  const native = loadNative();
  // tfjs-node's pooling kernels as loading it registered them, to compute the reference with.
  const tfjsNodeKernels = [tf.MaxPool, tf.MaxPoolGrad].map((name) => tf.getKernel(name, 'tensorflow')).filter((k) => k !== undefined);
  // Undoes registerNativeTrainingKernels on tensorflow: tfjs' gradients, no sum-of-squares kernel, tfjs-node's pooling.
  const restoreTfjsNode = () => {
    [tfjsGradient, tfjsSoftplusGradient].forEach((gradient) => tf.registerGradient(gradient));
    if (tf.getKernel(SUM_OF_SQUARES_KERNEL, 'tensorflow') !== undefined) tf.unregisterKernel(SUM_OF_SQUARES_KERNEL, 'tensorflow');
    for (const kernel of tfjsNodeKernels) {
      tf.unregisterKernel(kernel.kernelName, 'tensorflow');
      tf.registerKernel(kernel);
    }
  };

  it('registers once, and elsewhere than tensorflow the ReLU gradient is exactly tfjs\' formula', () => {
    const x = tf.tensor1d([-2, -0.5, 0, 0.25, 3, -1e-30, 1e-30]);
    const dy = tf.randomNormal([7], 0, 1, 'float32', 1);
    const before = reluGradient(x, dy).dataSync();
    expect(registerNativeTrainingKernels()).toBe(true);
    expect(registerNativeTrainingKernels()).toBe(false);
    expect(tf.getKernel(RELU_GRAD_KERNEL, 'tensorflow')).toBeDefined();
    expect(tf.getKernel(RELU_GRAD_KERNEL, 'cpu')).toBeUndefined();
    expect(tf.getBackend()).toBe('cpu');
    expect(reluGradient(x, dy).dataSync()).toEqual(before);
    expect(Array.from(before)).toEqual(Array.from(dy.dataSync()).map((d, i) => d * (x.dataSync()[i] > 0 ? 1 : 0)));
    tf.dispose([x, dy]);
  });

  it("elsewhere than tensorflow the softplus gradient is exactly tfjs' formula, dy · sigmoid(x)", () => {
    registerNativeTrainingKernels();
    expect(tf.getKernel(SOFTPLUS_GRAD_KERNEL, 'tensorflow')).toBeDefined();
    expect(tf.getKernel(SOFTPLUS_GRAD_KERNEL, 'cpu')).toBeUndefined();
    expect(tf.getKernel(SUM_OF_SQUARES_KERNEL, 'tensorflow')).toBeDefined();
    expect(tf.getKernel(SUM_OF_SQUARES_KERNEL, 'cpu')).toBeUndefined();
    const x = tf.tensor1d([-30, -3, -0.5, 0, 0.25, 3, 30]);
    const dy = tf.randomNormal([7], 0, 1, 'float32', 4);
    const expected = tf.mul(dy, tf.sigmoid(x));
    const gradient = softplusGradient(x, dy);
    expect(gradient.dataSync()).toEqual(expected.dataSync());
    tf.dispose([x, dy, expected, gradient]);
  });

  /** Max pooling and its gradient for a ReLU'd input (half zeros: ties everywhere), windows that overlap and 'same' padding. */
  const pooling = () => {
    const x = tf.relu(tf.randomNormal([2, 7, 9, 3], 0, 1, 'float32', 4)) as tf.Tensor4D;
    const pool = (v: tf.Tensor4D) => tf.maxPool(v, 3, 2, 'same');
    const dy = tf.randomNormal(pool(x).shape, 0, 1, 'float32', 5);
    const gradient = (f: (v: tf.Tensor4D) => tf.Tensor) => tf.grad((v) => tf.sum(f(v as tf.Tensor4D)))(x);
    const results = [pool(x), gradient((v) => tf.mul(pool(v), dy)), gradient((v) => tf.maxPool(v, 2, 2, 'valid'))];
    tf.dispose([x, dy]);
    return results;
  };

  (native ? it : it.skip)("on tfjs-node: the fused gradients and pooling equal tfjs-node's kernels, the KL sums squares in one op to the same value, and a CNN trains to the same loss curve (needs tfjs-node)", async () => {
    await tf.setBackend('tensorflow');
    restoreTfjsNode(); // the tests above registered the replacements
    // tfjs' per-kernel leak check (on under IS_TEST) trips on tfjs-node's own fusedMatMul kernel.
    tf.env().set('IS_TEST', false);
    const x = tf.randomNormal([4, 5, 6], 0, 1, 'float32', 2);
    const dy = tf.randomNormal([4, 5, 6], 0, 1, 'float32', 3);
    const reference = reluGradient(x, dy);
    const softplusReference = softplusGradient(x, dy);
    const prior = createPrior('test', { mean: 0.5, stddev: 0.7 });
    const [loc, sigma] = [tf.randomNormal([64, 32], 0, 0.1, 'float32', 4), tf.randomUniform([64, 32], 0.01, 0.2, 'float32', 5)];
    const klReference = prior.divergence(loc, sigma).dataSync()[0];
    const referencePooling = pooling();
    const { losses: referenceLosses } = await fitSmallCnn();
    expect(registerNativeTrainingKernels()).toBe(true);
    const profile = await tf.profile(() => [reluGradient(x, dy), softplusGradient(x, dy), prior.divergence(loc, sigma)]);
    const kernelNames = profile.kernels.map((k) => k.name);
    expect(kernelNames).toEqual(expect.arrayContaining([RELU_GRAD_KERNEL, SOFTPLUS_GRAD_KERNEL, SUM_OF_SQUARES_KERNEL]));
    expect(kernelNames).not.toContain('Sigmoid');
    expect(kernelNames).not.toContain('BatchMatMul');
    const kl = (profile.result as tf.Tensor[])[2].dataSync()[0];
    expect(Math.abs(kl - klReference)).toBeLessThan(1e-6 * Math.abs(klReference));
    const fused = reluGradient(x, dy);
    expect(fused.dataSync()).toEqual(reference.dataSync());
    const fusedSoftplus = softplusGradient(x, dy);
    // TensorFlow's SoftplusGrad computes dy / (1 + exp(−x)): the same value, rounded once less.
    expect(maxAbsDiff(fusedSoftplus, softplusReference)).toBeLessThan(1e-6);
    const backend = tf.backend() as unknown as { executeMultipleOutputs: (name: string) => unknown };
    const calls = jest.spyOn(backend, 'executeMultipleOutputs');
    const fusedPooling = pooling();
    expect(calls.mock.calls.map(([name]) => name)).toContain('_MklNativeMaxPool');
    calls.mockRestore();
    fusedPooling.forEach((result, i) => expect(result.dataSync()).toEqual(referencePooling[i].dataSync()));
    const { losses, tensorsGained } = await fitSmallCnn();
    expect(tensorsGained).toBe(0);
    losses.forEach((loss, i) => expect(Math.abs(loss - referenceLosses[i])).toBeLessThan(1e-5 * referenceLosses[i]));
    tf.dispose([x, dy, reference, fused, softplusReference, fusedSoftplus, loc, sigma, ...(profile.result as tf.Tensor[]), ...referencePooling, ...fusedPooling]);
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
  });

  (native ? it : it.skip)('on tfjs-node: a pooling gradient that fails midway frees what it made (needs tfjs-node)', async () => {
    await tf.setBackend('tensorflow');
    registerNativeTrainingKernels();
    const input = tf.relu(tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 6)) as tf.Tensor4D;
    const output = tf.maxPool(input, 2, 2, 'valid');
    const dy = tf.onesLike(output);
    const attrs = { filterSize: 2, strides: 2, pad: 'valid' };
    // The kernel itself: tf.grad keeps a few tensors of its own when a gradient throws.
    const poolGradient = () => tf.engine().runKernel(tf.MaxPoolGrad, { dy, input, output }, attrs) as tf.Tensor;
    const backend = tf.backend() as unknown as { executeSingleOutput: (name: string, ...rest: unknown[]) => unknown };
    const execute = backend.executeSingleOutput.bind(backend);
    const failing = jest.spyOn(backend, 'executeSingleOutput').mockImplementation((name, ...rest) => {
      if (name === '_MklNativeMaxPoolGrad') throw new Error('injected failure');
      return execute(name, ...rest);
    });
    const before = tf.memory().numTensors;
    expect(poolGradient).toThrow('injected failure');
    expect(tf.memory().numTensors).toBe(before);
    failing.mockRestore();
    const gradient = poolGradient(); // and it works again
    expect(tf.memory().numTensors).toBe(before + 1);
    const total = tf.sum(gradient);
    expect(total.dataSync()[0]).toBe(output.size); // each window sends its dy = 1 to one input
    tf.dispose([input, output, dy, gradient, total]);
    await tf.setBackend('cpu');
  });
});
