import { ConvVariational, type ConvRank, type ConvVariationalArgs } from './conv_variational';

/** Arguments of a variational 1-D convolution: Keras Conv1D's geometry plus the variational ones. */
export interface Conv1DVariationalArgs extends ConvVariationalArgs {
  /** Kernel width, a positive integer (or [width]). */
  kernelSize: number | [number];
  /** Step of the kernel along the sequence. Default 1. */
  strides?: number | [number];
  /** Spacing between kernel taps (atrous convolution). Default 1. */
  dilationRate?: number | [number];
}

/**
 * The 1-D convolution geometry: NWC sequences [batch, steps, channels], kernel
 * [kernelWidth, inChannels, filters]. Flipout's signs are per example and channel, tiled over steps.
 */
export abstract class Conv1DVariational extends ConvVariational {
  get rank(): ConvRank {
    return 1;
  }
}
