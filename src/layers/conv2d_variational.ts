import { ConvVariational, type ConvRank, type ConvVariationalArgs } from './conv_variational';

/** A size per spatial axis (height, width), or one number for both. */
export type SpatialPair = number | [number, number];

/** Arguments of a variational 2-D convolution: Keras Conv2D's geometry plus the variational ones. */
export interface Conv2DVariationalArgs extends ConvVariationalArgs {
  /** Kernel height and width. Positive integers. */
  kernelSize: SpatialPair;
  /** Step of the kernel over height and width. Default 1. */
  strides?: SpatialPair;
  /** Spacing between kernel taps (atrous convolution). Default 1. */
  dilationRate?: SpatialPair;
}

/**
 * The 2-D convolution geometry: NHWC images, kernel [kernelHeight, kernelWidth, inChannels, filters].
 * Flipout's signs are per example and channel, tiled over space (as TFP does).
 */
export abstract class Conv2DVariational extends ConvVariational {
  get rank(): ConvRank {
    return 2;
  }
}
