import * as tf from '@tensorflow/tfjs-core';
import { RELU_GRAD_KERNEL, SOFTPLUS_GRAD_KERNEL, registerNativeTrainingKernels } from '../../src/backends/native_training';
import { createPrior, SUM_OF_SQUARES_KERNEL } from '../../src/layers/priors';
import { maxAbsDiff } from '../helpers';
import { fitSmallCnn } from './small_cnn';

/** tfjs-node where `npm run setup:native` (or npm install) put it; the native half of this file needs it. */
function loadNative(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, so loaded synchronously to decide it.skip
    require('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

const reluGradient = (x: tf.Tensor, dy: tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), dy)))(x);
const softplusGradient = (x: tf.Tensor, dy: tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.softplus(v), dy)))(x);
const tfjsGradient = tf.getGradient(tf.Relu)!;
const tfjsSoftplusGradient = tf.getGradient(tf.Softplus)!;

afterAll(() => [tfjsGradient, tfjsSoftplusGradient].forEach((gradient) => tf.registerGradient(gradient)));

describe('registerNativeTrainingKernels', () => {
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

  const native = loadNative();
  (native ? it : it.skip)("on tfjs-node: the fused gradients equal tfjs', the KL sums squares in one op to the same value, and a CNN trains to the same loss curve (needs tfjs-node)", async () => {
    await tf.setBackend('tensorflow');
    // Loading tfjs-node re-registered tfjs' gradients anyway.
    [tfjsGradient, tfjsSoftplusGradient].forEach((gradient) => tf.registerGradient(gradient));
    // tfjs' per-kernel leak check (on under IS_TEST) trips on tfjs-node's own fusedMatMul kernel.
    tf.env().set('IS_TEST', false);
    const x = tf.randomNormal([4, 5, 6], 0, 1, 'float32', 2);
    const dy = tf.randomNormal([4, 5, 6], 0, 1, 'float32', 3);
    const reference = reluGradient(x, dy);
    const softplusReference = softplusGradient(x, dy);
    const prior = createPrior('test', { mean: 0.5, stddev: 0.7 });
    const [loc, sigma] = [tf.randomNormal([64, 32], 0, 0.1, 'float32', 4), tf.randomUniform([64, 32], 0.01, 0.2, 'float32', 5)];
    const klReference = prior.divergence(loc, sigma).dataSync()[0];
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
    const { losses, tensorsGained } = await fitSmallCnn();
    expect(tensorsGained).toBe(0);
    losses.forEach((loss, i) => expect(Math.abs(loss - referenceLosses[i])).toBeLessThan(1e-5 * referenceLosses[i]));
    tf.dispose([x, dy, reference, fused, softplusReference, fusedSoftplus, loc, sigma, ...(profile.result as tf.Tensor[])]);
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
  });
});
