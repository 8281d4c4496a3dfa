import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError } from '../errors';
import { checkNumber, checkOneOf, describe, invalidArgument } from '../validation';
import type { SeedStream } from '../random';
import type { SamplingMode } from './sampling';
import { singleShape, VariationalLayer, type VariationalLayerArgs } from './variational';

/** A size per spatial axis (height, width), or one number for both. */
export type SpatialPair = number | [number, number];

/** Arguments of a variational 2-D convolution: Keras Conv2D's geometry plus the variational ones. */
export interface Conv2DVariationalArgs extends VariationalLayerArgs {
  /** Number of output channels. A positive integer. */
  filters: number;
  /** Kernel height and width. Positive integers. */
  kernelSize: SpatialPair;
  /** Step of the kernel over height and width. Default 1. */
  strides?: SpatialPair;
  /** `'valid'` (default: no padding) or `'same'` (pad so the output has ceil(input / stride) positions). */
  padding?: 'valid' | 'same';
  /** Spacing between kernel taps (atrous convolution). Default 1. */
  dilationRate?: SpatialPair;
}

/**
 * The 2-D convolution geometry shared by the conv variational layers: NHWC inputs, kernel
 * [kernelHeight, kernelWidth, inChannels, filters], output conv2d(x, W) + b.
 *
 * No mode makes the rows of a batch independent draws: all positions of one image share the
 * sampled kernel, so `'local'` (exact per position) is not exact jointly and the Monte Carlo
 * predictor's fast path does not apply (`independentRowsMode` is null).
 */
export abstract class Conv2DVariational extends VariationalLayer {
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'valid' | 'same';
  readonly dilationRate: [number, number];
  readonly independentRowsMode: SamplingMode | null = null;

  constructor(args: Conv2DVariationalArgs) {
    super(args);
    const who = this.who(args.name ?? '');
    this.filters = checkNumber(who, 'filters', args.filters, { min: 1, integer: true });
    this.kernelSize = spatialPair(who, 'kernelSize', args.kernelSize);
    this.strides = spatialPair(who, 'strides', args.strides ?? 1);
    this.padding = checkOneOf(who, 'padding', args.padding ?? 'valid', ['valid', 'same']);
    this.dilationRate = spatialPair(who, 'dilationRate', args.dilationRate ?? 1);
  }

  protected override get outputChannels(): number {
    return this.filters;
  }

  protected override kernelShape(inputShape: tfl.Shape): number[] {
    if (inputShape.length !== 4) {
      throw new ShapeError(
        `${this.who()}: input must have rank 4 [batch, height, width, channels]; got shape ${describe(inputShape)}. ` +
          'Reshape images to NHWC.',
      );
    }
    const inChannels = inputShape[3] as number;
    this.inputSpec = [{ ndim: 4, axes: { [-1]: inChannels } }];
    return [...this.kernelSize, inChannels, this.filters];
  }

  /** tf.conv2d answers an image smaller than the kernel with negative sizes or a RangeError: refuse it by name. */
  protected override applyKernel(x: tf.Tensor, mode: SamplingMode, seeds: SeedStream): tf.Tensor {
    const span = this.kernelSize.map((size, axis) => (size - 1) * this.dilationRate[axis] + 1);
    const [, height, width] = x.shape as number[];
    if (this.padding === 'valid' && (height < span[0] || width < span[1])) {
      throw new ShapeError(
        `${this.who()}: input must be at least ${span[0]} × ${span[1]} pixels (the kernel's span, with padding 'valid'); ` +
          `got shape ${describe(x.shape)}. Use larger images, or padding 'same'.`,
      );
    }
    return super.applyKernel(x, mode, seeds);
  }

  protected override readonly linear = (x: tf.Tensor, kernel: tf.Tensor): tf.Tensor =>
    tf.conv2d(x as tf.Tensor4D, dilateKernel(kernel as tf.Tensor4D, this.dilationRate), this.strides, this.padding);

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [batch, height, width] = singleShape(inputShape);
    const spatial = [height, width].map((size, axis) =>
      convOutputLength(size, this.kernelSize[axis], this.strides[axis], this.dilationRate[axis], this.padding),
    );
    return [batch, ...spatial, this.filters];
  }

  override getConfig(): serialization.ConfigDict {
    return {
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dilationRate: this.dilationRate,
      ...super.getConfig(),
    };
  }
}

/**
 * The kernel with (rate − 1) zeros between its taps: a plain convolution with it is the dilated
 * convolution, and unlike tfjs' own dilated conv2d it has gradients (and allows strides too).
 */
function dilateKernel(kernel: tf.Tensor4D, [rateHeight, rateWidth]: [number, number]): tf.Tensor4D {
  if (rateHeight === 1 && rateWidth === 1) return kernel;
  const [height, width, inChannels, filters] = kernel.shape;
  const taps = tf.reshape(kernel, [height, 1, width, 1, inChannels, filters]);
  const gaps = tf.pad(taps, [[0, 0], [0, rateHeight - 1], [0, 0], [0, rateWidth - 1], [0, 0], [0, 0]]);
  const spread = tf.reshape(gaps, [height * rateHeight, width * rateWidth, inChannels, filters]);
  const span = [(height - 1) * rateHeight + 1, (width - 1) * rateWidth + 1];
  return tf.slice(spread, [0, 0, 0, 0], [span[0], span[1], inChannels, filters]) as tf.Tensor4D;
}

/** Keras' conv_output_length: positions a dilated kernel visits along one axis. */
function convOutputLength(size: number | null, kernel: number, stride: number, dilation: number, padding: string): number | null {
  if (size === null) return null;
  const span = (kernel - 1) * dilation + 1;
  const covered = padding === 'same' ? size : size - span + 1;
  return Math.max(0, Math.floor((covered + stride - 1) / stride));
}

/** Validates a spatial size given as one number or [height, width]; returns the pair. */
function spatialPair(who: string, argument: string, value: SpatialPair): [number, number] {
  const pair = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(pair) || pair.length !== 2) {
    invalidArgument(who, argument, 'a positive integer or [height, width] of them', value);
  }
  pair.forEach((size) => checkNumber(who, argument, size, { min: 1, integer: true }));
  return [pair[0], pair[1]];
}
