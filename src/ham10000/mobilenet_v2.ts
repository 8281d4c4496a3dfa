import * as tfl from '@tensorflow/tfjs-layers';
import { checkNumber, checkOptions } from '../validation';
import type { SeedStream } from '../random';
import { imagenetWeightSpec } from '../node/keras_applications';
import { applyLayer as apply, BACKBONE_OPTION_KEYS, batchNorm, checkImageShape, initSeeds, kernelInit, withWeights, type Backbone, type BackboneOptions } from './backbone';

/** Options of `mobilenetV2`: those of every base, and the width multiplier. */
export interface MobileNetV2Options extends BackboneOptions {
  /** Width multiplier α: every layer's filters × α (rounded to multiples of 8). Default 1; Keras publishes ImageNet weights for 0.35, 0.5, 0.75, 1, 1.3, 1.4. */
  alpha?: number;
}

/** The inverted residual blocks after the stem: output filters, stride and expansion, as Keras lists them. */
const BLOCKS: readonly { filters: number; stride: number; expansion: number }[] = [
  { filters: 16, stride: 1, expansion: 1 },
  // [filters, blocks, stride of the first block] of each later stage.
  ...([[24, 2, 2], [32, 3, 2], [64, 4, 2], [96, 3, 1], [160, 3, 2], [320, 1, 1]] as const).flatMap(([filters, blocks, stride]) =>
    Array.from({ length: blocks }, (_, i) => ({ filters, stride: i === 0 ? stride : 1, expansion: 6 })),
  ),
];
/** The batch norm settings of Keras' MobileNetV2. */
const BN = { epsilon: 1e-3, momentum: 0.999 } as const;
/** MobileNetV2's bounded activation, ReLU6 (Sandler et al. 2018, sec. 3.2). */
const RELU_MAX = 6;
/** Filters are rounded to multiples of this, as Keras' `_make_divisible`. */
const DIVISOR = 8;
/** The last 1×1 convolution's filters, widened only for α > 1 (Keras' rule). */
const LAST_FILTERS = 1280;

/**
 * MobileNetV2's convolutional base, layer for layer and name for name as Keras builds it
 * (keras/src/applications/mobilenet_v2.py: `Conv1`, `block_1_expand` … `Conv_1_bn`, `out_relu`),
 * so Keras' weight files load by name. About 0.3 G multiply-adds at 224 px against VGG16's 15.5 G:
 * the base a browser can run. Input in [-1, 1] (Keras' 'tf' preprocessing).
 * Reference: Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks".
 */
export async function mobilenetV2(options: MobileNetV2Options): Promise<Backbone> {
  checkOptions('mobilenetV2', options, [...BACKBONE_OPTION_KEYS, 'alpha']);
  const inputShape = checkImageShape('mobilenetV2', options.inputShape, 32);
  const alpha = checkNumber('mobilenetV2', 'alpha', options.alpha ?? 1, { min: 0, exclusiveMin: true });
  const seeds = initSeeds('mobilenetV2', options);
  const input = tfl.input({ shape: inputShape, name: 'input' });
  let x = apply(tfl.layers.conv2d({ filters: makeDivisible(32 * alpha), kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: kernelInit(seeds), name: 'Conv1' }), input);
  x = apply(batchNorm({ ...BN, name: 'bn_Conv1' }), x);
  x = apply(tfl.layers.reLU({ maxValue: RELU_MAX, name: 'Conv1_relu' }), x);
  BLOCKS.forEach((block, id) => (x = invertedResidual(x, { ...block, alpha, id, seeds })));
  const last = alpha > 1 ? makeDivisible(LAST_FILTERS * alpha) : LAST_FILTERS;
  x = apply(tfl.layers.conv2d({ filters: last, kernelSize: 1, useBias: false, kernelInitializer: kernelInit(seeds), name: 'Conv_1' }), x);
  x = apply(batchNorm({ ...BN, name: 'Conv_1_bn' }), x);
  x = apply(tfl.layers.reLU({ maxValue: RELU_MAX, name: 'out_relu' }), x);
  const model = tfl.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha.toFixed(2)}_${inputShape[0]}` });
  return withWeights({ model, camLayer: 'out_relu', preprocessing: 'tf' }, 'mobilenetV2', options.weights, () =>
    imagenetWeightSpec('mobilenetv2', { alpha, imageSize: inputShape[0] }),
  );
}

interface BlockSpec {
  filters: number;
  stride: number;
  expansion: number;
  alpha: number;
  id: number;
  seeds: SeedStream | null;
}

/** Keras' `_inverted_res_block`: 1×1 expansion (not in block 0), 3×3 depthwise, linear 1×1 projection, and a residual sum when shapes allow. */
function invertedResidual(inputs: tfl.SymbolicTensor, { filters, stride, expansion, alpha, id, seeds }: BlockSpec): tfl.SymbolicTensor {
  const inChannels = inputs.shape[3] as number;
  const pointwise = makeDivisible(Math.trunc(filters * alpha));
  const prefix = id === 0 ? 'expanded_conv_' : `block_${id}_`;
  let x = inputs;
  if (id > 0) {
    x = apply(tfl.layers.conv2d({ filters: expansion * inChannels, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: kernelInit(seeds), name: `${prefix}expand` }), x);
    x = apply(batchNorm({ ...BN, name: `${prefix}expand_BN` }), x);
    x = apply(tfl.layers.reLU({ maxValue: RELU_MAX, name: `${prefix}expand_relu` }), x);
  }
  if (stride === 2) x = apply(tfl.layers.zeroPadding2d({ padding: correctPad(x), name: `${prefix}pad` }), x);
  x = apply(
    tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, useBias: false, padding: stride === 1 ? 'same' : 'valid', depthwiseInitializer: kernelInit(seeds), name: `${prefix}depthwise` }),
    x,
  );
  x = apply(batchNorm({ ...BN, name: `${prefix}depthwise_BN` }), x);
  x = apply(tfl.layers.reLU({ maxValue: RELU_MAX, name: `${prefix}depthwise_relu` }), x);
  x = apply(tfl.layers.conv2d({ filters: pointwise, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: kernelInit(seeds), name: `${prefix}project` }), x);
  x = apply(batchNorm({ ...BN, name: `${prefix}project_BN` }), x);
  return inChannels === pointwise && stride === 1 ? (tfl.layers.add({ name: `${prefix}add` }).apply([inputs, x]) as tfl.SymbolicTensor) : x;
}

/** Keras' `_make_divisible`: the nearest multiple of 8, at least 8, and never 10 % below `value`. */
function makeDivisible(value: number): number {
  const rounded = Math.max(DIVISOR, Math.floor(Math.trunc(value + DIVISOR / 2) / DIVISOR) * DIVISOR);
  return rounded < 0.9 * value ? rounded + DIVISOR : rounded;
}

/** Keras' `imagenet_utils.correct_pad` for a 3×3 stride-2 convolution: one pixel of zeros, one less at the top/left of an even side. */
function correctPad(x: tfl.SymbolicTensor): [[number, number], [number, number]] {
  const [height, width] = [x.shape[1] as number, x.shape[2] as number];
  return [
    [height % 2, 1],
    [width % 2, 1],
  ];
}
