/**
 * What the issue-19 layers cost: one training step (forward, KL, backward, SGD update) of
 * - DenseVariationalV2 with each posterior family, against DenseFlipout of the same small shape
 *   (small enough for a full covariance: 30 inputs × 30 units + 30 biases = 930 weights);
 * - Conv1D and Conv3D, Flipout and Reparameterization, against the plain tfjs-layers convolution.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  Conv1DFlipout,
  Conv1DReparameterization,
  Conv3DFlipout,
  Conv3DReparameterization,
  DenseFlipout,
  DenseVariationalV2,
} from '../../src/layers';
import type { PreparedWorkload, Workload, WorkloadContext } from '../workload';

/** Builds `layer` on `inputShape` in a model and times `trainOnBatch` on a random batch. */
function trainStep(
  layer: tfl.layers.Layer,
  inputShape: number[],
  batch: number,
  params: PreparedWorkload['params'],
  seed: number,
): PreparedWorkload {
  // Flatten the conv outputs so every workload fits one random target of the output's size.
  const flatten = inputShape.length > 1 ? [tfl.layers.flatten()] : [];
  const model = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape }), layer, ...flatten] });
  model.compile({ optimizer: tf.train.sgd(1e-3), loss: 'meanSquaredError' });
  const x = tf.randomNormal([batch, ...inputShape], 0, 1, 'float32', seed);
  const y = tf.randomNormal([batch, ...(model.outputs[0].shape.slice(1) as number[])], 0, 1, 'float32', seed + 1);
  return {
    params: { batch, input: inputShape.join('×'), ...params },
    throughput: { items: batch, unit: 'rows/s' },
    run: async () => void (await model.trainOnBatch(x, y)),
    dispose: () => {
      model.dispose();
      tf.dispose([x, y]);
    },
  };
}

const DENSE = { batch: 64, inputs: 30, units: 30 };
const denseLayers: Array<[string, () => tfl.layers.Layer]> = [
  ['dense-flipout-small', () => new DenseFlipout({ units: DENSE.units, seed: 1 })],
  ...(['meanField', 'lowRank', 'fullCovariance'] as const).map((kind): [string, () => tfl.layers.Layer] => [
    `dense-variational-v2-${kind}`,
    () => new DenseVariationalV2({ units: DENSE.units, seed: 1, posterior: kind === 'lowRank' ? { kind, rank: 4 } : { kind } }),
  ]),
];
const denseWorkloads: Workload[] = denseLayers.map(([name, make]) => ({
  name: `${name}-train-step`,
  description: `${name} training step (forward + KL, backward, SGD update) on a layer of ${DENSE.inputs * DENSE.units + DENSE.units} weights`,
  setup: ({ quick, seed }: WorkloadContext) => trainStep(make(), [DENSE.inputs], quick ? 8 : DENSE.batch, { units: DENSE.units }, seed),
}));

/** Input shapes (without batch) and sizes of the conv workloads. */
const CONV = {
  1: { inputShape: [128, 8], batch: 32, filters: 16, kernelSize: 5 },
  3: { inputShape: [12, 12, 12, 4], batch: 8, filters: 8, kernelSize: 3 },
} as const;
const convLayers = {
  1: { plain: tfl.layers.conv1d, flipout: (a: object) => new Conv1DFlipout(a as never), reparameterization: (a: object) => new Conv1DReparameterization(a as never) },
  3: { plain: tfl.layers.conv3d, flipout: (a: object) => new Conv3DFlipout(a as never), reparameterization: (a: object) => new Conv3DReparameterization(a as never) },
};
const convWorkloads: Workload[] = ([1, 3] as const).flatMap((rank) =>
  (['plain', 'flipout', 'reparameterization'] as const).map((kind) => ({
    name: `conv${rank}d${kind === 'plain' ? '' : `-${kind}`}-train-step`,
    description: `${rank}-D convolution (${kind}) training step`,
    setup: ({ quick, seed }: WorkloadContext) => {
      const { inputShape, batch, filters, kernelSize } = CONV[rank];
      const args = { filters, kernelSize, padding: 'same', seed };
      return trainStep(convLayers[rank][kind](args as never), [...inputShape], quick ? 2 : batch, { filters, kernelSize }, seed);
    },
  })),
);

export default [...denseWorkloads, ...convWorkloads];
