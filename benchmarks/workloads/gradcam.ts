/**
 * Grad-CAM on a VGG16-shaped classifier against one forward pass of the same batch (issue 3's
 * goal: at most 2× a forward pass at the last convolutional layer). The model is the transfer-
 * learning pattern Grad-CAM must handle: the VGG16 base nested as one layer of a Sequential, with a
 * pooling + softmax head, explained at `vgg16/block5_conv3`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { cam, fullGrad, gradCam, guidedBackprop, guidedGradCam, roadScore } from '../../src/explain';
import { vgg16 } from '../../src/ham10000/vgg16';
import type { PreparedWorkload, Workload, WorkloadContext } from '../workload';

const CLASSES = 7;
/** The explained layer: the last convolution of the nested VGG16 base. */
const LAYER = 'vgg16/block5_conv3';

/** Batch 8 at 224×224; the pure-JS CPU backend runs batch 1 and says so. */
function sizes({ quick, backend }: WorkloadContext): { batch: number; size: number; note?: string } {
  if (quick) return { batch: 2, size: 64, note: 'quick: 64×64, batch 2' };
  if (backend === 'cpu') return { batch: 1, size: 224, note: 'batch 1: the cpu backend is too slow for batch 8' };
  return { batch: 8, size: 224 };
}

/**
 * Builds the nested classifier and a seeded batch; `work` says what one timed run does with them
 * and `prepare`, when given, makes an untimed input for it (ROAD's map).
 */
function setupWith(
  work: (model: tfl.LayersModel, images: tf.Tensor4D, prepared: tf.Tensor | null) => tf.Tensor | void,
  prepare?: (model: tfl.LayersModel, images: tf.Tensor4D) => tf.Tensor,
) {
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
    const prepared = prepare ? prepare(model, images) : null;
    return {
      params: { batch, size, layer: `${base.name}/${camLayer}` },
      throughput: { items: batch, unit: 'images/s' },
      note,
      run: () => work(model, images, prepared),
      dispose: () => {
        model.dispose();
        images.dispose();
        prepared?.dispose();
      },
    };
  };
}

const workloads: Workload[] = [
  {
    name: 'gradcam-vgg16',
    description: "Grad-CAM at block5_conv3 of a nested VGG16 classifier, class 'predicted' (one forward + one backward to the layer)",
    setup: setupWith((model, images) => gradCam(model, LAYER, 'predicted', images)),
  },
  {
    name: 'gradcam-vgg16-forward',
    description: 'the baseline of gradcam-vgg16: one forward pass (predict) of the same model and batch',
    setup: setupWith((model, images) => model.predict(images) as tf.Tensor),
  },
  // Issue 19's explanations on the same model and batch, each read as a multiple of gradcam-vgg16-forward.
  explanation('eigencam', 'Eigen-CAM (one forward, no backward; a principal component per image)', (m, x) => cam(m, LAYER, 'predicted', x, { method: 'eigencam' })),
  explanation('eigengradcam', 'Eigen-Grad-CAM (one forward + backward to the layer; a principal component per image)', (m, x) => cam(m, LAYER, 'predicted', x, { method: 'eigengradcam' })),
  explanation('ablationcam', 'Ablation-CAM (one forward per channel and image, 32 per batch)', (m, x) => cam(m, LAYER, 'predicted', x, { method: 'ablationcam' })),
  explanation('eigensmooth', "Grad-CAM with eigenSmooth (a principal component instead of the channel sum)", (m, x) => cam(m, LAYER, 'predicted', x, { eigenSmooth: true })),
  explanation('augsmooth', 'Grad-CAM with augSmooth (8 dihedral views, each a forward + backward)', (m, x) => cam(m, LAYER, 'predicted', x, { augSmooth: true })),
  explanation('fullgrad', 'FullGrad (one forward + backward down to the input, every conv bias probed)', (m, x) => fullGrad(m, 'predicted', x)),
  explanation('guided-backprop', 'guided backpropagation (one forward + backward down to the input)', (m, x) => guidedBackprop(m, 'predicted', x)),
  explanation('guided-gradcam', 'Guided Grad-CAM (Grad-CAM + guided backpropagation)', (m, x) => guidedGradCam(m, LAYER, 'predicted', x)),
  {
    name: 'gradcam-vgg16-road',
    description: 'ROAD of a precomputed Grad-CAM map, 9 percentiles each way (19 forwards + the imputation solves)',
    setup: setupWith(
      (model, images, maps) => void roadScore(model, 'predicted', images, maps as tf.Tensor3D, { seed: 1 }),
      (model, images) => gradCam(model, LAYER, 'predicted', images),
    ),
  },
];

/** A workload `gradcam-vgg16-<name>` timing `work` on the same model and batch as gradcam-vgg16. */
function explanation(name: string, description: string, work: (model: tfl.LayersModel, images: tf.Tensor4D) => tf.Tensor): Workload {
  return { name: `gradcam-vgg16-${name}`, description, setup: setupWith(work) };
}
export default workloads;
