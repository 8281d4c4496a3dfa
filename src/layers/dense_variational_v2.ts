import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError } from '../errors';
import { SeedStream } from '../random';
import { checkBoolean, checkNumber, checkOneOf, describe } from '../validation';
import type { Initializer } from './initializers';
import {
  createJointPosterior,
  createJointPrior,
  gaussianKl,
  type JointPosterior,
  type JointPosteriorSpec,
  type JointPrior,
  type JointPriorSpec,
} from './joint_posteriors';
import { callSampling, type SamplingMode, type SamplingOverride, type StochasticLayer } from './sampling';
import { activationLayer, checkBuiltInput, floatInput, singleShape, type ActivationIdentifier, type LayerArgs } from './variational';

type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

/** Arguments of `DenseVariationalV2`: a dense layer's, plus the posterior and prior families. */
export interface DenseVariationalV2Args extends LayerArgs {
  /** Number of output units. A positive integer. */
  units: number;
  /** Activation of the output, a tfjs-layers identifier. Default none. */
  activation?: ActivationIdentifier;
  /** Whether the layer adds a bias (inside the joint posterior, as TFP). Default true. */
  useBias?: boolean;
  /** `{ kind: 'meanField' }` (default), `{ kind: 'fullCovariance' }` or `{ kind: 'lowRank', rank }`. */
  posterior?: JointPosteriorSpec;
  /** `{ kind: 'fixedNormal', mean, stddev }` (default N(0, 1)) or `{ kind: 'learnableNormal', mean, stddev }`. */
  prior?: JointPriorSpec;
  /** Multiplies the KL term added to the model's loss: 1 / (number of training examples). Default 1. */
  klWeight?: number;
  /** `'sample'` (default): one weight sample per call, shared by the batch. `'mean'`: the posterior mean. */
  mode?: 'sample' | 'mean';
  /** Seed for reproducible samples and starting weights. Default: fresh randomness. */
  seed?: number;
}

/**
 * A dense layer whose kernel and bias, flattened into one vector of n = inputs·units + units
 * weights, have one Gaussian posterior: mean-field, full covariance (every pair of weights
 * correlated) or low rank plus diagonal. TensorFlow Probability's `tfp.layers.DenseVariational`
 * with `make_posterior_fn` / `make_prior_fn`, with the functions replaced by registered families
 * so the layer serialises (this library's `DenseVariational` is the base of its mean-field dense layers).
 *
 * Each call draws one weight vector w = loc + Σ^½ ε (reparameterisation), shared by the batch, and
 * returns x·W + b. The KL to the prior, in closed form for every family pair (Gaussian to
 * diagonal Gaussian), is added once to the model's losses × klWeight; TFP's default estimates it
 * by Monte Carlo instead (`kl_use_exact=False`). A learnable prior's mean and scale train with the
 * KL term (empirical Bayes).
 *
 * Reference: Blundell et al. 2015, "Weight Uncertainty in Neural Networks"; TFP
 * `tfp.layers.DenseVariational` (layers/dense_variational_v2.py).
 */
export class DenseVariationalV2 extends tfl.layers.Layer implements StochasticLayer {
  static className = 'DenseVariationalV2';
  readonly stochastic = true;
  readonly supportedModes: readonly SamplingMode[] = ['sample', 'mean'];
  /** All rows of a batch share one weight sample: tiling a batch is not S independent passes. */
  readonly independentRowsMode: SamplingMode | null = null;
  samplingOverride: SamplingOverride | null = null;

  readonly units: number;
  readonly activation: ActivationIdentifier;
  readonly useBias: boolean;
  readonly posterior: JointPosterior;
  readonly prior: JointPrior;
  readonly klWeight: number;
  readonly mode: 'sample' | 'mean';
  readonly seed: number | undefined;
  private readonly seeds: SeedStream;
  private readonly activationLayer: tfl.layers.Layer;
  private inputDim = 0;

  constructor(args: DenseVariationalV2Args) {
    super(args);
    const who = this.who(args.name ?? '');
    this.units = checkNumber(who, 'units', args.units, { min: 1, integer: true });
    this.activation = args.activation ?? 'linear';
    this.activationLayer = activationLayer(who, this.activation);
    this.useBias = checkBoolean(who, 'useBias', args.useBias ?? true);
    this.posterior = createJointPosterior(who, args.posterior);
    this.prior = createJointPrior(who, args.prior);
    this.klWeight = checkNumber(who, 'klWeight', args.klWeight ?? 1, { min: 0 });
    this.mode = checkOneOf(who, 'mode', args.mode ?? 'sample', ['sample', 'mean']);
    this.seed = args.seed == null ? undefined : checkNumber(who, 'seed', args.seed, { integer: true });
    this.seeds = new SeedStream(this.seed, DenseVariationalV2.className);
  }

  /** Number of weights in the posterior: inputs·units, plus units with a bias. */
  get weightCount(): number {
    return this.inputDim * this.units + (this.useBias ? this.units : 0);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape);
    const inputDim = shape[shape.length - 1];
    if (shape.length < 2 || inputDim == null) {
      throw new ShapeError(
        `${this.who()}: input must have rank >= 2 with a known last axis (a batch axis then features); ` +
          `got shape ${describe(shape)}. Add a batch axis or reshape the input.`,
      );
    }
    this.inputDim = inputDim;
    this.inputSpec = [{ minNDim: 2, axes: { [-1]: inputDim } }];
    const addWeight = (name: string, weightShape: number[], initializer: Initializer, trainable = true) =>
      this.addWeight(name, weightShape, 'float32', initializer, undefined, trainable);
    this.posterior.build(this.who(), this.weightCount, addWeight, new SeedStream(this.seed, `${DenseVariationalV2.className}:init`));
    this.prior.build(this.weightCount, addWeight);
    this.addLoss(() => tf.tidy(() => tf.mul(this.klDivergence(), this.klWeight)));
    this.built = true;
  }

  /** Checks the input against the shape the layer was built for: a ShapeError naming the layer. */
  override apply(inputs: Parameters<tfl.layers.Layer['apply']>[0], kwargs?: Kwargs): ReturnType<tfl.layers.Layer['apply']> {
    checkBuiltInput(this.who(), inputs, this.inputSpec);
    return super.apply(inputs, kwargs);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = floatInput(inputs);
      const { mode, seeds } = callSampling(this.who(), kwargs.mode, this, this.seeds);
      // 'flipout' and 'local' (model-wide overrides for mean-field layers) mean 'sample' here.
      const weights = mode === 'mean' ? this.posterior.loc() : this.posterior.sample(seeds);
      const kernel = tf.reshape(tf.slice(weights, 0, this.inputDim * this.units), [this.inputDim, this.units]);
      const rowCount = x.shape.slice(0, -1).reduce((product, size) => product * size, 1);
      let y = tf.matMul(tf.reshape(x, [rowCount, this.inputDim]), kernel);
      if (this.useBias) y = tf.add(y, tf.slice(weights, this.inputDim * this.units, this.units));
      return this.activationLayer.apply(tf.reshape(y, [...x.shape.slice(0, -1), this.units])) as tf.Tensor;
    });
  }

  /** KL(posterior ‖ prior) over all weights, before klWeight: closed form for every family. */
  klDivergence(): tf.Scalar {
    return gaussianKl(this.posterior, this.prior, this.weightCount);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.units];
  }

  override getConfig(): serialization.ConfigDict {
    return {
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      posterior: { ...this.posterior.spec },
      prior: { ...this.prior.spec },
      klWeight: this.klWeight,
      mode: this.mode,
      seed: this.seed ?? null,
      ...super.getConfig(),
    };
  }

  private who(name = this.name): string {
    return name ? `${DenseVariationalV2.className} '${name}'` : DenseVariationalV2.className;
  }
}
serialization.registerClass(DenseVariationalV2);

/** Functional constructor, in the style of `tf.layers.dense`. */
export function denseVariationalV2(args: DenseVariationalV2Args): DenseVariationalV2 {
  return new DenseVariationalV2(args);
}
