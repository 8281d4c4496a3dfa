import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError } from '../errors';
import { checkNumber, checkOneOf, describe } from '../validation';
import { SeedStream } from '../random';
import { callSampling, type SamplingMode, type SamplingOverride, type StochasticLayer } from './sampling';
import { singleShape, type ActivationIdentifier, type LayerArgs } from './variational';

type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

/** How a Laplace posterior's covariance is kept (see `fitLastLayerLaplace`). */
export const LAPLACE_STRUCTURES = ['full', 'kron', 'diag'] as const;
/** `'full'`: a dense covariance; `'kron'`: Kronecker-factored (KFAC); `'diag'`: one variance per weight. */
export type LaplaceStructure = (typeof LAPLACE_STRUCTURES)[number];

/** Arguments of `LaplaceDense`. The posterior itself arrives as weights (`fitLastLayerLaplace` sets them). */
export interface LaplaceDenseArgs extends LayerArgs {
  /** Output units (classes). */
  units: number;
  /** Activation of the output: the replaced Dense layer's (`'softmax'`, or `'linear'` for logits). Default `'linear'`. */
  activation?: ActivationIdentifier;
  /** How the covariance is stored, which fixes the layer's weights (see the class doc). */
  structure: LaplaceStructure;
  /** `'local'` (default for kron and diag): logits drawn per row; `'sample'` (default for full): one weight draw per call; `'mean'`: the MAP weights. */
  mode?: 'local' | 'sample' | 'mean';
  /** Seed for reproducible samples. Default: fresh randomness. */
  seed?: number;
}

/**
 * A Dense layer whose weights follow a Gaussian Laplace posterior N(θ_MAP, Σ) over the kernel and
 * bias, W̃ = [kernel; bias] of shape [features + 1, units]. Built by `fitLastLayerLaplace`, which
 * swaps it for a trained model's last Dense layer so that `mcPredict` samples the posterior.
 *
 * Σ is kept as a basis B and variances v, Σ = B diag(v) Bᵀ, with parameters in the row-major
 * order of W̃ (feature-major):
 * - `'full'`: weight `covariance_root` R = B diag(√v), P × P for P = (features + 1) · units.
 * - `'kron'`: B = Q_in ⊗ Q_out, weights `input_basis`, `output_basis` and `variance` [features + 1, units].
 * - `'diag'`: B = I, weight `variance` [features + 1, units].
 *
 * The logits x̃ᵀW̃ (x̃ = [x, 1]) are linear in the weights, so they are exactly Gaussian with
 * covariance (x̃ᵀ ⊗ I) Σ (x̃ ⊗ I). In `'local'` mode every row draws its own logits from it
 * (for kron: Q_out diag(s) Q_outᵀ with s = (x̃ᵀQ_in)² · v), an exact and independent sample per
 * row: the Monte Carlo predictor's fast path. `'full'` has no such cheap form and draws one weight
 * sample per call instead (`'sample'`), which the predictor loops over. Model-wide overrides to
 * modes the layer lacks (`'flipout'`, and `'local'` for full) mean `'sample'`.
 *
 * Reference: MacKay 1992, "A Practical Bayesian Framework for Backpropagation Networks";
 * Daxberger et al. 2021, "Laplace Redux", section 2.
 */
export class LaplaceDense extends tfl.layers.Layer implements StochasticLayer {
  static className = 'LaplaceDense';
  readonly stochastic = true;
  readonly supportedModes: readonly SamplingMode[];
  readonly independentRowsMode: SamplingMode | null;
  samplingOverride: SamplingOverride | null = null;

  readonly units: number;
  readonly activation: ActivationIdentifier;
  readonly structure: LaplaceStructure;
  readonly mode: 'local' | 'sample' | 'mean';
  readonly seed: number | undefined;
  private readonly seeds: SeedStream;
  private readonly activationLayer: tfl.layers.Layer;
  private kernel!: tfl.LayerVariable;
  private bias!: tfl.LayerVariable;
  private covarianceRoot: tfl.LayerVariable | null = null;
  private variance: tfl.LayerVariable | null = null;
  private inputBasis: tfl.LayerVariable | null = null;
  private outputBasis: tfl.LayerVariable | null = null;

  constructor(args: LaplaceDenseArgs) {
    super({ ...args, trainable: false });
    const who = this.who(args.name ?? '');
    this.units = checkNumber(who, 'units', args.units, { min: 1, integer: true });
    this.activation = args.activation ?? 'linear';
    this.activationLayer = tfl.layers.activation({ activation: this.activation });
    this.structure = checkOneOf(who, 'structure', args.structure, LAPLACE_STRUCTURES);
    const rowwise = this.structure !== 'full';
    this.supportedModes = rowwise ? ['local', 'sample', 'mean'] : ['sample', 'mean'];
    this.independentRowsMode = rowwise ? 'local' : null;
    this.mode = checkOneOf(who, 'mode', args.mode ?? (rowwise ? 'local' : 'sample'), this.supportedModes as ('local' | 'sample' | 'mean')[]);
    this.seed = args.seed == null ? undefined : checkNumber(who, 'seed', args.seed, { integer: true });
    this.seeds = new SeedStream(this.seed, LaplaceDense.className);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape);
    const features = shape[shape.length - 1];
    if (shape.length !== 2 || features == null) {
      throw new ShapeError(`${this.who()}: input must have shape [batch, features]; got ${describe(shape)}. Flatten or pool the features first.`);
    }
    const rows = features + 1;
    const zeros = tfl.initializers.zeros();
    const weight = (name: string, weightShape: number[]) => this.addWeight(name, weightShape, 'float32', zeros, undefined, false);
    this.kernel = weight('kernel', [features, this.units]);
    this.bias = weight('bias', [this.units]);
    if (this.structure === 'full') {
      this.covarianceRoot = weight('covariance_root', [rows * this.units, rows * this.units]);
    } else {
      this.variance = weight('variance', [rows, this.units]);
      if (this.structure === 'kron') {
        this.inputBasis = weight('input_basis', [rows, rows]);
        this.outputBasis = weight('output_basis', [this.units, this.units]);
      }
    }
    this.inputSpec = [{ ndim: 2, axes: { [-1]: features } }];
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const sampling = callSampling(this.who(), kwargs.mode, this, this.seeds);
      const mode = this.supportedModes.includes(sampling.mode) ? sampling.mode : 'sample';
      let logits = tf.add(tf.matMul(x, this.kernel.read()), this.bias.read());
      if (mode === 'local') logits = tf.add(logits, this.localNoise(x, sampling.seeds));
      if (mode === 'sample') {
        const noise = this.weightNoise(sampling.seeds);
        logits = tf.add(logits, tf.matMul(withOnes(x), noise));
      }
      return this.activationLayer.apply(logits) as tf.Tensor;
    });
  }

  /**
   * The mean and variance of each logit under the posterior, [batch, units] each: the linearised
   * predictive that the probit approximation reads (MacKay 1992; "Laplace Redux", eq. 8).
   */
  logitMoments(x: tf.Tensor2D): { mean: tf.Tensor2D; variance: tf.Tensor2D } {
    return tf.tidy(() => {
      const mean = tf.add(tf.matMul(x, this.kernel.read()), this.bias.read()) as tf.Tensor2D;
      return { mean, variance: this.logitVariance(x) };
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.units];
  }

  override getConfig(): serialization.ConfigDict {
    return { units: this.units, activation: this.activation, structure: this.structure, mode: this.mode, seed: this.seed ?? null, ...super.getConfig() };
  }

  /** Diagonal of (x̃ᵀ ⊗ I) Σ (x̃ ⊗ I) per row. */
  private logitVariance(x: tf.Tensor2D): tf.Tensor2D {
    const xt = withOnes(x);
    if (this.structure === 'full') {
      // Row by row, R's rows grouped by feature: (x̃ᵀ ⊗ I) R is [units, P]; its squared rows sum to the variances.
      const size = this.covarianceRoot!.shape[1]!;
      const perFeature = tf.reshape(this.covarianceRoot!.read(), [xt.shape[1], this.units * size]);
      const projected = tf.reshape(tf.matMul(xt, perFeature), [xt.shape[0], this.units, size]);
      return tf.sum(tf.square(projected), -1) as tf.Tensor2D;
    }
    const s = this.rowScales(xt);
    return (this.outputBasis ? tf.matMul(s, tf.square(this.outputBasis.read()), false, true) : s) as tf.Tensor2D;
  }

  /** s = (x̃ᵀ Q_in)² · v: the logit variances in the output basis, per row (kron, diag). */
  private rowScales(xt: tf.Tensor): tf.Tensor2D {
    const projected = this.inputBasis ? tf.matMul(xt, this.inputBasis.read()) : xt;
    return tf.matMul(tf.square(projected), this.variance!.read()) as tf.Tensor2D;
  }

  /** Logit noise with each row's own covariance: Q_out (√s ⊙ ε) (kron, diag). */
  private localNoise(x: tf.Tensor, seeds: SeedStream): tf.Tensor {
    const s = this.rowScales(withOnes(x));
    const noise = tf.mul(tf.sqrt(s), seeds.normal(s.shape));
    return this.outputBasis ? tf.matMul(noise, this.outputBasis.read(), false, true) : noise;
  }

  /** One draw of W̃ − W̃_MAP [features + 1, units]: B diag(√v) ε. */
  private weightNoise(seeds: SeedStream): tf.Tensor {
    if (this.covarianceRoot) {
      const size = this.covarianceRoot.shape[1]!;
      return tf.reshape(tf.matMul(this.covarianceRoot.read(), seeds.normal([size, 1])), [size / this.units, this.units]);
    }
    const variance = this.variance!.read();
    const scaled = tf.mul(tf.sqrt(variance), seeds.normal(variance.shape));
    // Kron: (Q_in ⊗ Q_out) vec(E) = vec(Q_in E Q_outᵀ) in row-major order.
    return this.inputBasis ? tf.matMul(tf.matMul(this.inputBasis.read(), scaled), this.outputBasis!.read(), false, true) : scaled;
  }

  private who(name = this.name): string {
    return name ? `LaplaceDense '${name}'` : 'LaplaceDense';
  }
}
serialization.registerClass(LaplaceDense);

/** x̃ = [x, 1]: the bias as the weight of a constant feature. */
export function withOnes(x: tf.Tensor): tf.Tensor2D {
  return tf.concat([x, tf.ones([x.shape[0], 1])], 1) as tf.Tensor2D;
}
