import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, SeedStream, rhoOf, type SamplingMode, type SamplingOverride, type StochasticLayer } from '../../src';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/**
 * A minimal stochastic layer, written against the StochasticLayer interface only: adds noise
 * N(0, sigma²) in 'sample' mode, nothing in 'mean' mode.
 * - `perRow: true`: one draw per element, so rows are independent (as MC dropout declares).
 * - `perRow: false`: one draw per call shared by the whole batch, so no mode makes rows
 *   independent (`independentRowsMode` null) and the predictor must loop.
 */
export class NoiseLayer extends tfl.layers.Layer implements StochasticLayer {
  static className = 'TestNoiseLayer';
  readonly stochastic = true;
  readonly supportedModes: readonly SamplingMode[] = ['sample', 'mean'];
  readonly independentRowsMode: SamplingMode | null;
  samplingOverride: SamplingOverride | null = null;
  private readonly sigma: number;
  private readonly perRow: boolean;
  private readonly seeds: SeedStream;

  constructor(args: LayerArgs & { sigma: number; perRow: boolean; seed?: number }) {
    super(args);
    this.sigma = args.sigma;
    this.perRow = args.perRow;
    this.independentRowsMode = args.perRow ? 'sample' : null;
    this.seeds = new SeedStream(args.seed, NoiseLayer.className);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if ((this.samplingOverride?.mode ?? 'sample') === 'mean') return tf.clone(x);
      const seeds = this.samplingOverride?.seeds ?? this.seeds;
      return tf.add(x, tf.mul(seeds.normal(this.perRow ? x.shape : [1]), this.sigma));
    });
  }
}

/** A deterministic identity layer that records the batch size of every call: proves what runs once. */
export class CountingLayer extends tfl.layers.Layer {
  static className = 'TestCountingLayer';
  readonly batchSizes: number[] = [];

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    this.batchSizes.push(x.shape[0]);
    return tf.clone(x);
  }
}

/**
 * DenseFlipout claiming that Flipout rows are independent (they are not: one weight perturbation
 * is shared by the batch). It makes the predictor tile through Flipout, which the independence
 * test must catch.
 */
export class LyingFlipout extends DenseFlipout {
  override readonly independentRowsMode: SamplingMode = 'flipout';
}

/** Sets a dense variational layer's posterior: kernel loc and sigma, bias loc. */
export function setPosterior(layer: DenseFlipout, loc: tf.Tensor, sigma: tf.Tensor, bias: tf.Tensor): void {
  const rho = rhoOf(sigma);
  layer.setWeights([loc, rho, bias]);
  rho.dispose();
}
