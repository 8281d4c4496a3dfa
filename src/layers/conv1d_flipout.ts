import { serialization } from '@tensorflow/tfjs-core';
import { Conv1DVariational, type Conv1DVariationalArgs } from './conv1d_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `Conv1DFlipout`: those of every variational 1-D convolution. */
export type Conv1DFlipoutArgs = Conv1DVariationalArgs;

/**
 * 1-D convolution with a mean-field Gaussian kernel posterior, sampled by Flipout: one kernel
 * perturbation per call, decorrelated across the examples of a batch by per-example sign vectors
 * over input and output channels (as Conv2DFlipout; see there).
 *
 * Reference: Wen et al. 2018, "Flipout: Efficient Pseudo-Independent Weight Perturbations on
 * Mini-Batches"; TFP `tfp.layers.Convolution1DFlipout`.
 */
export class Conv1DFlipout extends Conv1DVariational {
  static className = 'Conv1DFlipout';

  protected override defaultMode(): SamplingMode {
    return 'flipout';
  }
}
serialization.registerClass(Conv1DFlipout);

/** Functional constructor, in the style of `tf.layers.conv1d`. */
export function conv1dFlipout(args: Conv1DFlipoutArgs): Conv1DFlipout {
  return new Conv1DFlipout(args);
}
