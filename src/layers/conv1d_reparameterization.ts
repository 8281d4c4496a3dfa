import { serialization } from '@tensorflow/tfjs-core';
import { Conv1DVariational, type Conv1DVariationalArgs } from './conv1d_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `Conv1DReparameterization`: those of every variational 1-D convolution. */
export type Conv1DReparameterizationArgs = Conv1DVariationalArgs;

/**
 * 1-D convolution with a mean-field Gaussian kernel posterior, sampled by reparameterisation: one
 * kernel sample W = loc + sigma ⊙ ε per call, shared by the whole batch (as Conv2DReparameterization).
 *
 * Reference: Blundell et al. 2015, "Weight Uncertainty in Neural Networks"; TFP
 * `tfp.layers.Convolution1DReparameterization`.
 */
export class Conv1DReparameterization extends Conv1DVariational {
  static className = 'Conv1DReparameterization';

  protected override defaultMode(): SamplingMode {
    return 'sample';
  }
}
serialization.registerClass(Conv1DReparameterization);

/** Functional constructor, in the style of `tf.layers.conv1d`. */
export function conv1dReparameterization(args: Conv1DReparameterizationArgs): Conv1DReparameterization {
  return new Conv1DReparameterization(args);
}
