import { serialization } from '@tensorflow/tfjs-core';
import { Conv2DVariational, type Conv2DVariationalArgs } from './conv2d_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `Conv2DFlipout`: those of every variational convolution. */
export type Conv2DFlipoutArgs = Conv2DVariationalArgs;

/**
 * 2-D convolution with a mean-field Gaussian kernel posterior, sampled by Flipout: one kernel
 * perturbation per call, decorrelated across the examples of a batch by per-example sign vectors
 * over input and output channels, tiled over space (as TFP does). Lower gradient variance than a
 * shared sample, for a second convolution.
 *
 * Reference: Wen et al. 2018, "Flipout: Efficient Pseudo-Independent Weight Perturbations on
 * Mini-Batches"; TFP `tfp.layers.Convolution2DFlipout`.
 */
export class Conv2DFlipout extends Conv2DVariational {
  static className = 'Conv2DFlipout';

  protected override defaultMode(): SamplingMode {
    return 'flipout';
  }
}
serialization.registerClass(Conv2DFlipout);

/** Functional constructor, in the style of `tf.layers.conv2d`. */
export function conv2dFlipout(args: Conv2DFlipoutArgs): Conv2DFlipout {
  return new Conv2DFlipout(args);
}
