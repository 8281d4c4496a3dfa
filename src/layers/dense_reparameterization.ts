import { serialization } from '@tensorflow/tfjs-core';
import { DenseVariational, type DenseVariationalArgs } from './dense_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `DenseReparameterization`: those of every variational dense layer. */
export type DenseReparameterizationArgs = DenseVariationalArgs;

/**
 * Dense layer with a mean-field Gaussian weight posterior, sampled by reparameterisation: one
 * weight sample W = loc + sigma ⊙ ε per call, shared by the whole batch. The cheapest estimator
 * (one matrix product), but the examples of a batch share their noise, so gradients are noisier
 * than with Flipout.
 *
 * Reference: Blundell et al. 2015, "Weight Uncertainty in Neural Networks"; TFP
 * `tfp.layers.DenseReparameterization`.
 */
export class DenseReparameterization extends DenseVariational {
  static className = 'DenseReparameterization';

  protected override defaultMode(): SamplingMode {
    return 'sample';
  }
}
serialization.registerClass(DenseReparameterization);

/** Functional constructor, in the style of `tf.layers.dense`. */
export function denseReparameterization(args: DenseReparameterizationArgs): DenseReparameterization {
  return new DenseReparameterization(args);
}
