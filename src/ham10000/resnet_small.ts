import * as tfl from '@tensorflow/tfjs-layers';
import { checkOptions, invalidArgument, optionKeys } from '../validation';
import { SeedStream } from '../random';
import type { Backbone } from './backbone';
import { VGG_INPUT_SCALE } from './vgg16';
import { nativeBatchNormalization } from '../backends/native_batch_norm';

/** Options of `resnetSmall`: the input shape, the filters per stage and the seed. */
export interface ResnetSmallOptions {
  /** [height, width, 3]; each side at least 2^stages (one halving in the stem, one per later stage). */
  inputShape: [number, number, number];
  /** Filters of each stage; the first keeps the stem's resolution, each later one halves it. Default [32, 64, 128]. */
  filters?: number[];
  seed?: number;
}

/** Three stages: at 64 px the last feature map is 8×8 (the compact CNN's is 4×4 at 64 px, 6×6 at 48). */
const DEFAULT_STAGE_FILTERS = [32, 64, 128];

/**
 * A small residual network with batch normalisation for training from scratch on a few thousand
 * images on a CPU (He et al. 2016, "Deep residual learning", basic blocks, §3.3 and Fig. 2): a
 * 3×3 stem and 2×2 max pooling, then one basic block per stage (two 3×3 convolutions with batch
 * norm, the identity or a 1×1 strided projection added back, ReLU). Batch norm (Ioffe & Szegedy
 * 2015) lets the 9 convolutions train at a large step size where the plain compact CNN's 4 do not
 * go deeper. Same input as VGG16 (VGG-preprocessed), so nothing else in the pipeline changes.
 * Grad-CAM looks at the last stage's output (`stage{n}_out`), the largest-resolution map that
 * still sees the whole network.
 */
export function resnetSmall(options: ResnetSmallOptions): Backbone {
  checkOptions('resnetSmall', options, optionKeys<ResnetSmallOptions>({ inputShape: true, filters: true, seed: true }));
  const filters = options.filters ?? DEFAULT_STAGE_FILTERS;
  const [height, width, channels] = options.inputShape;
  const minSide = 2 ** filters.length;
  if (channels !== 3 || !(Math.min(height, width) >= minSide)) {
    invalidArgument('resnetSmall', 'inputShape', `[height, width, 3] with sides >= ${minSide}`, options.inputShape, 'Use a larger --image-size.');
  }
  const seeds = new SeedStream(options.seed ?? 0, 'resnet-small');
  const conv = (name: string, count: number, kernelSize: number, strides: number) =>
    tfl.layers.conv2d({
      name,
      filters: count,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: tfl.initializers.heNormal({ seed: seeds.next() }),
    });
  // Trains through TensorFlow's fused batch norm on the native backend (a plain layer elsewhere).
  const bn = (name: string) => nativeBatchNormalization(tfl.layers.batchNormalization({ name, axis: -1 }));
  const relu = (name: string) => tfl.layers.activation({ activation: 'relu', name });
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;

  const input = tfl.input({ shape: options.inputShape, name: 'input' });
  let x = apply(tfl.layers.rescaling({ scale: 1 / VGG_INPUT_SCALE, name: 'rescale' }), input);
  x = apply(relu('stem_relu'), apply(bn('stem_bn'), apply(conv('stem_conv', filters[0], 3, 1), x)));
  x = apply(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'stem_pool' }), x);
  let inChannels = filters[0];
  filters.forEach((count, s) => {
    const stage = `stage${s + 1}`;
    const strides = s === 0 ? 1 : 2;
    let y = apply(relu(`${stage}_relu1`), apply(bn(`${stage}_bn1`), apply(conv(`${stage}_conv1`, count, 3, strides), x)));
    y = apply(bn(`${stage}_bn2`), apply(conv(`${stage}_conv2`, count, 3, 1), y));
    const shortcut = strides === 1 && inChannels === count ? x : apply(bn(`${stage}_proj_bn`), apply(conv(`${stage}_proj`, count, 1, strides), x));
    x = apply(relu(`${stage}_out`), apply(tfl.layers.add({ name: `${stage}_add` }), [y, shortcut]));
    inChannels = count;
  });
  const model = tfl.model({ inputs: input, outputs: x, name: 'resnet_small' });
  return { model, camLayer: `stage${filters.length}_out`, preprocessing: 'caffe', pretrained: false, warnings: [] };
}
