/**
 * VGG16: the forward pass of the convolutional base, and one training step of the part the
 * HAM10000 model trains (the article retrains block4_conv3 … block5_pool, then a DenseFlipout
 * head), fed with block4_conv2's output as the cached-features pipeline does. Issue 6's goal: the
 * WASM training step at least 10× faster than the CPU backend's.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout } from '../../src/layers';
import { vgg16 } from '../../src/ham10000/vgg16';
import { forwardFlops, trainingFlops } from '../flops';
import type { PreparedWorkload, Workload, WorkloadContext } from '../workload';

const CLASSES = 7;

/** Batch 8 at 224×224 (issue 6); the pure-JS CPU backend takes minutes for that, so it runs batch 1 and says so. */
function sizes({ quick, backend }: WorkloadContext): { batch: number; size: number; note?: string } {
  if (quick) return { batch: 2, size: 64, note: 'quick: 64×64, batch 2' };
  if (backend === 'cpu') return { batch: 1, size: 224, note: 'batch 1: the cpu backend is too slow for batch 8' };
  return { batch: 8, size: 224 };
}

async function forward(context: WorkloadContext): Promise<PreparedWorkload> {
  const { batch, size, note } = sizes(context);
  const { model } = await vgg16({ inputShape: [size, size, 3], seed: context.seed });
  const images = tf.randomUniform([batch, size, size, 3], 0, 255, 'float32', context.seed);
  return {
    params: { batch, size },
    throughput: { items: batch, unit: 'images/s' },
    flops: forwardFlops(model, batch),
    note,
    run: () => model.predict(images) as tf.Tensor,
    dispose: () => {
      model.dispose();
      images.dispose();
    },
  };
}

function conv(name: string, seed: number): tfl.layers.Layer {
  return tfl.layers.conv2d({ name, filters: 512, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) });
}

/** block4_conv3, block4_pool, block5_conv1…3, block5_pool, flatten, DenseFlipout softmax: the trainable top. */
function trainableTop(featureSize: number, seed: number): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.inputLayer({ inputShape: [featureSize, featureSize, 512] }),
      conv('block4_conv3', seed),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'block4_pool' }),
      conv('block5_conv1', seed + 1),
      conv('block5_conv2', seed + 2),
      conv('block5_conv3', seed + 3),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'block5_pool' }),
      tfl.layers.flatten(),
      new DenseFlipout({ units: CLASSES, activation: 'softmax', seed: seed + 4, klWeight: 1 / 10015 }),
    ],
  });
}

function trainStep(context: WorkloadContext): PreparedWorkload {
  const { batch, size, note } = sizes(context);
  const featureSize = size / 8; // block4_conv2 sees the image after three 2×2 poolings
  const model = trainableTop(featureSize, context.seed);
  model.compile({ optimizer: tf.train.adam(1e-4), loss: 'categoricalCrossentropy' });
  const features = tf.tidy(() => tf.relu(tf.randomNormal([batch, featureSize, featureSize, 512], 0, 1, 'float32', context.seed)));
  const labels = tf.tidy(() => tf.oneHot(tf.cast(tf.mod(tf.range(0, batch, 1, 'int32'), CLASSES), 'int32'), CLASSES));
  return {
    params: { batch, size, features: `${featureSize}×${featureSize}×512` },
    throughput: { items: batch, unit: 'images/s' },
    flops: trainingFlops(model, batch),
    note,
    run: async () => void (await model.trainOnBatch(features, labels)),
    dispose: () => {
      model.dispose();
      tf.dispose([features, labels]);
    },
  };
}

const workloads: Workload[] = [
  { name: 'vgg16-forward', description: 'VGG16 convolutional base, forward pass (predict)', setup: forward },
  {
    name: 'vgg16-top-train-step',
    description: 'one training step (Adam) of block4_conv3…block5_pool + DenseFlipout head, on block4_conv2 features',
    setup: trainStep,
  },
];
export default workloads;
