/**
 * Grad-CAM on a VGG16-shaped classifier against one forward pass of the same batch (issue 3's
 * goal: at most 2× a forward pass at the last convolutional layer). The model is the transfer-
 * learning pattern Grad-CAM must handle: the VGG16 base nested as one layer of a Sequential, with a
 * pooling + softmax head, explained at `vgg16/block5_conv3`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { gradCam } from '../../src/explain';
import { vgg16 } from '../../src/ham10000/vgg16';
import type { PreparedWorkload, Workload, WorkloadContext } from '../workload';

const CLASSES = 7;

/** Batch 8 at 224×224; the pure-JS CPU backend runs batch 1 and says so. */
function sizes({ quick, backend }: WorkloadContext): { batch: number; size: number; note?: string } {
  if (quick) return { batch: 2, size: 64, note: 'quick: 64×64, batch 2' };
  if (backend === 'cpu') return { batch: 1, size: 224, note: 'batch 1: the cpu backend is too slow for batch 8' };
  return { batch: 8, size: 224 };
}

/** Builds the nested classifier and a seeded batch; `work` says what one timed run does with them. */
function setupWith(work: (model: tfl.LayersModel, images: tf.Tensor4D) => tf.Tensor) {
  return async (context: WorkloadContext): Promise<PreparedWorkload> => {
    const { batch, size, note } = sizes(context);
    const { model: base, camLayer } = await vgg16({ inputShape: [size, size, 3], seed: context.seed });
    const model = tfl.sequential({
      layers: [
        base,
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: context.seed }) }),
      ],
    });
    const images = tf.randomUniform([batch, size, size, 3], 0, 255, 'float32', context.seed) as tf.Tensor4D;
    return {
      params: { batch, size, layer: `${base.name}/${camLayer}` },
      throughput: { items: batch, unit: 'images/s' },
      note,
      run: () => work(model, images),
      dispose: () => {
        model.dispose();
        images.dispose();
      },
    };
  };
}

const workloads: Workload[] = [
  {
    name: 'gradcam-vgg16',
    description: "Grad-CAM at block5_conv3 of a nested VGG16 classifier, class 'predicted' (one forward + one backward to the layer)",
    setup: setupWith((model, images) => gradCam(model, 'vgg16/block5_conv3', 'predicted', images)),
  },
  {
    name: 'gradcam-vgg16-forward',
    description: 'the baseline of gradcam-vgg16: one forward pass (predict) of the same model and batch',
    setup: setupWith((model, images) => model.predict(images) as tf.Tensor),
  },
];
export default workloads;
