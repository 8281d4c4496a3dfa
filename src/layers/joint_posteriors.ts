import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ArgumentError } from '../errors';
import { checkNumber, checkOneOf, checkOptions, invalidArgument } from '../validation';
import type { SeedStream } from '../random';
import type { Initializer } from './initializers';
import { rhoOf, sigmaOf } from './variational';

/**
 * The posterior and prior families of `DenseVariationalV2`: Gaussians over the layer's weights
 * flattened into one vector [kernel (row-major), bias], as TFP's `DenseVariational` sees them.
 * Each is a registered identifier plus numbers, so a layer's config stores no functions.
 */

/** Independent N(loc_i, σ_i²) per weight: n means, n scales. */
export interface MeanFieldPosteriorSpec {
  kind: 'meanField';
}
/** N(loc, LLᵀ) with a dense lower-triangular L: every pair of weights correlated; n² parameters. */
export interface FullCovariancePosteriorSpec {
  kind: 'fullCovariance';
}
/** N(loc, diag(d²) + VVᵀ) with V [n, rank]: the main directions of correlation; n·(rank + 2) parameters. */
export interface LowRankPosteriorSpec {
  kind: 'lowRank';
  /** Columns of V, an integer in [1, MAX_LOW_RANK]. Default 2. */
  rank?: number;
}
/** The posterior family of a `DenseVariationalV2`, plain data stored in its config. */
export type JointPosteriorSpec = MeanFieldPosteriorSpec | FullCovariancePosteriorSpec | LowRankPosteriorSpec;

/** A fixed N(mean, stddev²) on every weight: TFP's `prior` with no trainable variables. */
export interface FixedNormalPriorSpec {
  kind: 'fixedNormal';
  /** Default 0. */
  mean?: number;
  /** Default 1; > 0. */
  stddev?: number;
}
/**
 * A learnable prior (empirical Bayes, as TFP's `prior_trainable` example): a trainable mean per
 * weight, starting at `mean`, and one trainable scale shared by all weights, starting at `stddev`.
 * The shared scale keeps the prior from simply copying a mean-field posterior (KL 0).
 */
export interface LearnableNormalPriorSpec {
  kind: 'learnableNormal';
  /** Starting mean of every weight. Default 0. */
  mean?: number;
  /** Starting shared scale. Default 1; > 0. */
  stddev?: number;
}
/** The prior family of a `DenseVariationalV2`, plain data stored in its config. */
export type JointPriorSpec = FixedNormalPriorSpec | LearnableNormalPriorSpec;

/**
 * Most weights a full-covariance posterior may have: its scale matrix holds n² parameters (4 MB
 * at 1024 weights, 12 MB with Adam's two moments) and each sample costs n² multiply-adds.
 */
export const MAX_FULL_COVARIANCE_WEIGHTS = 1024;
/** Largest rank of a low-rank posterior: its KL takes a Cholesky factorisation of a rank × rank matrix, one column per step. */
export const MAX_LOW_RANK = 32;
/** Starting values: means N(0, 0.1) and scales softplus(N(−3, 0.1)) ≈ 0.049, as the mean-field layers; V starts at 0. */
const LOC_INIT = { mean: 0, stddev: 0.1 };
const RHO_INIT = { mean: -3, stddev: 0.1 };
/** `DenseVariationalV2`'s default posterior: mean field. */
export const DEFAULT_JOINT_POSTERIOR: MeanFieldPosteriorSpec = { kind: 'meanField' };
/** `DenseVariationalV2`'s default prior: a fixed N(0, 1) on every weight, as TFP's layers. */
export const DEFAULT_JOINT_PRIOR: Required<FixedNormalPriorSpec> = { kind: 'fixedNormal', mean: 0, stddev: 1 };
const DEFAULT_LOW_RANK = 2;

/** What a family needs from its layer: a way to add named weights. */
export type AddWeight = (name: string, shape: number[], initializer: Initializer, trainable?: boolean) => tfl.LayerVariable;

/** A Gaussian posterior N(loc, Σ) over the n weights. */
export interface JointPosterior {
  readonly spec: Required<JointPosteriorSpec>;
  /** Creates its weights for n weights. */
  build(who: string, size: number, addWeight: AddWeight, seeds: SeedStream): void;
  /** The mean, [n]. */
  loc(): tf.Tensor1D;
  /** One reparameterised draw loc + (Σ^½)ε, [n]: differentiable in every parameter. */
  sample(seeds: SeedStream): tf.Tensor1D;
  /** diag Σ, [n]. */
  variance(): tf.Tensor1D;
  /** log det Σ. */
  logDet(): tf.Scalar;
}

/** A diagonal Gaussian prior N(loc, diag(scale²)). */
export interface JointPrior {
  readonly spec: Required<JointPriorSpec>;
  /** Creates its weights (none for a fixed prior) for n weights. */
  build(size: number, addWeight: AddWeight): void;
  /** The mean per weight: [n] or a scalar. */
  loc(): tf.Tensor;
  /** The standard deviation per weight: [n] or a scalar. */
  scale(): tf.Tensor;
}

/**
 * KL(N(μ, Σ) ‖ N(m, diag(s²))) in closed form:
 * ½ [Σ_i (Σ_ii + (μ_i − m_i)²) / s_i² − n + Σ_i log s_i² − log det Σ]
 * (Rasmussen & Williams 2006, "Gaussian Processes for Machine Learning", eq. A.23).
 */
export function gaussianKl(posterior: JointPosterior, prior: JointPrior, size: number): tf.Scalar {
  return tf.tidy(() => {
    const priorVariance = tf.square(tf.broadcastTo(prior.scale(), [size]));
    const offset = tf.sub(posterior.loc(), prior.loc());
    const trace = tf.sum(tf.div(tf.add(posterior.variance(), tf.square(offset)), priorVariance));
    const logDetPrior = tf.sum(tf.log(priorVariance));
    return tf.mul(0.5, tf.sub(tf.add(tf.sub(trace, size), logDetPrior), posterior.logDet())) as tf.Scalar;
  });
}

const randomNormal = (init: { mean: number; stddev: number }, seeds: SeedStream) =>
  tfl.initializers.randomNormal({ ...init, seed: seeds.next() });

class MeanFieldPosterior implements JointPosterior {
  readonly spec: Required<JointPosteriorSpec> = { kind: 'meanField' };
  protected locVar!: tfl.LayerVariable;
  protected rhoVar!: tfl.LayerVariable;

  build(_who: string, size: number, addWeight: AddWeight, seeds: SeedStream): void {
    this.locVar = addWeight('loc', [size], randomNormal(LOC_INIT, seeds));
    this.rhoVar = addWeight('rho', [size], randomNormal(RHO_INIT, seeds));
  }

  loc(): tf.Tensor1D {
    return this.locVar.read() as tf.Tensor1D;
  }

  protected sigma(): tf.Tensor1D {
    return sigmaOf(this.rhoVar.read()) as tf.Tensor1D;
  }

  sample(seeds: SeedStream): tf.Tensor1D {
    return tf.tidy(() => tf.add(this.loc(), tf.mul(this.sigma(), seeds.normal([this.loc().size]))));
  }

  variance(): tf.Tensor1D {
    return tf.tidy(() => tf.square(this.sigma()));
  }

  logDet(): tf.Scalar {
    return tf.tidy(() => tf.mul(2, tf.sum(tf.log(this.sigma()))));
  }
}

/**
 * L = strictly-lower(T) + diag(softplus(rho) + floor): a Cholesky factor whatever T and rho hold.
 * Its diagonal is sigma, so log det LLᵀ = 2 Σ log σ_i, the mean-field formula it inherits.
 */
class FullCovariancePosterior extends MeanFieldPosterior {
  override readonly spec: Required<JointPosteriorSpec> = { kind: 'fullCovariance' };
  private trilVar!: tfl.LayerVariable;

  override build(who: string, size: number, addWeight: AddWeight, seeds: SeedStream): void {
    if (size > MAX_FULL_COVARIANCE_WEIGHTS) {
      throw new ArgumentError(
        `${who}: posterior 'fullCovariance' must have at most ${MAX_FULL_COVARIANCE_WEIGHTS} weights ` +
          `(its scale matrix has one parameter per pair); got ${size} weights, a ${size} × ${size} matrix. ` +
          "Use posterior { kind: 'lowRank', rank } or { kind: 'meanField' } for a layer this size.",
      );
    }
    super.build(who, size, addWeight, seeds);
    this.trilVar = addWeight('scale_tril', [size, size], tfl.initializers.zeros());
  }

  /** The Cholesky factor L of Σ, [n, n]. */
  scaleTril(): tf.Tensor2D {
    return tf.tidy(() => {
      const size = this.loc().size;
      const lower = tf.mul(this.trilVar.read(), tf.tensor2d(strictlyLowerMask(size), [size, size]));
      return tf.add(lower, diagonalMatrix(this.sigma())) as tf.Tensor2D;
    });
  }

  override sample(seeds: SeedStream): tf.Tensor1D {
    return tf.tidy(() => {
      const epsilon = seeds.normal([this.loc().size, 1]);
      return tf.add(this.loc(), tf.reshape(tf.matMul(this.scaleTril(), epsilon), [-1]));
    });
  }

  override variance(): tf.Tensor1D {
    return tf.tidy(() => tf.sum(tf.square(this.scaleTril()), 1));
  }
}

/** The n × n strictly-lower-triangular mask of ones, built once per size in JS (broadcast comparisons are slow on cpu). */
const strictlyLowerMasks = new Map<number, Float32Array>();
function strictlyLowerMask(size: number): Float32Array {
  let mask = strictlyLowerMasks.get(size);
  if (!mask) {
    mask = new Float32Array(size * size);
    for (let row = 1; row < size; row++) mask.fill(1, row * size, row * size + row);
    strictlyLowerMasks.set(size, mask);
  }
  return mask;
}

/**
 * diag(v) by padding each entry with n zeros and refolding: entry i lands at flat index i·(n + 1),
 * which is (i, i). Contiguous ops with gradients (tf.diag has none).
 */
function diagonalMatrix(values: tf.Tensor1D): tf.Tensor2D {
  const size = values.size;
  const padded = tf.pad(tf.reshape(values, [size, 1]), [[0, 0], [0, size]]);
  return tf.reshape(tf.slice(tf.reshape(padded, [-1]), 0, size * size), [size, size]);
}

/** Σ = D + VVᵀ, D = diag(σ²): sampled as loc + σ ⊙ ε₁ + V ε₂. */
class LowRankPosterior extends MeanFieldPosterior {
  override readonly spec: Required<LowRankPosteriorSpec>;
  private readonly rank: number;
  private factorVar!: tfl.LayerVariable;

  constructor(who: string, rank: unknown) {
    super();
    this.rank = checkNumber(who, 'posterior.rank', rank ?? DEFAULT_LOW_RANK, { min: 1, max: MAX_LOW_RANK, integer: true });
    this.spec = { kind: 'lowRank', rank: this.rank };
  }

  override build(who: string, size: number, addWeight: AddWeight, seeds: SeedStream): void {
    if (this.rank >= size) {
      invalidArgument(who, 'posterior.rank', `smaller than the number of weights (${size})`, this.rank, "Use { kind: 'fullCovariance' } instead.");
    }
    super.build(who, size, addWeight, seeds);
    this.factorVar = addWeight('cov_factor', [size, this.rank], tfl.initializers.zeros());
  }

  override sample(seeds: SeedStream): tf.Tensor1D {
    return tf.tidy(() => {
      const diagonal = tf.mul(this.sigma(), seeds.normal([this.loc().size]));
      const lowRank = tf.reshape(tf.matMul(this.factorVar.read(), seeds.normal([this.rank, 1])), [-1]);
      return tf.add(this.loc(), tf.add(diagonal, lowRank));
    });
  }

  override variance(): tf.Tensor1D {
    return tf.tidy(() => tf.add(super.variance(), tf.sum(tf.square(this.factorVar.read()), 1)));
  }

  /** Matrix determinant lemma: log det(D + VVᵀ) = log det D + log det(I + Vᵀ D⁻¹ V). */
  override logDet(): tf.Scalar {
    return tf.tidy(() => {
      const scaled = tf.div(this.factorVar.read(), tf.expandDims(this.sigma(), 1));
      const capacitance = tf.add(tf.eye(this.rank), tf.matMul(scaled, scaled, true, false));
      return tf.add(super.logDet(), choleskyLogDet(capacitance)) as tf.Scalar;
    });
  }
}

/**
 * log det A = 2 Σ log L_jj for a symmetric positive-definite A = LLᵀ, by the Cholesky–Banachiewicz
 * recursion one column at a time in tensor ops (tfjs has no Cholesky), so it has gradients.
 */
function choleskyLogDet(a: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const size = a.shape[0];
    const columns: tf.Tensor[] = [];
    const logDiagonal: tf.Tensor[] = [];
    for (let j = 0; j < size; j++) {
      let column = tf.reshape(tf.slice(a, [0, j], [size, 1]), [size]);
      for (const previous of columns) column = tf.sub(column, tf.mul(previous, tf.slice(previous, [j], [1])));
      const pivot = tf.sqrt(tf.slice(column, [j], [1]));
      const below = tf.concat([tf.zeros([j]), tf.ones([size - j])]);
      columns.push(tf.mul(tf.div(column, pivot), below));
      logDiagonal.push(tf.log(pivot));
    }
    return tf.mul(2, tf.sum(tf.concat(logDiagonal))) as tf.Scalar;
  });
}

class NormalJointPrior implements JointPrior {
  readonly spec: Required<JointPriorSpec>;
  private locVar: tfl.LayerVariable | null = null;
  private rhoVar: tfl.LayerVariable | null = null;

  constructor(spec: Required<JointPriorSpec>) {
    this.spec = spec;
  }

  build(size: number, addWeight: AddWeight): void {
    if (this.spec.kind !== 'learnableNormal') return;
    this.locVar = addWeight('prior_loc', [size], tfl.initializers.constant({ value: this.spec.mean }));
    const rho = tf.tidy(() => rhoOf(tf.scalar(this.spec.stddev)).dataSync()[0]);
    this.rhoVar = addWeight('prior_rho', [], tfl.initializers.constant({ value: rho }));
  }

  loc(): tf.Tensor {
    return this.locVar ? this.locVar.read() : tf.scalar(this.spec.mean);
  }

  scale(): tf.Tensor {
    return this.rhoVar ? sigmaOf(this.rhoVar.read()) : tf.scalar(this.spec.stddev);
  }
}

/** Builds the posterior a spec describes; `who` names the layer in errors. */
export function createJointPosterior(who: string, spec: JointPosteriorSpec = DEFAULT_JOINT_POSTERIOR): JointPosterior {
  if (typeof spec !== 'object' || spec === null) invalidArgument(who, 'posterior', "an object { kind: 'meanField' | 'fullCovariance' | 'lowRank' }", spec);
  const kind = checkOneOf(who, 'posterior.kind', spec.kind, ['meanField', 'fullCovariance', 'lowRank']);
  checkOptions(who, spec, kind === 'lowRank' ? ['kind', 'rank'] : ['kind'], 'posterior');
  if (kind === 'lowRank') return new LowRankPosterior(who, (spec as LowRankPosteriorSpec).rank);
  return kind === 'fullCovariance' ? new FullCovariancePosterior() : new MeanFieldPosterior();
}

/** Builds the prior a spec describes; `who` names the layer in errors. */
export function createJointPrior(who: string, spec: JointPriorSpec = DEFAULT_JOINT_PRIOR): JointPrior {
  if (typeof spec !== 'object' || spec === null) invalidArgument(who, 'prior', "an object { kind: 'fixedNormal' | 'learnableNormal', mean, stddev }", spec);
  const kind = checkOneOf(who, 'prior.kind', spec.kind, ['fixedNormal', 'learnableNormal']);
  checkOptions(who, spec, ['kind', 'mean', 'stddev'], 'prior');
  const mean = checkNumber(who, 'prior.mean', spec.mean ?? DEFAULT_JOINT_PRIOR.mean);
  const stddev = checkNumber(who, 'prior.stddev', spec.stddev ?? DEFAULT_JOINT_PRIOR.stddev, { min: 0, exclusiveMin: true });
  return new NormalJointPrior({ kind, mean, stddev });
}
