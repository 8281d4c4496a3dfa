import { ConvVariational, type ConvRank, type ConvVariationalArgs } from './conv_variational';

/** A size per spatial axis (depth, height, width), or one number for all three. */
export type SpatialTriple = number | [number, number, number];

/** Arguments of a variational 3-D convolution: Keras Conv3D's geometry plus the variational ones. */
export interface Conv3DVariationalArgs extends ConvVariationalArgs {
  /** Kernel depth, height and width. Positive integers. */
  kernelSize: SpatialTriple;
  /** Step of the kernel over depth, height and width. Default 1. */
  strides?: SpatialTriple;
  /** Spacing between kernel taps (atrous convolution). Default 1. */
  dilationRate?: SpatialTriple;
}

/**
 * The 3-D convolution geometry: NDHWC volumes [batch, depth, height, width, channels], kernel
 * [kernelDepth, kernelHeight, kernelWidth, inChannels, filters]. tfjs has Conv3D and both its
 * gradient kernels on cpu, wasm and webgl, so these layers train on every backend.
 */
export abstract class Conv3DVariational extends ConvVariational {
  get rank(): ConvRank {
    return 3;
  }
}
