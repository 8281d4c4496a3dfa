/**
 * One training step of the HAM10000 pipeline's from-scratch recipe: the compact CNN at 48 px,
 * average pooling and a DenseFlipout softmax head, batch 32, Adam, `model.trainOnBatch` (the
 * Python benchmark builds the same network in tf_keras + TFP). Issue 16: within 1.1× of Keras.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout } from '../../src/layers';
import { compactCnn } from '../../src/ham10000/vgg16';
import { trainingFlops } from '../flops';
import type { Workload } from '../workload';

const CLASSES = 7;
const HAM10000_EXAMPLES = 10015;

const workload: Workload = {
  name: 'compact-train-step',
  description: 'one training step (Adam) of the compact CNN + DenseFlipout head, 48 px, batch 32',
  setup({ quick, seed }) {
    const [batch, size] = quick ? [4, 16] : [32, 48];
    const { model: base } = compactCnn({ inputShape: [size, size, 3], seed });
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(base.outputs[0]);
    const head = new DenseFlipout({ units: CLASSES, activation: 'softmax', klWeight: 1 / HAM10000_EXAMPLES, seed: seed + 1 });
    const model = tfl.model({ inputs: base.inputs, outputs: head.apply(pooled) as tfl.SymbolicTensor });
    model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
    const images = tf.randomUniform([batch, size, size, 3], -128, 127, 'float32', seed);
    const labels = tf.tidy(() => tf.oneHot(tf.cast(tf.mod(tf.range(0, batch, 1, 'int32'), CLASSES), 'int32'), CLASSES));
    return {
      params: { batch, size },
      throughput: { items: batch, unit: 'images/s' },
      flops: trainingFlops(model, batch),
      run: async () => void (await model.trainOnBatch(images, labels)),
      dispose: () => {
        model.dispose();
        tf.dispose([images, labels]);
      },
    };
  },
};
export default workload;
