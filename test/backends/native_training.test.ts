import * as tf from '@tensorflow/tfjs-core';
import { RELU_GRAD_KERNEL, registerNativeTrainingKernels } from '../../src/backends/native_training';
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
const tfjsGradient = tf.getGradient(tf.Relu)!;

afterAll(() => tf.registerGradient(tfjsGradient));

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

  const native = loadNative();
  (native ? it : it.skip)('on tfjs-node: the fused gradient equals tfjs\' and a CNN trains to the same loss curve (needs tfjs-node)', async () => {
    await tf.setBackend('tensorflow');
    tf.registerGradient(tfjsGradient); // loading tfjs-node re-registered it anyway
    // tfjs' per-kernel leak check (on under IS_TEST) trips on tfjs-node's own fusedMatMul kernel.
    tf.env().set('IS_TEST', false);
    const x = tf.randomNormal([4, 5, 6], 0, 1, 'float32', 2);
    const dy = tf.randomNormal([4, 5, 6], 0, 1, 'float32', 3);
    const reference = reluGradient(x, dy);
    const { losses: referenceLosses } = await fitSmallCnn();
    expect(registerNativeTrainingKernels()).toBe(true);
    const profile = await tf.profile(() => reluGradient(x, dy));
    expect(profile.kernels.map((k) => k.name)).toContain(RELU_GRAD_KERNEL);
    const fused = reluGradient(x, dy);
    expect(fused.dataSync()).toEqual(reference.dataSync());
    const { losses, tensorsGained } = await fitSmallCnn();
    expect(tensorsGained).toBe(0);
    losses.forEach((loss, i) => expect(Math.abs(loss - referenceLosses[i])).toBeLessThan(1e-5 * referenceLosses[i]));
    tf.dispose([x, dy, reference, fused, profile.result as tf.Tensor]);
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
  });
});
