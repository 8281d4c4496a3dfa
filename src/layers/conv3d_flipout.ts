import { serialization } from '@tensorflow/tfjs-core';
import { Conv3DVariational, type Conv3DVariationalArgs } from './conv3d_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `Conv3DFlipout`: those of every variational 3-D convolution. */
export type Conv3DFlipoutArgs = Conv3DVariationalArgs;

/**
 * 3-D convolution with a mean-field Gaussian kernel posterior, sampled by Flipout: one kernel
 * perturbation per call, decorrelated across the examples of a batch by per-example sign vectors
 * over input and output channels (as Conv2DFlipout; see there).
 *
 * Reference: Wen et al. 2018, "Flipout: Efficient Pseudo-Independent Weight Perturbations on
 * Mini-Batches"; TFP `tfp.layers.Convolution3DFlipout`.
 */
export class Conv3DFlipout extends Conv3DVariational {
  static className = 'Conv3DFlipout';

  protected override defaultMode(): SamplingMode {
    return 'flipout';
  }
}
serialization.registerClass(Conv3DFlipout);

/** Functional constructor, in the style of `tf.layers.conv3d`. */
export function conv3dFlipout(args: Conv3DFlipoutArgs): Conv3DFlipout {
  return new Conv3DFlipout(args);
}
