import { serialization } from '@tensorflow/tfjs-core';
import { Conv2DVariational, type Conv2DVariationalArgs } from './conv2d_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `Conv2DReparameterization`: those of every variational convolution. */
export type Conv2DReparameterizationArgs = Conv2DVariationalArgs;

/**
 * 2-D convolution with a mean-field Gaussian kernel posterior, sampled by reparameterisation: one
 * kernel sample W = loc + sigma ⊙ ε per call, shared by the whole batch. One convolution per
 * call, the cheapest estimator, with noisier gradients than Flipout.
 *
 * Reference: Blundell et al. 2015, "Weight Uncertainty in Neural Networks"; TFP
 * `tfp.layers.Convolution2DReparameterization`.
 */
export class Conv2DReparameterization extends Conv2DVariational {
  static className = 'Conv2DReparameterization';

  protected override defaultMode(): SamplingMode {
    return 'sample';
  }
}
serialization.registerClass(Conv2DReparameterization);

/** Functional constructor, in the style of `tf.layers.conv2d`. */
export function conv2dReparameterization(args: Conv2DReparameterizationArgs): Conv2DReparameterization {
  return new Conv2DReparameterization(args);
}
