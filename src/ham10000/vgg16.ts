import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DataError, ShapeError } from '../errors';
import { describe, invalidArgument } from '../validation';
import { SeedStream } from '../random';
import { readModelArtifacts } from '../node/model_io';

/**
 * A convolutional base: the layers from the image to the last feature map, before any head.
 * `pretrained` is false when the weights are random; `warnings` says so in words for the CLI to
 * print (the library itself prints nothing).
 */
export interface Backbone {
  /** Input → last feature map, as a Sequential model with the Keras layer names. */
  model: tfl.Sequential;
  /** The last convolution: where Grad-CAM looks. */
  camLayer: string;
  pretrained: boolean;
  warnings: string[];
}

/** Options of `vgg16`: the input shape, and the weights to load or the seed to initialise with. */
export interface Vgg16Options {
  /** [height, width, 3]; Keras VGG16 needs at least 32×32 (five 2×2 poolings). */
  inputShape: [number, number, number];
  /** Only the convolutional base exists here: the classifier head is the Bayesian one. */
  includeTop?: false;
  /** Folder (or model.json) of a tfjs layers-format model whose weights load by layer name, e.g. Keras VGG16 converted with tensorflowjs_converter. */
  weights?: string;
  /** Seed of the random initialisation used when there are no weights. */
  seed?: number;
}

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
 * weights converted from Keras load by name. Without weights it starts from a seeded Glorot-uniform
 * initialisation (Keras' default) and says so in `warnings`: transfer learning without ImageNet weights is not
 * transfer learning. Reference: Simonyan & Zisserman 2015, "Very Deep Convolutional Networks".
 */
export async function vgg16(options: Vgg16Options): Promise<Backbone> {
  const inputShape = checkImageShape('vgg16', options.inputShape, 32);
  if (options.includeTop !== undefined && options.includeTop !== false) {
    invalidArgument('vgg16', 'includeTop', 'false (the head is the Bayesian classifier of buildClassifier)', options.includeTop);
  }
  // With weights to load, a random initialisation (14.7 M draws, seconds on the cpu backend) is wasted work.
  const seeds = options.weights === undefined ? new SeedStream(options.seed ?? 0, 'vgg16') : null;
  const layers: tfl.layers.Layer[] = [];
  VGG16_BLOCKS.forEach(({ filters, convs }, b) => {
    for (let c = 1; c <= convs; c++) layers.push(conv(`block${b + 1}_conv${c}`, filters, seeds, 'glorotUniform'));
    layers.push(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }));
  });
  const model = tfl.sequential({ name: 'vgg16', layers: [tfl.layers.inputLayer({ inputShape, name: 'input' }), ...layers] });
  const backbone: Backbone = { model, camLayer: 'block5_conv3', pretrained: false, warnings: [] };
  if (options.weights === undefined) {
    backbone.warnings.push(
      'vgg16: NO PRETRAINED WEIGHTS: the VGG16 base starts from random initialisation, so this is training from scratch, ' +
        'not transfer learning. Give --weights DIR (Keras VGG16 converted with tensorflowjs_converter to a tfjs layers model).',
    );
    return backbone;
  }
  loadWeightsByName(model.layers, options.weights);
  backbone.pretrained = true;
  return backbone;
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
  return { model, camLayer, pretrained: false, warnings: [] };
}

/** Roughly the largest magnitude of a VGG-preprocessed pixel (255 minus the smallest channel mean). */
const VGG_INPUT_SCALE = 128;

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
    kernelInitializer: seeds ? tfl.initializers[initializer]({ seed: seeds.next() }) : tfl.initializers.zeros(),
  });
}

function checkImageShape(who: string, shape: unknown, minSide: number): [number, number, number] {
  const ok =
    Array.isArray(shape) &&
    shape.length === 3 &&
    shape[2] === 3 &&
    shape.slice(0, 2).every((side) => Number.isInteger(side) && side >= minSide);
  if (!ok) {
    invalidArgument(who, 'inputShape', `[height, width, 3] with sides >= ${minSide}`, shape, 'Use a larger --image-size.');
  }
  return shape as [number, number, number];
}

/**
 * Copies weights into `layers` by name (`block1_conv1/kernel`), from a tfjs layers-format model.
 * Names match on the last two path segments, so a base saved inside a bigger model still loads.
 * Every weight of every named layer must be found with the right shape: a half-loaded base
 * would be silently wrong.
 */
export function loadWeightsByName(layers: tfl.layers.Layer[], location: string): void {
  const artifacts = readModelArtifacts(location);
  const named = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs ?? []);
  try {
    const byShortName = new Map(Object.entries(named).map(([name, tensor]) => [shortName(name), tensor]));
    const missing: string[] = [];
    for (const layer of layers) {
      if (layer.weights.length === 0) continue;
      const values = layer.weights.map((weight) => {
        const value = byShortName.get(shortName(weight.originalName));
        if (!value) missing.push(shortName(weight.originalName));
        else if (!tf.util.arraysEqual(value.shape, weight.shape as number[])) {
          throw new ShapeError(
            `loadWeightsByName: weight '${shortName(weight.originalName)}' in ${location} must have shape ${describe(weight.shape)}; ` +
              `got ${describe(value.shape)}. Use weights of the same architecture (Keras VGG16, include_top=False).`,
          );
        }
        return value;
      });
      if (values.every((value) => value !== undefined)) layer.setWeights(values as tf.Tensor[]);
    }
    if (missing.length > 0) {
      throw new DataError(
        `loadWeightsByName: ${location} must hold every weight of the network by name; missing ${describe(missing.slice(0, 6))}` +
          `${missing.length > 6 ? ` and ${missing.length - 6} more` : ''}. Convert Keras VGG16 (include_top=False) with tensorflowjs_converter.`,
      );
    }
  } finally {
    Object.values(named).forEach((tensor) => tensor.dispose());
  }
}

/** `vgg16/block1_conv1/kernel_1` → `block1_conv1/kernel`: the layer and weight, without scopes or uniqueness suffixes. */
function shortName(name: string): string {
  const parts = name.split('/');
  return parts.slice(-2).join('/').replace(/_\d+$/, '').replace(/:\d+$/, '');
}
