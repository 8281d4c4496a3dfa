/**
 * DenseFlipout against a Dense layer of the same shape: forward, and one training step (forward,
 * KL, backward, SGD update). Issue 2's goal: a Flipout training step at most 3× a Dense step.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout } from '../../src/layers';
import { trainingFlops } from '../flops';
import type { PreparedWorkload, Workload, WorkloadContext } from '../workload';

type Kind = 'dense' | 'dense-flipout';

function sizes(quick: boolean) {
  return quick ? { batch: 16, inputs: 128, units: 64 } : { batch: 128, inputs: 1024, units: 512 };
}

function layer(kind: Kind, units: number, seed: number): tfl.layers.Layer {
  return kind === 'dense'
    ? tfl.layers.dense({ units, kernelInitializer: tfl.initializers.glorotUniform({ seed }) })
    : new DenseFlipout({ units, seed, klWeight: 1 / 1000 });
}

function setup(kind: Kind, train: boolean, { quick, seed }: WorkloadContext): PreparedWorkload {
  const { batch, inputs, units } = sizes(quick);
  const model = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [inputs] }), layer(kind, units, seed)] });
  model.compile({ optimizer: tf.train.sgd(1e-3), loss: 'meanSquaredError' });
  const x = tf.randomNormal([batch, inputs], 0, 1, 'float32', seed);
  const y = tf.randomNormal([batch, units], 0, 1, 'float32', seed + 1);
  return {
    params: { batch, inputs, units },
    throughput: { items: batch, unit: 'rows/s' },
    // GFLOP/s of the plain Dense step only: Flipout's second product is overhead, not useful work.
    ...(kind === 'dense' && train ? { flops: trainingFlops(model, batch) } : {}),
    run: train ? async () => void (await model.trainOnBatch(x, y)) : () => model.apply(x) as tf.Tensor,
    dispose: () => {
      model.dispose();
      tf.dispose([x, y]);
    },
  };
}

const workloads: Workload[] = (['dense', 'dense-flipout'] as const).flatMap((kind) => [
  { name: `${kind}-forward`, description: `${kind} layer forward pass`, setup: (c: WorkloadContext) => setup(kind, false, c) },
  {
    name: `${kind}-train-step`,
    description: `${kind} layer training step (forward${kind === 'dense' ? '' : ' + KL'}, backward, SGD update)`,
    setup: (c: WorkloadContext) => setup(kind, true, c),
  },
]);
export default workloads;
