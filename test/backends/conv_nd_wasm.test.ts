import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../src/backends/wasm_training';
import { Conv1DFlipout, Conv3DFlipout, type VariationalLayer } from '../../src';

/**
 * Conv1D layers train on WASM: a Conv1D runs as a Conv2D, whose filter gradient
 * `registerWasmTrainingKernels()` (tfjs-trust/wasm-training) registers. Same seed, same weights: the same gradients as on cpu.
 * Conv3D layers predict on WASM, but tfjs-backend-wasm 4.22's Conv3D gradient kernels are wrong,
 * so asking for a gradient there throws (the first tests here show they are wrong).
 */
async function gradients(backend: 'cpu' | 'wasm', make: () => VariationalLayer, inputShape: number[]): Promise<number[][]> {
  await tf.setBackend(backend);
  const layer = make();
  const x = tf.randomNormal(inputShape, 0, 1, 'float32', 1);
  layer.build(x.shape);
  const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  // The convolution's gradients only: the KL's path does not depend on the rank (and the Normal
  // prior's customGrad trips tfjs' IS_TEST leak check on wasm, whose clones of saved tensors are new data ids).
  const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)), variables);
  const result = variables.map((v) => Array.from(grads[v.name].dataSync()));
  tf.dispose([x, value, ...Object.values(grads)]);
  layer.weights.forEach((weight) => weight.dispose());
  return result;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmTrainingKernels();
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

/** max |actual − expected| relative to max |expected|, over each pair of arrays. */
function relativeErrors(actual: number[][], expected: number[][]): number[] {
  return actual.map((values, i) => {
    const scale = Math.max(...expected[i].map(Math.abs));
    return Math.max(...values.map((v, j) => Math.abs(v - expected[i][j]))) / scale;
  });
}

/** The input and filter gradients of sum(conv3d(x, W) ⊙ weights), by the backend's own kernels. */
async function conv3dGradients(backend: 'cpu' | 'wasm', strides: number): Promise<number[][]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.randomNormal([1, 4, 5, 4, 2], 0, 1, 'float32', 1) as tf.Tensor5D;
    const filter = tf.randomNormal([2, 2, 2, 2, 3], 0, 1, 'float32', 2) as tf.Tensor5D;
    const loss = (input: tf.Tensor, kernel: tf.Tensor) => {
      const y = tf.conv3d(input as tf.Tensor5D, kernel as tf.Tensor5D, strides, 'valid');
      return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, 'float32', 3)));
    };
    return tf.grads(loss)([x, filter]).map((g) => Array.from(g.dataSync()));
  });
}

describe('tfjs-backend-wasm 4.22 Conv3D gradients (why Conv3D layers refuse to train on wasm)', () => {
  it.each([1, 2])('with strides %i differ from the cpu backend', async (strides) => {
    const expected = await conv3dGradients('cpu', strides);
    const [inputError, filterError] = relativeErrors(await conv3dGradients('wasm', strides), expected);
    // If a tfjs upgrade fixes them, this fails: then drop guardWasmConv3D in conv_variational.ts.
    expect(Math.max(inputError, filterError)).toBeGreaterThan(1e-2);
  });
});

describe('Conv1DFlipout on wasm', () => {
  it('has the gradients of the cpu backend, for every trainable weight', async () => {
    const make = () => new Conv1DFlipout({ filters: 3, kernelSize: 3, strides: 2, seed: 4 });
    const expected = await gradients('cpu', make, [2, 9, 2]);
    const actual = await gradients('wasm', make, [2, 9, 2]);
    expect(actual).toHaveLength(expected.length);
    relativeErrors(actual, expected).forEach((error) => expect(error).toBeLessThan(1e-4));
  });
});

describe('Conv3DFlipout on wasm', () => {
  const make = () => new Conv3DFlipout({ filters: 2, kernelSize: 2, strides: [1, 2, 1], padding: 'same', seed: 4, name: 'volume' });

  it('predicts as on cpu', async () => {
    const outputs = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await tf.setBackend(backend);
      const layer = make();
      const x = tf.randomNormal([2, 3, 4, 3, 2], 0, 1, 'float32', 1);
      const y = layer.apply(x) as tf.Tensor;
      outputs.push([Array.from(y.dataSync())]);
      tf.dispose([x, y]);
      layer.weights.forEach((weight) => weight.dispose());
    }
    expect(relativeErrors(outputs[1], outputs[0])[0]).toBeLessThan(1e-5);
  });

  it('refuses to compute gradients, naming the layer, the backend and the fix, without leaks', async () => {
    await tf.setBackend('wasm');
    const layer = make();
    const x = tf.randomNormal([2, 3, 4, 3, 2], 0, 1, 'float32', 1);
    layer.build(x.shape);
    const before = tf.memory().numTensors;
    const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    expect(() => tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor), variables)).toThrow(
      /^Conv3DFlipout 'volume': cannot train on the wasm backend: tfjs-backend-wasm 4\.22's Conv3D gradient kernels .* Train on 'cpu' or 'webgl'/,
    );
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    layer.weights.forEach((weight) => weight.dispose());
  });
});
