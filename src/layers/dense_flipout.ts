import { serialization } from '@tensorflow/tfjs-core';
import { DenseVariational, type DenseVariationalArgs } from './dense_variational';
import type { SamplingMode } from './sampling';

/** Arguments of `DenseFlipout`: those of every variational dense layer. */
export type DenseFlipoutArgs = DenseVariationalArgs;

/**
 * Dense layer with a mean-field Gaussian weight posterior, sampled by Flipout: one weight
 * perturbation per call, decorrelated across the examples of a batch by random sign flips, which
 * lowers gradient variance at the cost of a second matrix product.
 *
 * Reference: Wen et al. 2018, "Flipout: Efficient Pseudo-Independent Weight Perturbations on
 * Mini-Batches"; TFP `tfp.layers.DenseFlipout`.
 */
export class DenseFlipout extends DenseVariational {
  static className = 'DenseFlipout';

  protected override defaultMode(): SamplingMode {
    return 'flipout';
  }
}
serialization.registerClass(DenseFlipout);

/** Functional constructor, in the style of `tf.layers.dense`. */
export function denseFlipout(args: DenseFlipoutArgs): DenseFlipout {
  return new DenseFlipout(args);
}
