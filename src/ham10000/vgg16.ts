import * as tfl from '@tensorflow/tfjs-layers';
import { SeedStream } from '../random';
import { checkOptions, optionKeys } from '../validation';
import { imagenetWeightSpec } from '../node/keras_applications';
import { BACKBONE_OPTION_KEYS, checkImageShape, initSeeds, kernelInit, withWeights, type Backbone, type BackboneOptions } from './backbone';

/** Options of `vgg16`: the input shape, and the weights to load or the seed to initialise with. */
export type Vgg16Options = BackboneOptions;

/** Keras VGG16's blocks: filters per block and convolutions per block. */
const VGG16_BLOCKS: readonly { filters: number; convs: number }[] = [
  { filters: 64, convs: 2 },
  { filters: 128, convs: 2 },
  { filters: 256, convs: 3 },
  { filters: 512, convs: 3 },
  { filters: 512, convs: 3 },
];

/**
 * VGG16's convolutional base with the Keras layer names (`block1_conv1` … `block5_pool`), so
 * Keras' weight files load by name; input as Keras' 'caffe' preprocessing leaves it (BGR minus the
 * ImageNet means). Keras VGG16 needs at least 32×32 (five 2×2 poolings). Without weights it starts
 * from a seeded Glorot-uniform initialisation (Keras' default) and says so in `warnings`: transfer
 * learning without ImageNet weights is not transfer learning.
 * Reference: Simonyan & Zisserman 2015, "Very Deep Convolutional Networks".
 */
export async function vgg16(options: Vgg16Options): Promise<Backbone> {
  checkOptions('vgg16', options, BACKBONE_OPTION_KEYS);
  const inputShape = checkImageShape('vgg16', options.inputShape, 32);
  const seeds = initSeeds('vgg16', options);
  const layers: tfl.layers.Layer[] = [];
  VGG16_BLOCKS.forEach(({ filters, convs }, b) => {
    for (let c = 1; c <= convs; c++) layers.push(conv(`block${b + 1}_conv${c}`, filters, seeds, 'glorotUniform'));
    layers.push(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }));
  });
  const model = tfl.sequential({ name: 'vgg16', layers: [tfl.layers.inputLayer({ inputShape, name: 'input' }), ...layers] });
  return withWeights({ model, camLayer: 'block5_conv3', preprocessing: 'caffe' }, 'vgg16', options.weights, () => imagenetWeightSpec('vgg16'));
}

/** Options of `compactCnn`: the input shape, the filters per block and the seed. */
export interface CompactCnnOptions {
  /** [height, width, 3]; each side at least 2^blocks, one halving per block. */
  inputShape: [number, number, number];
  /** Filters of each convolution block; each block halves the resolution. Default [32, 64, 128]. */
  filters?: number[];
  seed?: number;
}

/**
 * A small CNN for training from scratch on a CPU at small image sizes: a rescaling of the VGG
 * preprocessed input, blocks of 3×3 convolution + 2×2 max pooling, and a last convolution for
 * Grad-CAM. It takes the same input as VGG16, so the pipeline does not change with the network.
 */
export function compactCnn(options: CompactCnnOptions): Backbone {
  checkOptions('compactCnn', options, optionKeys<CompactCnnOptions>({ inputShape: true, filters: true, seed: true }));
  const filters = options.filters ?? [32, 64, 128];
  const inputShape = checkImageShape('compactCnn', options.inputShape, 2 ** filters.length);
  const seeds = new SeedStream(options.seed ?? 0, 'compact');
  // VGG preprocessing leaves values in about ±150; a fixed scale brings them near ±1 for training from scratch.
  const layers: tfl.layers.Layer[] = [tfl.layers.rescaling({ scale: 1 / VGG_INPUT_SCALE, name: 'rescale' })];
  filters.forEach((count, b) => {
    layers.push(conv(`block${b + 1}_conv1`, count, seeds, 'heUniform'));
    layers.push(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }));
  });
  const camLayer = `block${filters.length + 1}_conv1`;
  layers.push(conv(camLayer, filters[filters.length - 1], seeds, 'heUniform'));
  const model = tfl.sequential({ name: 'compact', layers: [tfl.layers.inputLayer({ inputShape, name: 'input' }), ...layers] });
  return { model, camLayer, preprocessing: 'caffe', pretrained: false, warnings: [] };
}

/** Roughly the largest magnitude of a VGG-preprocessed pixel (255 minus the smallest channel mean). */
export const VGG_INPUT_SCALE = 128;

/**
 * A Keras-style 3×3 same-padded ReLU convolution, initialised from `seeds` by `initializer`, or
 * with zeros when `seeds` is null (weights will be loaded over it).
 */
function conv(name: string, filters: number, seeds: SeedStream | null, initializer: 'glorotUniform' | 'heUniform'): tfl.layers.Layer {
  return tfl.layers.conv2d({
    name,
    filters,
    kernelSize: 3,
    padding: 'same',
    activation: 'relu',
    kernelInitializer: kernelInit(seeds, initializer),
  });
}
