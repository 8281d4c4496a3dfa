import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkNumber, checkOneOf, invalidArgument } from '../validation';
import { SeedStream } from '../random';
import { callSampling, type SamplingMode, type SamplingOverride, type StochasticLayer } from './sampling';
import type { LayerArgs } from './variational';

type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

/** Arguments of `MCDropout`: Keras Dropout's rate, plus the mode and seed of the sampled masks. */
export interface MCDropoutArgs extends LayerArgs {
  /** Fraction of the inputs zeroed on each call, in [0, 1). */
  rate: number;
  /** `'sample'` (default): a fresh mask on every call, in training and prediction. `'mean'`: identity. */
  mode?: 'sample' | 'mean';
  /** Seed for reproducible masks: the same seed gives the same sequence of calls. Default: fresh randomness. */
  seed?: number;
}

/**
 * Dropout that stays on at prediction time, so repeated predictions are Monte Carlo samples of an
 * approximate posterior predictive: any model gains uncertainty by swapping its dropout for this.
 * Inverted dropout: kept units are scaled by 1 / (1 − rate), so the mean output equals the input
 * and `'mean'` mode (the identity) is the posterior mean's approximation standard dropout uses.
 *
 * Each element draws its own mask bit, so the rows of a batch are independent samples: tiling a
 * batch is exact, and the Monte Carlo predictor's fast path applies (`independentRowsMode`).
 * Model-wide overrides to the weight-space modes (`'flipout'`, `'local'`) mean `'sample'` here.
 *
 * Reference: Gal & Ghahramani 2016, "Dropout as a Bayesian Approximation".
 */
export class MCDropout extends tfl.layers.Layer implements StochasticLayer {
  static className = 'MCDropout';
  readonly stochastic = true;
  readonly supportedModes: readonly SamplingMode[] = ['sample', 'mean'];
  readonly independentRowsMode: SamplingMode = 'sample';
  samplingOverride: SamplingOverride | null = null;

  readonly rate: number;
  readonly mode: 'sample' | 'mean';
  readonly seed: number | undefined;
  private readonly seeds: SeedStream;

  constructor(args: MCDropoutArgs) {
    super(args);
    const who = args.name ? `MCDropout '${args.name}'` : 'MCDropout';
    const rate = checkNumber(who, 'rate', args.rate, { min: 0, max: 1 });
    if (rate === 1) invalidArgument(who, 'rate', 'a number >= 0 and < 1', rate, 'A rate of 1 would drop every input.');
    this.rate = rate;
    this.mode = checkOneOf(who, 'mode', args.mode ?? 'sample', ['sample', 'mean']);
    this.seed = args.seed == null ? undefined : checkNumber(who, 'seed', args.seed, { integer: true });
    this.seeds = new SeedStream(this.seed, MCDropout.className);
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const { mode, seeds } = callSampling(`MCDropout '${this.name}'`, kwargs.mode, this, this.seeds);
      if (mode === 'mean' || this.rate === 0) return tf.clone(x);
      // Keep with probability 1 − rate, scaled by 1 / (1 − rate) so E[output] = input.
      const keep = tf.cast(tf.greaterEqual(seeds.uniform(x.shape), this.rate), x.dtype);
      return tf.mul(x, tf.div(keep, 1 - this.rate));
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): serialization.ConfigDict {
    return { rate: this.rate, mode: this.mode, seed: this.seed ?? null, ...super.getConfig() };
  }
}
serialization.registerClass(MCDropout);

/** Functional constructor, in the style of `tf.layers.dropout`. */
export function mcDropout(args: MCDropoutArgs): MCDropout {
  return new MCDropout(args);
}
