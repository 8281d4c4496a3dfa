import { serialization } from '@tensorflow/tfjs-core';
import { Conv3DVariational, type Conv3DVariationalArgs } from './conv3d_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `Conv3DReparameterization`: those of every variational 3-D convolution. */
export type Conv3DReparameterizationArgs = Conv3DVariationalArgs;

/**
 * 3-D convolution with a mean-field Gaussian kernel posterior, sampled by reparameterisation: one
 * kernel sample W = loc + sigma ⊙ ε per call, shared by the whole batch (as Conv2DReparameterization).
 *
 * Reference: Blundell et al. 2015, "Weight Uncertainty in Neural Networks"; TFP
 * `tfp.layers.Convolution3DReparameterization`.
 */
export class Conv3DReparameterization extends Conv3DVariational {
  static className = 'Conv3DReparameterization';

  protected override defaultMode(): SamplingMode {
    return 'sample';
  }
}
serialization.registerClass(Conv3DReparameterization);

/** Functional constructor, in the style of `tf.layers.conv3d`. */
export function conv3dReparameterization(args: Conv3DReparameterizationArgs): Conv3DReparameterization {
  return new Conv3DReparameterization(args);
}
