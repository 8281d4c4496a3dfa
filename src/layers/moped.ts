import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError } from '../errors';
import { checkNumber, checkOptions, describe, invalidArgument } from '../validation';
import { rhoOf, SIGMA_FLOOR, type VariationalLayer } from './variational';

/** MOPED's default δ: posterior sigma = 10% of each weight's magnitude (Krishnan et al. 2020). */
export const MOPED_DELTA = 0.1;
/** The smallest sigma MOPED sets: above SIGMA_FLOOR, so a zero weight still gets a finite rho. */
const MOPED_MIN_SIGMA = 2 * SIGMA_FLOOR;

/** Deterministic weights to start a variational layer from: a trained Dense or convolution layer's. */
export interface DeterministicWeights {
  /** Shaped like the variational layer's kernel. */
  kernel: tf.Tensor;
  /** Shaped [outputChannels]; required when the variational layer has a bias. */
  bias?: tf.Tensor;
}

/** Options of `mopedInitialize`. */
export interface MopedOptions {
  /** Posterior sigma = delta · |w|. Default 0.1; near 0 the layer reproduces the deterministic one. */
  delta?: number;
}

/**
 * MOPED initialisation (Krishnan et al. 2020, "Specifying Weight Priors in Bayesian Deep Neural
 * Networks with Empirical Bayes", eq. 4): loc = w and sigma = δ·|w|, so a variational layer starts
 * at a trained network's solution with uncertainty proportional to each weight's size. When the
 * layer's prior has `meanFromWeights`, its per-weight prior means are set to w too (the paper's
 * empirical-Bayes prior). A point-estimate bias is copied; a Gaussian bias gets the same treatment
 * as the kernel. The layer must be built; nothing is disposed that the caller owns.
 */
export function mopedInitialize(layer: VariationalLayer, weights: DeterministicWeights, options: MopedOptions = {}): void {
  const who = `mopedInitialize(${layer.getClassName()} '${layer.name}')`;
  const delta = checkNumber(who, 'options.delta', checkOptions(who, options, ['delta']).delta ?? MOPED_DELTA, { min: 0 });
  if (!layer.built) invalidArgument(who, 'layer', 'a built layer', 'an unbuilt one', 'Apply it to an input first.');
  const variable = (name: string) => layerWeight(layer, name);
  const assign = (name: string, value: tf.Tensor | undefined, what: string) => {
    const target = variable(name);
    if (!target) return;
    if (!value) invalidArgument(who, what, 'a tensor (the layer has a bias)', value);
    if (!tf.util.arraysEqual(value.shape, target.shape as number[])) {
      throw new ShapeError(
        `${who}: ${what} must have shape ${describe(target.shape)}; got ${describe(value.shape)}. ` +
          'Pass the weights of the matching deterministic layer.',
      );
    }
    target.write(value);
  };
  tf.tidy(() => {
    for (const [prefix, value] of [['kernel', weights.kernel], ['bias', weights.bias]] as const) {
      assign(`${prefix}_loc`, value, `weights.${prefix}`);
      if (value && variable(`${prefix}_rho`)) assign(`${prefix}_rho`, mopedRho(value, delta), `weights.${prefix}`);
      if (value) assign(`${prefix}_prior_mean`, value, `weights.${prefix}`);
    }
  });
}

/** rho such that sigma = δ·|w| (Krishnan et al. 2020, eq. 4), floored so rho stays finite. */
function mopedRho(weights: tf.Tensor, delta: number): tf.Tensor {
  return rhoOf(tf.maximum(tf.mul(tf.abs(weights), delta), MOPED_MIN_SIGMA));
}

/**
 * A layer's weight by the name it was created with (`'kernel'`, `'bias_rho'`), or undefined.
 * tfjs prefixes the name with the enclosing scopes (`'model/dense/kernel'`), so match the last part.
 */
export function layerWeight(layer: tfl.layers.Layer, name: string): tfl.LayerVariable | undefined {
  return layer.weights.find((w) => w.originalName.split('/').pop() === name);
}
