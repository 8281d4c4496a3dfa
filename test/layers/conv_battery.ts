import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ConvVariational, ConvVariationalArgs } from '../../src';
import { maxAbsDiff } from '../helpers';

/** What the conv geometry tests need to know of one variational convolution class, of any rank. */
export interface ConvSpec {
  className: string;
  create: (args: ConvVariationalArgs) => ConvVariational;
  /** The plain tfjs-layers convolution of the same rank (tf.layers.conv1d, conv2d, conv3d). */
  plain: (args: ConvVariationalArgs) => tfl.layers.Layer;
  /** Input shape without the batch axis, for the comparisons with the plain layer. */
  inputShape: number[];
  /** Geometries compared with the plain layer in 'mean' mode. */
  geometries: Array<Partial<ConvVariationalArgs>>;
}

/** Geometry checks shared by the conv classes of every rank, independent of the estimator. */
export function runConvGeometryTests(spec: ConvSpec): void {
  const spatial = spec.inputShape.length - 1;

  describe(`${spec.className} geometry`, () => {
    it.each(spec.geometries.map((g) => [g]))(`in mean mode matches the plain tfjs convolution with the same kernel and %j`, (geometry) => {
      const args = { filters: 3, kernelSize: 2, ...geometry } as ConvVariationalArgs;
      const variational = spec.create({ ...args, mode: 'mean' });
      const plain = spec.plain(args);
      const x = tf.randomNormal([2, ...spec.inputShape], 0, 1, 'float32', 1);
      const expected = plain.apply(x) as tf.Tensor;
      variational.build(x.shape);
      const [kernel, bias] = plain.getWeights();
      const [, rho] = variational.getWeights();
      variational.setWeights([kernel, rho, bias]);
      const y = variational.apply(x) as tf.Tensor;
      expect(y.shape).toEqual(expected.shape);
      expect(variational.computeOutputShape([null, ...spec.inputShape])).toEqual([null, ...expected.shape.slice(1)]);
      expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
      tf.dispose([x, expected, y]);
    });

    it('trains inside a small model with model.fit, its KL in the loss', async () => {
      const inputShape = [...new Array<number>(spatial).fill(4), 1];
      const model = tfl.sequential({
        layers: [
          spec.create({ filters: 3, kernelSize: 2, activation: 'relu', inputShape, klWeight: 1 / 16, seed: 2 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 2, activation: 'softmax' }),
        ],
      });
      model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
      const x = tf.randomNormal([16, ...inputShape], 0, 1, 'float32', 3);
      const labels = tf.cast(tf.greater(tf.mean(x, inputShape.map((_, axis) => axis + 1)), 0), 'int32');
      const y = tf.oneHot(labels, 2);
      expect(model.calculateLosses()).toHaveLength(1);
      const history = await model.fit(x, y, { epochs: 10, batchSize: 16, verbose: 0, shuffle: false });
      const losses = history.history.loss as number[];
      expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
      tf.dispose([x, labels, y]);
    });
  });
}

/**
 * Flipout's signs are per example and channel, tiled over space: with a 1-wide kernel every
 * position of a constant input sees the same values, so any per-position sign would show up as
 * spatial variation of the output; and two examples must differ.
 */
export function flipsSignsPerExampleAndChannel(spec: Pick<ConvSpec, 'className' | 'create'>, spatialShape: number[]): void {
  it(`${spec.className} flips signs per example and channel, tiled over space: a constant input gives a constant perturbation`, () => {
    const layer = spec.create({ filters: 2, kernelSize: 1, seed: 5 });
    const x = tf.ones([3, ...spatialShape, 2]);
    const y = layer.apply(x) as tf.Tensor;
    const first = tf.slice(y, new Array<number>(y.rank).fill(0), [3, ...spatialShape.map(() => 1), 2]);
    expect(maxAbsDiff(y, tf.tile(first, [1, ...spatialShape, 1]))).toBeLessThan(1e-6);
    const examples = tf.unstack(first);
    expect(maxAbsDiff(examples[0], examples[1])).toBeGreaterThan(0);
    tf.dispose([x, y, first, ...examples]);
  });
}

/** Reparameterization shares one kernel sample across the batch: identical examples give identical outputs. */
export function sharesOneSampleAcrossTheBatch(spec: Pick<ConvSpec, 'className' | 'create'>, spatialShape: number[]): void {
  it(`${spec.className} shares one kernel sample across the batch: identical examples give identical outputs`, () => {
    const layer = spec.create({ filters: 2, kernelSize: 2, padding: 'same', seed: 7 });
    const one = tf.randomNormal([1, ...spatialShape, 2], 0, 1, 'float32', 8);
    const x = tf.tile(one, [3, ...spatialShape.map(() => 1), 1]);
    const y = layer.apply(x) as tf.Tensor;
    const [first, ...rest] = tf.unstack(y);
    rest.forEach((other) => expect(maxAbsDiff(other, first)).toBe(0));
    tf.dispose([one, x, y, first, ...rest]);
  });
}
