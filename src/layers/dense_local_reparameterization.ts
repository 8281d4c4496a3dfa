import { serialization } from '@tensorflow/tfjs-core';
import { DenseVariational, type DenseVariationalArgs } from './dense_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `DenseLocalReparameterization`: those of every variational dense layer. */
export type DenseLocalReparameterizationArgs = DenseVariationalArgs;

/**
 * Dense layer with a mean-field Gaussian weight posterior, sampled by local reparameterisation:
 * each example's pre-activation is drawn from its exact Gaussian N(x·loc + b, x²·sigma²), so
 * every row of a batch is an independent sample (lowest gradient variance, two matrix products).
 *
 * Reference: Kingma, Salimans & Welling 2015, "Variational Dropout and the Local
 * Reparameterization Trick"; TFP `tfp.layers.DenseLocalReparameterization`.
 */
export class DenseLocalReparameterization extends DenseVariational {
  static className = 'DenseLocalReparameterization';

  protected override defaultMode(): SamplingMode {
    return 'local';
  }
}
serialization.registerClass(DenseLocalReparameterization);

/** Functional constructor, in the style of `tf.layers.dense`. */
export function denseLocalReparameterization(args: DenseLocalReparameterizationArgs): DenseLocalReparameterization {
  return new DenseLocalReparameterization(args);
}
