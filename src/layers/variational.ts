import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { backendHasKernel } from '../kernel_hooks';
import { ShapeError } from '../errors';
import { SeedStream } from '../random';
import { checkBoolean, checkNumber, checkOneOf, describe, invalidArgument } from '../validation';
import { ESTIMATORS, type KernelDraw, type KernelPosterior, kernelSampler, type LinearMap } from './estimators';
import { type Initializer, type InitializerSpec, resolveInitializer, serializeInitializer } from './initializers';
import { createPrior, NormalPrior, type Prior, type PriorSpec } from './priors';
import { callSampling, SAMPLING_MODES, type SamplingMode, type SamplingOverride, type StochasticLayer } from './sampling';

/** The activation names tfjs-layers accepts (`'relu'`, `'softmax'`, ...), which it does not export by name. */
export type ActivationIdentifier = NonNullable<Parameters<typeof tfl.layers.activation>[0]['activation']>;
/** tfjs-layers' base layer arguments (name, inputShape, trainable, ...), which it does not export by name. */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

/** `sigma = softplus(rho) + SIGMA_FLOOR`: float32 machine epsilon, as TFP uses, so sigma never hits 0. */
export const SIGMA_FLOOR = 1.1920929e-7;
/** TFP's `default_mean_field_normal_fn` draws every posterior mean from N(0, 0.1). */
const TFP_LOC_STDDEV = 0.1;

/** Arguments every variational layer shares: activation, bias, prior, KL weight, sampling and initialisers. */
export interface VariationalLayerArgs extends LayerArgs {
  /** Activation of the output, a tfjs-layers identifier such as `'relu'` or `'softmax'`. Default none. */
  activation?: ActivationIdentifier;
  /** Whether the layer adds a bias. Default true. */
  useBias?: boolean;
  /** `'pointEstimate'` (default, as TFP): a plain learned bias. `'normal'`: a Gaussian posterior like the kernel's. */
  biasPosterior?: 'pointEstimate' | 'normal';
  /** The prior on every weight. Default N(0, 1). */
  prior?: PriorSpec;
  /**
   * Multiplies the KL term added to the model's loss. Set it to 1 / (number of training examples):
   * Keras losses are means over examples, so the ELBO's single KL term must be spread over them
   * too, or it swamps the data term. Default 1.
   */
  klWeight?: number;
  /** How the layer samples on each call (see SamplingMode). The default depends on the layer class. */
  mode?: SamplingMode;
  /** Seed for reproducible samples: the same seed gives the same sequence of calls. Default: fresh randomness. */
  seed?: number;
  /** Initialiser of the posterior means. Default N(0, 0.1), as TFP. */
  kernelLocInitializer?: InitializerSpec;
  /** Initialiser of the unconstrained scales rho. Default N(-3, 0.1), as TFP (sigma ≈ 0.049). */
  kernelRhoInitializer?: InitializerSpec;
  /**
   * Initialiser of the bias (its posterior mean). Default zeros, as a Keras Dense; `'tfp'` draws
   * N(0, 0.1) as TFP's `default_mean_field_normal_fn` does (seeded by `seed`).
   */
  biasLocInitializer?: InitializerSpec | 'tfp';
}

/**
 * Base of every mean-field Gaussian variational layer. It owns the posterior (loc, rho per weight),
 * the optional Gaussian bias, the prior, the KL term and the config. A subclass says only
 * - the geometry: kernel shape and linear map (matrix product, convolution), and
 * - its default estimator (`defaultMode`): Flipout, reparameterisation or local reparameterisation.
 *
 * Every call samples, in training and prediction alike (as TFP): `model.predict` twice gives two
 * samples. Use mode `'mean'` (per layer, per call, or model-wide with `withSampling`) for
 * deterministic outputs. Reference: Blundell et al. 2015, "Weight Uncertainty in Neural Networks".
 */
export abstract class VariationalLayer extends tfl.layers.Layer implements StochasticLayer {
  readonly stochastic = true;
  readonly supportedModes = SAMPLING_MODES;
  abstract readonly independentRowsMode: SamplingMode | null;
  samplingOverride: SamplingOverride | null = null;

  readonly activation: ActivationIdentifier;
  readonly useBias: boolean;
  readonly biasPosterior: 'pointEstimate' | 'normal';
  readonly prior: Prior;
  readonly klWeight: number;
  readonly mode: SamplingMode;
  readonly seed: number | undefined;
  protected readonly kernelLocInitializer: Initializer;
  protected readonly kernelRhoInitializer: Initializer;
  protected readonly biasLocInitializer: Initializer;

  protected kernelLoc!: tfl.LayerVariable;
  protected kernelRho!: tfl.LayerVariable;
  protected biasLoc: tfl.LayerVariable | null = null;
  protected biasRho: tfl.LayerVariable | null = null;
  /** Per-weight prior means, present only when the prior has `meanFromWeights` (MOPED). */
  protected kernelPriorMean: tfl.LayerVariable | null = null;
  protected biasPriorMean: tfl.LayerVariable | null = null;
  private readonly seeds: SeedStream;
  /** Its own stream, so a sampled KL (scale-mixture prior) does not shift the forward pass's noise. */
  private readonly klSeeds: SeedStream;
  private readonly activationLayer: tfl.layers.Layer;
  /** σ of the kernel for the current training step (see shareKernelSigma). */
  private readonly stepSigma = new StepTensor<tf.Tensor>();
  /** The KL of the current training step from the fused draw (see drawFused). */
  private readonly stepKl = new StepTensor<tf.Scalar>();

  constructor(args: VariationalLayerArgs) {
    super(args);
    const who = this.who(args.name ?? '');
    this.activation = args.activation ?? 'linear';
    this.activationLayer = activationLayer(who, this.activation);
    this.useBias = checkBoolean(who, 'useBias', args.useBias ?? true);
    this.biasPosterior = checkOneOf(who, 'biasPosterior', args.biasPosterior ?? 'pointEstimate', [
      'pointEstimate',
      'normal',
    ]);
    this.prior = createPrior(who, args.prior);
    this.klWeight = checkNumber(who, 'klWeight', args.klWeight ?? 1, { min: 0 });
    this.mode = checkOneOf(who, 'mode', args.mode ?? this.defaultMode(), SAMPLING_MODES);
    // A saved config stores "no seed" as null (JSON has no undefined).
    this.seed = args.seed == null ? undefined : checkNumber(who, 'seed', args.seed, { integer: true });
    this.seeds = new SeedStream(this.seed, this.getClassName());
    this.klSeeds = new SeedStream(this.seed, `${this.getClassName()}:kl`);
    // A seeded layer also starts from reproducible weights: the default initialisers share its seed.
    const initSeeds = new SeedStream(this.seed, `${this.getClassName()}:init`);
    this.kernelLocInitializer = resolveInitializer(
      who,
      'kernelLocInitializer',
      args.kernelLocInitializer ?? tfl.initializers.randomNormal({ mean: 0, stddev: TFP_LOC_STDDEV, seed: initSeeds.next() }),
    );
    this.kernelRhoInitializer = resolveInitializer(
      who,
      'kernelRhoInitializer',
      args.kernelRhoInitializer ?? tfl.initializers.randomNormal({ mean: -3, stddev: 0.1, seed: initSeeds.next() }),
    );
    // Drawn after the kernel's two, so choosing 'tfp' leaves the kernel's initial values as they were.
    const tfpBias = tfl.initializers.randomNormal({ mean: 0, stddev: TFP_LOC_STDDEV, seed: initSeeds.next() });
    const biasLoc = args.biasLocInitializer ?? tfl.initializers.zeros();
    this.biasLocInitializer = biasLoc === 'tfp' ? tfpBias : resolveInitializer(who, 'biasLocInitializer', biasLoc);
    this.supportsMasking = true;
  }

  /** The estimator this class uses when no mode is given. */
  protected abstract defaultMode(): SamplingMode;
  /** Number of output channels: the bias length. */
  protected abstract get outputChannels(): number;
  /** The kernel's shape for an input of `inputShape`. */
  protected abstract kernelShape(inputShape: tfl.Shape): number[];
  /** The linear map the kernel defines (a matrix product, a convolution). */
  protected abstract readonly linear: LinearMap;

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape);
    if (shape.length < 2) {
      throw new ShapeError(
        `${this.who()}: input must have rank >= 2 (a batch axis then features); got shape ${describe(shape)}. ` +
          'Add a batch axis or reshape the input.',
      );
    }
    const kernelShape = this.kernelShape(shape);
    this.kernelLoc = this.addWeight('kernel_loc', kernelShape, 'float32', this.kernelLocInitializer);
    this.kernelRho = this.addWeight('kernel_rho', kernelShape, 'float32', this.kernelRhoInitializer);
    if (this.useBias) {
      const biasShape = [this.outputChannels];
      this.biasLoc = this.addWeight('bias_loc', biasShape, 'float32', this.biasLocInitializer);
      if (this.biasPosterior === 'normal') {
        this.biasRho = this.addWeight('bias_rho', biasShape, 'float32', this.kernelRhoInitializer);
      }
    }
    if (this.prior.meanFromWeights) {
      const priorMean = tfl.initializers.constant({ value: this.prior.mean });
      this.kernelPriorMean = this.addWeight('kernel_prior_mean', kernelShape, 'float32', priorMean, undefined, false);
      if (this.biasRho) {
        this.biasPriorMean = this.addWeight('bias_prior_mean', [this.outputChannels], 'float32', priorMean, undefined, false);
      }
    }
    this.addLoss(() => tf.tidy(() => tf.mul(this.klDivergence(), this.klWeight)));
    this.built = true;
  }

  /**
   * Checks the input against the shape the layer was built for before tfjs-layers does, so a
   * mismatch is a ShapeError naming the layer, the size expected and the fix, not tfjs's ValueError.
   */
  override apply(inputs: Parameters<tfl.layers.Layer['apply']>[0], kwargs?: Kwargs): ReturnType<tfl.layers.Layer['apply']> {
    checkBuiltInput(this.who(), inputs, this.inputSpec);
    return super.apply(inputs, kwargs);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const { mode, seeds } = callSampling(this.who(), kwargs.mode, this, this.seeds);
    // Outside the tidy below, so that the KL closure of the same training step finds them alive.
    const drawn = this.drawFused(mode, seeds);
    if (mode !== 'mean' && drawn === null) this.shareKernelSigma();
    return tf.tidy(() => {
      const x = floatInput(inputs);
      let y = this.applyKernel(x, mode, seeds, drawn);
      if (this.biasLoc) y = tf.add(y, this.applyBias(y.shape, mode, seeds));
      return this.activationLayer.apply(y) as tf.Tensor;
    });
  }

  /**
   * Draws the kernel's contribution to the output with the estimator `mode` names; `drawn` is
   * this call's μ and ΔW when drawFused drew them, else null (the estimator draws ΔW).
   */
  protected applyKernel(x: tf.Tensor, mode: SamplingMode, seeds: SeedStream, drawn: KernelDraw | null): tf.Tensor {
    const kernel = drawn
      ? kernelSampler(drawn.loc, () => this.kernelPosterior().sigma, drawn.perturbation)
      : kernelSampler(this.kernelLoc.read(), () => this.kernelPosterior().sigma);
    return ESTIMATORS[mode](this.linear, x, kernel, seeds);
  }

  /**
   * Under a gradient tape, where the backend has a kernel for it (POSTERIOR_DRAW_KERNEL): this
   * call's perturbation ΔW = σ ⊙ ε, drawn from the next seed as the estimator would, and the
   * kernel's KL, in one fused pass; the KL closure of the same step then reads that KL. μ passes
   * through the kernel, so that its gradient adds the data's share and the KL's in one pass. Like
   * shareKernelSigma, the tensors belong to the caller's scope (the tape's), which disposes them
   * when the step ends. Null where it does not apply: the 'local' and 'mean' estimators, priors
   * without a closed form or with per-weight means, replayed noise, other backends, no tape.
   */
  private drawFused(mode: SamplingMode, seeds: SeedStream): KernelDraw | null {
    const prior = this.prior;
    const applies =
      (mode === 'flipout' || mode === 'sample') &&
      seeds.drawsOwnNoise &&
      prior instanceof NormalPrior &&
      this.kernelPriorMean === null &&
      tf.engine().isTapeOn() &&
      backendHasKernel(POSTERIOR_DRAW_KERNEL);
    if (!applies) return null;
    const loc = this.kernelLoc.read();
    const rho = this.kernelRho.read();
    const attrs = { seed: seeds.drawSeed(), floor: SIGMA_FLOOR, priorMean: prior.mean, priorStddev: prior.stddev };
    const [perturbation, kl, locUsed] = tf.engine().runKernel(POSTERIOR_DRAW_KERNEL, { loc, rho }, attrs) as tf.Tensor[];
    this.stepKl.keep(kl as tf.Scalar, [loc, rho]);
    return { loc: locUsed, perturbation };
  }

  private applyBias(outputShape: number[], mode: SamplingMode, seeds: SeedStream): tf.Tensor {
    const loc = this.biasLoc!.read();
    if (!this.biasRho || mode === 'mean') return loc;
    const sigma = sigmaOf(this.biasRho.read());
    // 'local' draws each example's bias independently so every row stays an exact, independent sample.
    const noiseShape = mode === 'local' ? outputShape : loc.shape;
    return tf.add(loc, tf.mul(sigma, seeds.normal(noiseShape)));
  }

  /**
   * The kernel posterior's mean and standard deviation. `loc` is the layer's variable; `sigma` is
   * a new tensor the caller disposes, or, within a training step, the step's shared one (below).
   */
  kernelPosterior(): KernelPosterior {
    return { loc: this.kernelLoc.read(), sigma: this.stepSigma.live([this.kernelRho.read()]) ?? sigmaOf(this.kernelRho.read()) };
  }

  /**
   * Under a gradient tape, computes the kernel's σ = softplus(ρ) once for the whole training step:
   * tfjs-layers evaluates the KL closure in the same tape right after the forward pass, which then
   * reuses this σ instead of computing softplus and its gradient a second time (StepTensor says
   * for how long). With no tape on, nothing is shared: outside a tape there is no step to share
   * in, and no enclosing scope guaranteed to dispose it.
   */
  private shareKernelSigma(): void {
    const rho = this.kernelRho.read();
    if (!tf.engine().isTapeOn() || this.stepSigma.live([rho]) !== null) return;
    this.stepSigma.keep(sigmaOf(rho), [rho]);
  }

  /**
   * KL(posterior ‖ prior) over the kernel (and the bias when Gaussian), before klWeight. Exact for a
   * Normal prior; a fresh single-sample estimate on each call for the scale-mixture prior.
   */
  klDivergence(): tf.Scalar {
    return tf.tidy(() => {
      const seeds = this.klSeeds;
      let kl = this.stepKl.live([this.kernelLoc.read(), this.kernelRho.read()]) ?? this.kernelDivergence(seeds);
      if (this.biasLoc && this.biasRho) {
        const biasSigma = sigmaOf(this.biasRho.read());
        kl = tf.add(kl, this.prior.divergence(this.biasLoc.read(), biasSigma, { mean: this.biasPriorMean?.read(), seeds }));
      }
      return kl;
    });
  }

  private kernelDivergence(seeds: SeedStream): tf.Scalar {
    const { loc, sigma } = this.kernelPosterior();
    return this.prior.divergence(loc, sigma, { mean: this.kernelPriorMean?.read(), seeds });
  }

  override getConfig(): serialization.ConfigDict {
    return {
      activation: this.activation,
      useBias: this.useBias,
      biasPosterior: this.biasPosterior,
      prior: this.prior.toSpec() as serialization.ConfigDict,
      klWeight: this.klWeight,
      mode: this.mode,
      seed: this.seed ?? null,
      kernelLocInitializer: serializeInitializer(this.kernelLocInitializer),
      kernelRhoInitializer: serializeInitializer(this.kernelRhoInitializer),
      biasLocInitializer: serializeInitializer(this.biasLocInitializer),
      ...super.getConfig(),
    };
  }

  /** How errors name this layer: its class and its name (only the user's own in the constructor). */
  protected who(name = this.name): string {
    return name ? `${this.getClassName()} '${name}'` : this.getClassName();
  }
}

/**
 * A tensor made for one training step from some weights, for a later part of the same step to
 * reuse. It belongs to the caller's scope (the gradient tape's forward `tidy`, which disposes it
 * when the step ends), so it is handed out only while a tape is on, while it is alive, and while
 * the weights are the same tensors (an optimizer update assigns them new ones).
 */
class StepTensor<T extends tf.Tensor> {
  private entry: { tensor: T; sources: tf.DataId[] } | null = null;

  keep(tensor: T, sources: tf.Tensor[]): void {
    this.entry = { tensor, sources: sources.map((source) => source.dataId) };
  }

  live(sources: tf.Tensor[]): T | null {
    const entry = this.entry;
    const alive =
      entry !== null &&
      tf.engine().isTapeOn() &&
      !entry.tensor.isDisposed &&
      sources.every((source, i) => source.dataId === entry.sources[i]);
    return alive ? entry.tensor : null;
  }
}

/** sigma = softplus(rho) + SIGMA_FLOOR: positive, and smooth in rho for gradient descent. */
export function sigmaOf(rho: tf.Tensor): tf.Tensor {
  if (rho.dtype === 'float32' && backendHasKernel(SIGMA_KERNEL)) {
    return tf.engine().runKernel(SIGMA_KERNEL, { rho }, { floor: SIGMA_FLOOR }) as tf.Tensor;
  }
  return tf.tidy(() => tf.add(tf.softplus(rho), SIGMA_FLOOR));
}

/**
 * A kernel a backend may register to compute sigmaOf in one pass (input `rho`, attribute `floor`),
 * with its gradient: `registerNativeTrainingKernels` registers one for `tensorflow`, ~3× faster
 * than TensorFlow's Softplus and the add.
 */
export const SIGMA_KERNEL = 'TfjsTrustSigma';

/**
 * A kernel a backend may register to draw a training step's perturbation and KL in one pass, with
 * its gradient: inputs `loc`, `rho`; attributes `seed` (ε is `SeedStream`'s normal noise for that
 * seed), `floor` (SIGMA_FLOOR), `priorMean`, `priorStddev`; outputs [σ ⊙ ε, KL(posterior ‖ Normal
 * prior), loc passed through]. `registerNativeTrainingKernels` registers one for `tensorflow`
 * (VariationalLayer.drawFused).
 */
export const POSTERIOR_DRAW_KERNEL = 'TfjsTrustNormalPosteriorDraw';

/** The inverse of sigmaOf, for setting a posterior's scale directly (MOPED, tests). */
export function rhoOf(sigma: tf.Tensor): tf.Tensor {
  // softplus⁻¹(s) = log(expm1(s)). tfjs has no expm1 and exp(s) − 1 loses all precision for tiny s
  // in float32, where log(expm1(s)) = log(s) + s/2 + O(s²) is exact to float32 instead.
  return tf.tidy(() => {
    const s = tf.maximum(tf.sub(sigma, SIGMA_FLOOR), Number.MIN_VALUE);
    const small = tf.add(tf.log(s), tf.div(s, 2));
    const large = tf.log(tf.sub(tf.exp(s), 1));
    return tf.where(tf.less(s, SMALL_SIGMA), small, large);
  });
}

/** Below this, rhoOf uses the series of log(expm1(s)) rather than exp. */
const SMALL_SIGMA = 1e-3;

/**
 * A layer's `apply` check: the first input against the spec it was built for, before tfjs-layers
 * checks it, so a mismatch is a ShapeError naming the layer, the size expected and the fix.
 */
export function checkBuiltInput(who: string, inputs: Parameters<tfl.layers.Layer['apply']>[0], inputSpec: tfl.InputSpec[] | null): void {
  const first = Array.isArray(inputs) ? inputs[0] : inputs;
  const spec = inputSpec?.[0];
  if (spec && Array.isArray(first?.shape)) checkInputSpec(who, first.shape, spec);
}

/** The first input as float32: images often arrive as int32 (tf.browser.fromPixels) or bool masks, and tf.conv2d takes float32 only. */
export function floatInput(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  const input = Array.isArray(inputs) ? inputs[0] : inputs;
  return input.dtype === 'float32' ? input : tf.cast(input, 'float32');
}

/** Throws a ShapeError unless `shape` has the rank and the axis sizes `spec` asks for. */
function checkInputSpec(who: string, shape: readonly (number | null)[], spec: tfl.InputSpec): void {
  const rankOk = (spec.ndim == null || shape.length === spec.ndim) && (spec.minNDim == null || shape.length >= spec.minNDim);
  if (!rankOk) {
    const rank = spec.ndim ?? `>= ${spec.minNDim}`;
    throw new ShapeError(`${who}: input must have rank ${rank}; got shape ${describe(shape)}. Reshape the input.`);
  }
  for (const [axis, size] of Object.entries(spec.axes ?? {})) {
    const index = Number(axis) < 0 ? shape.length + Number(axis) : Number(axis);
    if (shape[index] != null && shape[index] !== size) {
      throw new ShapeError(
        `${who}: input must have size ${size} on axis ${axis}, as when the layer was built; got shape ${describe(shape)}. ` +
          'Pass inputs of that size, or use a new layer for the new size.',
      );
    }
  }
}

/** tfjs-layers' activation layer, or an ArgumentError naming the bad identifier (tfjs's own is a ValueError). */
export function activationLayer(who: string, activation: ActivationIdentifier): tfl.layers.Layer {
  try {
    return tfl.layers.activation({ activation });
  } catch {
    return invalidArgument(who, 'activation', "a tfjs activation identifier such as 'relu' or 'softmax'", activation);
  }
}

export function singleShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
  return Array.isArray(inputShape[0]) ? (inputShape as tfl.Shape[])[0] : (inputShape as tfl.Shape);
}
