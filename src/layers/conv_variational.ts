import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError, TrustError } from '../errors';
import { checkNumber, checkOneOf, describe, invalidArgument } from '../validation';
import type { SamplingMode } from './sampling';
import { singleShape, VariationalLayer, type VariationalLayerArgs } from './variational';

/** Number of spatial axes of a convolution: 1 (sequences), 2 (images), 3 (volumes, videos). */
export type ConvRank = 1 | 2 | 3;

/** A size per spatial axis, or one number for all of them. */
export type SpatialSize = number | number[];

/** Arguments of a variational convolution of any rank: Keras ConvND's geometry plus the variational ones. */
export interface ConvVariationalArgs extends VariationalLayerArgs {
  /** Number of output channels. A positive integer. */
  filters: number;
  /** Kernel size per spatial axis. Positive integers. */
  kernelSize: SpatialSize;
  /** Step of the kernel per spatial axis. Default 1. */
  strides?: SpatialSize;
  /** `'valid'` (default: no padding) or `'same'` (pad so the output has ceil(input / stride) positions). */
  padding?: 'valid' | 'same';
  /** Spacing between kernel taps (atrous convolution). Default 1. */
  dilationRate?: SpatialSize;
}

/** What differs between the ranks: axis names for messages, the channels-last layout, and the tfjs op. */
const RANKS: Record<ConvRank, { axes: string[]; layout: string; items: string; unit: string; conv: ConvOp }> = {
  1: { axes: ['width'], layout: 'NWC', items: 'sequences', unit: 'steps', conv: (x, k, s, p) => tf.conv1d(x as tf.Tensor3D, k as tf.Tensor3D, s[0], p) },
  2: {
    axes: ['height', 'width'],
    layout: 'NHWC',
    items: 'images',
    unit: 'pixels',
    conv: (x, k, s, p) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, s as [number, number], p),
  },
  3: {
    axes: ['depth', 'height', 'width'],
    layout: 'NDHWC',
    items: 'volumes',
    unit: 'voxels',
    conv: (x, k, s, p) => tf.conv3d(x as tf.Tensor5D, k as tf.Tensor5D, s as [number, number, number], p),
  },
};

type ConvOp = (x: tf.Tensor, kernel: tf.Tensor, strides: number[], padding: 'valid' | 'same') => tf.Tensor;

/**
 * The convolution geometry shared by the conv variational layers of every rank: channels-last
 * inputs [batch, ...spatial, channels], kernel [...kernelSize, inChannels, filters], output
 * conv(x, W) + b. A rank subclass (Conv1DVariational, ...) says only its rank; an estimator
 * subclass only its default mode.
 *
 * No mode makes the rows of a batch independent draws: all positions of one example share the
 * sampled kernel, so `'local'` (exact per position) is not exact jointly and the Monte Carlo
 * predictor's fast path does not apply (`independentRowsMode` is null).
 */
export abstract class ConvVariational extends VariationalLayer {
  readonly filters: number;
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly padding: 'valid' | 'same';
  readonly dilationRate: number[];
  readonly independentRowsMode: SamplingMode | null = null;

  /** Number of spatial axes. A getter, so the base constructor can read it before subclass fields exist. */
  abstract get rank(): ConvRank;

  constructor(args: ConvVariationalArgs) {
    super(args);
    const who = this.who(args.name ?? '');
    this.filters = checkNumber(who, 'filters', args.filters, { min: 1, integer: true });
    this.kernelSize = this.spatialSize(who, 'kernelSize', args.kernelSize);
    this.strides = this.spatialSize(who, 'strides', args.strides ?? 1);
    this.padding = checkOneOf(who, 'padding', args.padding ?? 'valid', ['valid', 'same']);
    this.dilationRate = this.spatialSize(who, 'dilationRate', args.dilationRate ?? 1);
  }

  protected override get outputChannels(): number {
    return this.filters;
  }

  protected override kernelShape(inputShape: tfl.Shape): number[] {
    const { axes, layout, items } = RANKS[this.rank];
    if (inputShape.length !== this.rank + 2) {
      throw new ShapeError(
        `${this.who()}: input must have rank ${this.rank + 2} [batch, ${axes.join(', ')}, channels]; ` +
          `got shape ${describe(inputShape)}. Reshape ${items} to ${layout}.`,
      );
    }
    const inChannels = inputShape[this.rank + 1] as number;
    this.inputSpec = [{ ndim: this.rank + 2, axes: { [-1]: inChannels } }];
    return [...this.kernelSize, inChannels, this.filters];
  }

  /**
   * tfjs convolutions answer an input smaller than the kernel with negative sizes or a RangeError: refuse it by name.
   *
   * tfjs-backend-wasm 4.22 registers Conv3D's two gradient kernels, but they compute wrong values
   * (measured against cpu and finite differences: Conv3DBackpropInputV2 always, Conv3DBackpropFilterV2
   * with strides > 1; test/backends/conv_nd_wasm.test.ts). So on wasm a 3-D layer predicts (the
   * forward pass is right), but a call recorded for a gradient (model.fit, tf.variableGrads) throws
   * before any op runs, rather than training silently on wrong gradients.
   *
   * Both refusals come before the base call: it records the step's shared σ on the gradient tape
   * first, and an op recorded before a throw leaves the tensors it saved for its gradient behind.
   */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Parameters<VariationalLayer['call']>[1]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (this.rank === 3 && tf.getBackend() === 'wasm' && tf.engine().state.gradientDepth > 0) {
      throw new TrustError(
        `${this.who()}: cannot train on the wasm backend: tfjs-backend-wasm 4.22's Conv3D gradient kernels ` +
          "(Conv3DBackpropInputV2, Conv3DBackpropFilterV2) return wrong values. Train on 'cpu' or 'webgl' " +
          "(tf.setBackend('cpu')); prediction on wasm is fine.",
      );
    }
    const span = this.kernelSize.map((size, axis) => (size - 1) * this.dilationRate[axis] + 1);
    const spatial = x.shape.slice(1, -1);
    if (this.padding === 'valid' && spatial.some((size, axis) => size < span[axis])) {
      const { unit, items } = RANKS[this.rank];
      throw new ShapeError(
        `${this.who()}: input must be at least ${span.join(' × ')} ${unit} (the kernel's span, with padding 'valid'); ` +
          `got shape ${describe(x.shape)}. Use larger ${items}, or padding 'same'.`,
      );
    }
    return super.call(inputs, kwargs);
  }

  protected override readonly linear = (x: tf.Tensor, kernel: tf.Tensor): tf.Tensor =>
    RANKS[this.rank].conv(x, dilateKernel(kernel, this.dilationRate), this.strides, this.padding);

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = singleShape(inputShape);
    const spatial = shape
      .slice(1, -1)
      .map((size, axis) => convOutputLength(size, this.kernelSize[axis], this.strides[axis], this.dilationRate[axis], this.padding));
    return [shape[0], ...spatial, this.filters];
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

  /** Validates a size given as one number or one per spatial axis; returns one per axis. */
  private spatialSize(who: string, argument: string, value: SpatialSize): number[] {
    const sizes = typeof value === 'number' ? new Array<number>(this.rank).fill(value) : value;
    if (!Array.isArray(sizes) || sizes.length !== this.rank) {
      const { axes } = RANKS[this.rank];
      invalidArgument(who, argument, `a positive integer or [${axes.join(', ')}] of them`, value);
    }
    sizes.forEach((size) => checkNumber(who, argument, size, { min: 1, integer: true }));
    return [...sizes];
  }
}

/**
 * The kernel with (rate − 1) zeros between its taps: a plain convolution with it is the dilated
 * convolution, and unlike tfjs' own dilated convolutions it has gradients (and allows strides too).
 * One spatial axis at a time, so no intermediate tensor exceeds rank 4 (webgl's limit for slice).
 */
function dilateKernel(kernel: tf.Tensor, rates: number[]): tf.Tensor {
  return rates.reduce((spread, rate, axis) => {
    if (rate === 1) return spread;
    const shape = spread.shape;
    const before = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const after = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const taps = tf.reshape(spread, [before, shape[axis], 1, after]);
    const gaps = tf.pad(taps, [[0, 0], [0, 0], [0, rate - 1], [0, 0]]);
    const span = (shape[axis] - 1) * rate + 1;
    const sliced = tf.slice(tf.reshape(gaps, [before, shape[axis] * rate, after]), [0, 0, 0], [before, span, after]);
    return tf.reshape(sliced, [...shape.slice(0, axis), span, ...shape.slice(axis + 1)]);
  }, kernel);
}

/** Keras' conv_output_length: positions a dilated kernel visits along one axis. */
function convOutputLength(size: number | null, kernel: number, stride: number, dilation: number, padding: string): number | null {
  if (size === null) return null;
  const span = (kernel - 1) * dilation + 1;
  const covered = padding === 'same' ? size : size - span + 1;
  return Math.max(0, Math.floor((covered + stride - 1) / stride));
}
