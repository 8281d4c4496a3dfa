import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOneOf, invalidArgument } from '../errors';

/** A Normal prior N(mean, stddev²) on every weight: TFP's default with mean 0 and stddev 1. */
export interface NormalPriorSpec {
  kind?: 'normal';
  mean?: number;
  stddev?: number;
}

/** The prior a variational layer regularises its posterior towards. Plain data, so it serialises. */
export type PriorSpec = NormalPriorSpec;

/** A prior that can measure how far a mean-field Normal posterior is from it. */
export interface Prior {
  /** KL(q ‖ p) summed over all weights, for q = N(loc, sigma²) elementwise. */
  divergence(loc: tf.Tensor, sigma: tf.Tensor): tf.Scalar;
  /** The spec that rebuilds this prior, stored in the layer config. */
  toSpec(): PriorSpec;
}

export const DEFAULT_PRIOR: Required<NormalPriorSpec> = { kind: 'normal', mean: 0, stddev: 1 };

export class NormalPrior implements Prior {
  readonly mean: number;
  readonly stddev: number;

  constructor(who: string, spec: NormalPriorSpec = {}) {
    this.mean = checkNumber(who, 'prior.mean', spec.mean ?? DEFAULT_PRIOR.mean);
    this.stddev = checkNumber(who, 'prior.stddev', spec.stddev ?? DEFAULT_PRIOR.stddev, {
      min: 0,
      exclusiveMin: true,
    });
  }

  /** Closed form: log(σp/σq) + (σq² + (μq − μp)²) / (2σp²) − ½, summed. */
  divergence(loc: tf.Tensor, sigma: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const priorVariance = this.stddev * this.stddev;
      const logRatio = tf.sub(Math.log(this.stddev), tf.log(sigma));
      const spread = tf.div(tf.add(tf.square(sigma), tf.square(tf.sub(loc, this.mean))), 2 * priorVariance);
      return tf.sum(tf.sub(tf.add(logRatio, spread), 0.5));
    });
  }

  toSpec(): PriorSpec {
    return { kind: 'normal', mean: this.mean, stddev: this.stddev };
  }
}

/** Builds the prior a spec describes; `who` names the layer in errors. */
export function createPrior(who: string, spec: PriorSpec = {}): Prior {
  if (typeof spec !== 'object' || spec === null) invalidArgument(who, 'prior', 'an object { kind, mean, stddev }', spec);
  checkOneOf(who, 'prior.kind', spec.kind ?? 'normal', ['normal']);
  return new NormalPrior(who, spec);
}
