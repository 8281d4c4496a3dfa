import * as tf from '@tensorflow/tfjs-core';
import { backendHasKernel } from '../kernel_hooks';
import type { SeedStream } from '../random';
import { checkBoolean, checkNumber, checkOneOf, invalidArgument } from '../validation';

/** What every prior spec may say besides its kind. */
interface PriorSpecBase {
  /** Mean of the prior on every weight. Default 0. */
  mean?: number;
  /**
   * Centre the prior on per-weight means stored in the layer (non-trainable weights
   * `kernel_prior_mean`, `bias_prior_mean`, saved with the model) instead of one `mean`: MOPED
   * sets them to the deterministic weights (Krishnan et al. 2020). They start at `mean`. Default false.
   */
  meanFromWeights?: boolean;
}

/** A Normal prior N(mean, stddev²) on every weight: TFP's default with mean 0 and stddev 1. */
export interface NormalPriorSpec extends PriorSpecBase {
  kind?: 'normal';
  /** Standard deviation, > 0. Default 1. */
  stddev?: number;
}

/**
 * The scale-mixture prior of Blundell et al. 2015, eq. 7: π N(mean, σ1²) + (1 − π) N(mean, σ2²),
 * a wide component plus a narrow one that pulls many weights to nearly zero. Its KL has no closed
 * form: each evaluation is a single-sample Monte Carlo estimate (unbiased, noisy; see `divergence`).
 */
export interface ScaleMixturePriorSpec extends PriorSpecBase {
  kind: 'scaleMixture';
  /** Weight π of the first component, in [0, 1]. Default 0.5. */
  pi?: number;
  /** Standard deviation σ1 of the first (wide) component, > 0. Default 1. */
  stddev1?: number;
  /** Standard deviation σ2 of the second (narrow) component, > 0. Default e⁻⁶ ≈ 0.0025, as in the paper. */
  stddev2?: number;
}

/** The prior a variational layer regularises its posterior towards. Plain data, so it serialises. */
export type PriorSpec = NormalPriorSpec | ScaleMixturePriorSpec;

/** What a prior may need besides the posterior to measure the KL. */
export interface DivergenceContext {
  /** Per-weight prior means, shaped like `loc`, for a prior with `meanFromWeights`. */
  mean?: tf.Tensor;
  /** Noise for a prior whose KL is estimated by sampling. */
  seeds?: SeedStream;
}

/** A prior that can measure how far a mean-field Normal posterior is from it. */
export interface Prior {
  /** The mean of every weight (the starting value of the per-weight means when `meanFromWeights`). */
  readonly mean: number;
  /** Whether the layer must store per-weight prior means and pass them as `context.mean`. */
  readonly meanFromWeights: boolean;
  /** KL(q ‖ p) summed over all weights, for q = N(loc, sigma²) elementwise. */
  divergence(loc: tf.Tensor, sigma: tf.Tensor, context?: DivergenceContext): tf.Scalar;
  /** The spec that rebuilds this prior, stored in the layer config. */
  toSpec(): PriorSpec;
}

/** The default prior, N(0, 1) on every weight (TFP's), with every field filled in. */
export const DEFAULT_PRIOR: Required<NormalPriorSpec> = { kind: 'normal', mean: 0, stddev: 1, meanFromWeights: false };
/** The scale-mixture prior's defaults: π = 0.5, σ1 = 1, σ2 = e^−6, values from the grid Blundell et al. 2015 searched. */
export const DEFAULT_SCALE_MIXTURE: Required<ScaleMixturePriorSpec> = {
  kind: 'scaleMixture',
  pi: 0.5,
  stddev1: 1,
  stddev2: Math.exp(-6),
  mean: 0,
  meanFromWeights: false,
};

const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** The fields every prior reads from its spec, validated. */
function baseFields(who: string, spec: PriorSpecBase): { mean: number; meanFromWeights: boolean } {
  return {
    mean: checkNumber(who, 'prior.mean', spec.mean ?? DEFAULT_PRIOR.mean),
    meanFromWeights: checkBoolean(who, 'prior.meanFromWeights', spec.meanFromWeights ?? false),
  };
}

function positive(who: string, argument: string, value: number): number {
  return checkNumber(who, argument, value, { min: 0, exclusiveMin: true });
}

export class NormalPrior implements Prior {
  readonly mean: number;
  readonly meanFromWeights: boolean;
  readonly stddev: number;

  constructor(who: string, spec: NormalPriorSpec = {}) {
    ({ mean: this.mean, meanFromWeights: this.meanFromWeights } = baseFields(who, spec));
    this.stddev = positive(who, 'prior.stddev', spec.stddev ?? DEFAULT_PRIOR.stddev);
  }

  /**
   * Closed form: log(σp/σq) + (σq² + (μq − μp)²) / (2σp²) − ½, summed; with its gradient written
   * out, ∂/∂μq = (μq − μp)/σp² and ∂/∂σq = σq/σp² − 1/σq, so a training step makes ~10 passes over
   * the kernel for the KL instead of the ~30 tfjs' autodiff of the elementwise chain makes.
   */
  divergence(loc: tf.Tensor, sigma: tf.Tensor, context: DivergenceContext = {}): tf.Scalar {
    if (context.mean === undefined && backendHasKernel(NORMAL_KL_KERNEL)) {
      return tf.engine().runKernel(NORMAL_KL_KERNEL, { loc, sigma }, { priorMean: this.mean, priorStddev: this.stddev }) as tf.Scalar;
    }
    const priorVariance = this.stddev * this.stddev;
    const priorMean = context.mean ?? this.mean;
    // μq − μp, skipping a pass over the kernel for the default prior mean 0.
    const offset = (mu: tf.Tensor) => (priorMean === 0 ? mu : tf.sub(mu, priorMean));
    // customGrad's callback receives the inputs and then the save function, typed as one union.
    const kl = tf.customGrad<tf.Scalar>((...args) => {
      const [mu, sd, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      save([mu, sd]);
      const value = tf.tidy(() => {
        const squares = tf.add(sumOfSquares(sd), sumOfSquares(offset(mu)));
        const constant = sd.size * (Math.log(this.stddev) - 0.5);
        return tf.add(tf.sub(tf.div(squares, 2 * priorVariance), tf.sum(tf.log(sd))), constant) as tf.Scalar;
      });
      return {
        value,
        gradFunc: (dy, [savedLoc, savedSigma]) => {
          const scale = tf.div(dy, priorVariance);
          return [tf.mul(offset(savedLoc), scale), tf.sub(tf.mul(savedSigma, scale), tf.div(dy, savedSigma))];
        },
      };
    });
    return kl(loc, sigma);
  }

  toSpec(): PriorSpec {
    return { kind: 'normal', mean: this.mean, stddev: this.stddev, meanFromWeights: this.meanFromWeights };
  }
}

/**
 * A kernel a backend may register to compute NormalPrior's divergence in one pass, with its
 * gradient (inputs `loc`, `sigma`; attributes `priorMean`, `priorStddev`): `registerNativeTrainingKernels`
 * registers one for `tensorflow`, a pass each way where the formula above makes four.
 */
export const NORMAL_KL_KERNEL = 'TfjsTrustNormalKl';

/**
 * A kernel a backend may register to compute Σ t² (input `x`) in one fused pass:
 * `registerNativeTrainingKernels` registers TensorFlow's `L2Loss` for `tensorflow`, where the
 * matrix product below takes ~0.9 ms for a 1024 × 512 kernel against ~0.1 ms. Forward only: it
 * serves the KL's value, whose gradient is written out.
 */
export const SUM_OF_SQUARES_KERNEL = 'TfjsTrustSumOfSquares';

/** Σ t², as one matrix product [1, n]·[n, 1]: a single pass over `t` on every backend. */
function sumOfSquares(t: tf.Tensor): tf.Scalar {
  if (backendHasKernel(SUM_OF_SQUARES_KERNEL)) {
    return tf.engine().runKernel(SUM_OF_SQUARES_KERNEL, { x: t }) as tf.Scalar;
  }
  return tf.tidy(() => {
    const row = tf.reshape(t, [1, t.size]);
    return tf.reshape(tf.matMul(row, row, false, true), []);
  });
}

export class ScaleMixturePrior implements Prior {
  readonly mean: number;
  readonly meanFromWeights: boolean;
  readonly pi: number;
  readonly stddev1: number;
  readonly stddev2: number;

  constructor(who: string, spec: ScaleMixturePriorSpec) {
    ({ mean: this.mean, meanFromWeights: this.meanFromWeights } = baseFields(who, spec));
    this.pi = checkNumber(who, 'prior.pi', spec.pi ?? DEFAULT_SCALE_MIXTURE.pi, { min: 0, max: 1 });
    this.stddev1 = positive(who, 'prior.stddev1', spec.stddev1 ?? DEFAULT_SCALE_MIXTURE.stddev1);
    this.stddev2 = positive(who, 'prior.stddev2', spec.stddev2 ?? DEFAULT_SCALE_MIXTURE.stddev2);
  }

  /**
   * Single-sample Monte Carlo estimate of KL(q ‖ p) = −H(q) − E_q[log p(w)] (Blundell et al. 2015,
   * eq. 2): the entropy of q is exact, the cross term uses one draw w = loc + sigma·ε. Unbiased, so
   * its noise averages out over training steps like the data term's; each call draws a new w.
   */
  divergence(loc: tf.Tensor, sigma: tf.Tensor, context: DivergenceContext = {}): tf.Scalar {
    return tf.tidy(() => {
      const noise = context.seeds ? context.seeds.normal(loc.shape) : tf.randomNormal(loc.shape);
      const weights = tf.add(loc, tf.mul(sigma, noise));
      const offset = tf.sub(weights, context.mean ?? this.mean);
      // Each component's log π_k + log N(w; mean, σ_k²); a component of weight 0 drops out.
      const components = [
        [this.pi, this.stddev1],
        [1 - this.pi, this.stddev2],
      ].filter(([share]) => share > 0);
      const logTerms = components.map(([share, stddev]) =>
        tf.sub(Math.log(share) - Math.log(stddev) - HALF_LOG_TWO_PI, tf.div(tf.square(offset), 2 * stddev * stddev)),
      );
      const logPrior = tf.logSumExp(tf.stack(logTerms), 0);
      // −H(q) = Σ −log σ − ½ log 2π − ½ (Normal entropy, exact).
      const negativeEntropy = tf.sub(tf.neg(tf.log(sigma)), HALF_LOG_TWO_PI + 0.5);
      return tf.sum(tf.sub(negativeEntropy, logPrior));
    });
  }

  toSpec(): PriorSpec {
    return {
      kind: 'scaleMixture',
      pi: this.pi,
      stddev1: this.stddev1,
      stddev2: this.stddev2,
      mean: this.mean,
      meanFromWeights: this.meanFromWeights,
    };
  }
}

/** Builds the prior a spec describes; `who` names the layer in errors. */
export function createPrior(who: string, spec: PriorSpec = {}): Prior {
  if (typeof spec !== 'object' || spec === null) invalidArgument(who, 'prior', 'an object { kind, mean, stddev }', spec);
  const kind = checkOneOf(who, 'prior.kind', spec.kind ?? 'normal', ['normal', 'scaleMixture']);
  return kind === 'scaleMixture' ? new ScaleMixturePrior(who, spec as ScaleMixturePriorSpec) : new NormalPrior(who, spec as NormalPriorSpec);
}
