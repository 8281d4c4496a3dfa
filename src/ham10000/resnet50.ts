import * as tfl from '@tensorflow/tfjs-layers';
import { checkOptions } from '../validation';
import type { SeedStream } from '../random';
import { imagenetWeightSpec } from '../node/keras_applications';
import { applyLayer as apply, BACKBONE_OPTION_KEYS, batchNorm, checkImageShape, initSeeds, kernelInit, withWeights, type Backbone, type BackboneOptions } from './backbone';

/** Options of `resnet50`: those of every base. */
export type ResNet50Options = BackboneOptions;

/** Keras' ResNet50 stages: bottleneck filters, blocks, and the first block's stride. */
const STAGES: readonly { name: string; filters: number; blocks: number; stride: number }[] = [
  { name: 'conv2', filters: 64, blocks: 3, stride: 1 },
  { name: 'conv3', filters: 128, blocks: 4, stride: 2 },
  { name: 'conv4', filters: 256, blocks: 6, stride: 2 },
  { name: 'conv5', filters: 512, blocks: 3, stride: 2 },
];
/** Keras' ResNet batch norm epsilon (1.001e-5, not the default 1e-3). */
const BN_EPSILON = 1.001e-5;
/** A bottleneck block's output has 4× its filters (He et al. 2016, table 1). */
const EXPANSION = 4;

/**
 * ResNet50's convolutional base (v1), layer for layer and name for name as Keras builds it
 * (keras/src/applications/resnet.py: `conv1_conv`, `conv2_block1_0_conv` … `conv5_block3_out`),
 * so Keras' weight files load by name. Input as Keras' 'caffe' preprocessing leaves it.
 * Reference: He et al. 2016, "Deep Residual Learning for Image Recognition".
 */
export async function resnet50(options: ResNet50Options): Promise<Backbone> {
  checkOptions('resnet50', options, BACKBONE_OPTION_KEYS);
  const inputShape = checkImageShape('resnet50', options.inputShape, 32);
  const seeds = initSeeds('resnet50', options);
  const input = tfl.input({ shape: inputShape, name: 'input' });
  let x = apply(tfl.layers.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'conv1_pad' }), input);
  x = apply(tfl.layers.conv2d({ filters: 64, kernelSize: 7, strides: 2, kernelInitializer: kernelInit(seeds), name: 'conv1_conv' }), x);
  x = apply(batchNorm({ epsilon: BN_EPSILON, name: 'conv1_bn' }), x);
  x = apply(tfl.layers.activation({ activation: 'relu', name: 'conv1_relu' }), x);
  x = apply(tfl.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'pool1_pad' }), x);
  x = apply(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }), x);
  for (const stage of STAGES) {
    for (let b = 1; b <= stage.blocks; b++) {
      x = bottleneck(x, { name: `${stage.name}_block${b}`, filters: stage.filters, stride: b === 1 ? stage.stride : 1, projection: b === 1, seeds });
    }
  }
  const model = tfl.model({ inputs: input, outputs: x, name: 'resnet50' });
  return withWeights({ model, camLayer: 'conv5_block3_out', preprocessing: 'caffe' }, 'resnet50', options.weights, () => imagenetWeightSpec('resnet50'));
}

interface BlockSpec {
  name: string;
  filters: number;
  stride: number;
  /** A 1×1 convolution on the shortcut (first block of a stage), else the identity. */
  projection: boolean;
  seeds: SeedStream | null;
}

/** Keras' `residual_block_v1`: 1×1, 3×3, 1×1 convolutions with batch norm, added to the shortcut, then ReLU. */
function bottleneck(inputs: tfl.SymbolicTensor, { name, filters, stride, projection, seeds }: BlockSpec): tfl.SymbolicTensor {
  const conv = (x: tfl.SymbolicTensor, part: string, count: number, kernelSize: number, strides = 1) =>
    apply(batchNorm({ epsilon: BN_EPSILON, name: `${name}_${part}_bn` }), apply(tfl.layers.conv2d({ filters: count, kernelSize, strides, padding: kernelSize === 1 ? 'valid' : 'same', kernelInitializer: kernelInit(seeds), name: `${name}_${part}_conv` }), x));
  const shortcut = projection ? conv(inputs, '0', EXPANSION * filters, 1, stride) : inputs;
  let x = apply(tfl.layers.activation({ activation: 'relu', name: `${name}_1_relu` }), conv(inputs, '1', filters, 1, stride));
  x = apply(tfl.layers.activation({ activation: 'relu', name: `${name}_2_relu` }), conv(x, '2', filters, 3));
  x = conv(x, '3', EXPANSION * filters, 1);
  const sum = tfl.layers.add({ name: `${name}_add` }).apply([shortcut, x]) as tfl.SymbolicTensor;
  return apply(tfl.layers.activation({ activation: 'relu', name: `${name}_out` }), sum);
}
