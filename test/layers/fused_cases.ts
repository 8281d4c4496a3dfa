import * as tf from '@tensorflow/tfjs-core';
import { Conv2DFlipout, DenseFlipout, DenseReparameterization, type VariationalLayer } from '../../src';

/** Layers whose training step takes the fused path where a backend has its kernels, and an input shape for each. */
export const FUSED_CASES: [string, () => VariationalLayer, number[]][] = [
  ['DenseFlipout, Normal(0.1, 0.5) prior, rank-3 input', () => new DenseFlipout({ units: 6, seed: 3, klWeight: 0.01, prior: { mean: 0.1, stddev: 0.5 } }), [4, 3, 9]],
  ['DenseReparameterization (one sample), Gaussian bias', () => new DenseReparameterization({ units: 5, seed: 4, biasPosterior: 'normal' }), [7, 9]],
  ['Conv2DFlipout (signs shared over the spatial axes)', () => new Conv2DFlipout({ filters: 3, kernelSize: 3, seed: 5 }), [2, 6, 6, 2]],
];

/** The loss (outputs² + KL) of one training step of a fresh seeded layer on the current backend, and its gradients by weight. */
export function trainingStep(make: () => VariationalLayer, shape: number[]): { loss: number; grads: number[][] } {
  const layer = make();
  const x = tf.randomNormal(shape, 0, 1, 'float32', 9);
  layer.build(x.shape);
  const { value, grads } = tf.variableGrads(() => tf.add(tf.sum(tf.square(layer.apply(x) as tf.Tensor)), layer.klDivergence()) as tf.Scalar);
  const result = { loss: value.dataSync()[0], grads: layer.trainableWeights.map((w) => Array.from(grads[w.name].dataSync())) };
  tf.dispose([x, value, ...Object.values(grads)]);
  layer.weights.forEach((w) => w.dispose());
  return result;
}

/** Expects two training steps to agree to float32 rounding: loss and every gradient, relative to their scale. */
export function expectSameStep(actual: { loss: number; grads: number[][] }, expected: { loss: number; grads: number[][] }, tolerance = 1e-5): void {
  expect(Math.abs(actual.loss - expected.loss)).toBeLessThan(tolerance * Math.abs(expected.loss));
  actual.grads.forEach((grad, i) => {
    const scale = Math.max(1, ...expected.grads[i].map(Math.abs));
    grad.forEach((g, j) => expect(Math.abs(g - expected.grads[i][j])).toBeLessThan(tolerance * scale));
  });
}
