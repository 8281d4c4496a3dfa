import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ArgumentError, ShapeError } from '../errors';
import { LAPLACE_STRUCTURES, LaplaceDense, type LaplaceDenseArgs, type LaplaceStructure } from '../layers/laplace_dense';
import { stochasticLayers } from '../layers/sampling';
import { checkModel, checkNumber, checkOneOf, checkOptions, checkTensor, describe, optionKeys } from '../validation';
import { lastLayerCurvature, logMarginalLikelihood, posteriorWeights, priorPrecisionByMarginalLikelihood, type Curvature } from './laplace_posterior';

/** Options of `fitLastLayerLaplace`: the covariance structure, the prior, and the batch size. */
export interface LastLayerLaplaceOptions {
  /**
   * The GGN of the loss and so the posterior covariance: `'full'` (exact; P² numbers, P ≤ 4096
   * parameters), `'kron'` (Kronecker factors, KFAC: features² + classes² numbers; laplace-torch's
   * default) or `'diag'` (P numbers; any size, the crudest). Default `DEFAULT_LAPLACE_STRUCTURE` (`'kron'`).
   */
  structure?: LaplaceStructure;
  /** The precision δ of the N(0, δ⁻¹ I) prior on the last layer. Default: the δ that maximises the Laplace marginal likelihood. */
  priorPrecision?: number;
  /** Images run through the network at once to compute the features. Default `DEFAULT_BATCH_SIZE` (128). */
  batchSize?: number;
  /** Seed of the returned model's sampling layer (`mcPredict`'s own seed overrides it). Default: fresh randomness. */
  seed?: number;
}

const WHO = 'fitLastLayerLaplace';
const OPTION_KEYS = optionKeys<LastLayerLaplaceOptions>({ structure: true, priorPrecision: true, batchSize: true, seed: true });
/** The posterior structure when none is given: KFAC, laplace-torch's default, cheap for any pooled head. */
export const DEFAULT_LAPLACE_STRUCTURE: LaplaceStructure = 'kron';
/** Images whose features are computed at once, when fitting and predicting. */
const DEFAULT_BATCH_SIZE = 128;
/** The largest layer the dense (full) structure and the dense covariance accept: a P × P float matrix of 64 MB. */
export const MAX_FULL_PARAMETERS = 4096;
/** π/8 of the probit approximation of a softmax of Gaussians (MacKay 1992, "The Evidence Framework Applied to Classification Networks"). */
const PROBIT_SCALE = Math.PI / 8;

/**
 * Fits a Laplace approximation to the posterior of a trained model's last Dense layer, without
 * retraining: a Gaussian centred on the trained weights θ_MAP whose precision is the curvature of
 * the training loss there (the generalised Gauss-Newton matrix of softmax cross-entropy,
 * Σₙ x̃ₙx̃ₙᵀ ⊗ (diag pₙ − pₙpₙᵀ), summed over the N training examples, not averaged) plus the
 * prior precision δ; δ is chosen by the Laplace marginal likelihood unless given.
 *
 * `images` and `labels` are the training data (laplace-torch's `fit(train_loader)`); the
 * returned object predicts with the probit approximation or, through `model`, with `mcPredict`.
 * The network below the last layer is deterministic and is run once per image.
 *
 * Reference: Daxberger et al. 2021, "Laplace Redux: Effortless Bayesian Deep Learning"
 * (laplace-torch's `Laplace(subset_of_weights='last_layer')`); Ritter et al. 2018 for KFAC.
 */
export function fitLastLayerLaplace(
  model: tfl.LayersModel,
  images: tf.Tensor,
  labels: readonly number[],
  options: LastLayerLaplaceOptions = {},
): LastLayerLaplace {
  checkModel(WHO, 'model', model);
  const opts = checkOptions(WHO, options, OPTION_KEYS);
  const structure = checkOneOf(WHO, 'options.structure', opts.structure ?? DEFAULT_LAPLACE_STRUCTURE, LAPLACE_STRUCTURES);
  const batchSize = checkNumber(WHO, 'options.batchSize', opts.batchSize ?? DEFAULT_BATCH_SIZE, { min: 1, integer: true });
  const dense = lastDenseLayer(model);
  checkTensor(WHO, 'images', images, { nonEmpty: true });
  const classes = dense.units;
  checkLabels(labels, images.shape[0], classes);
  const features = tfl.model({ inputs: model.inputs, outputs: dense.input, name: `${dense.name}_features` });
  const featureCount = dense.input.shape[1] ?? 0;
  const parameters = (featureCount + 1) * classes;
  if (structure === 'kron' && featureCount + 1 > MAX_FULL_PARAMETERS) {
    throw new ArgumentError(
      `${WHO}: options.structure 'kron' needs at most ${MAX_FULL_PARAMETERS - 1} features into the last layer (its input factor is features²); ` +
        `got ${featureCount}. Use 'diag', or pool the features (global average pooling) before the last layer.`,
    );
  }
  if (structure === 'full' && parameters > MAX_FULL_PARAMETERS) {
    throw new ArgumentError(
      `${WHO}: options.structure 'full' needs at most ${MAX_FULL_PARAMETERS} parameters in the last layer; got ${parameters} ` +
        `((${featureCount} features + 1) × ${classes} classes). Use 'kron' or 'diag'.`,
    );
  }
  const [kernel, bias] = dense.getWeights();
  const curvature = lastLayerCurvature(structure, batchSize, images, labels, kernel, bias, (batch) => features.predict(batch) as tf.Tensor2D);
  const priorPrecision =
    opts.priorPrecision === undefined
      ? priorPrecisionByMarginalLikelihood(WHO, curvature)
      : checkNumber(WHO, 'options.priorPrecision', opts.priorPrecision, { min: 0, exclusiveMin: true });
  const layer = new LaplaceDense({
    units: classes,
    activation: dense.activation,
    structure,
    seed: opts.seed,
    name: `${dense.name}_laplace`,
  });
  const output = layer.apply(dense.input) as tfl.SymbolicTensor;
  try {
    tf.tidy(() => layer.setWeights([kernel, bias, ...posteriorWeights(curvature, priorPrecision)]));
  } catch (error) {
    layer.dispose();
    throw error;
  }
  const stochastic = tfl.model({ inputs: model.inputs, outputs: output, name: `${model.name}_laplace` });
  return new LastLayerLaplace({ model: stochastic, features, layer, curvature, priorPrecision, layerName: dense.name });
}

/**
 * A fitted last-layer Laplace posterior. `model` is the trained network with its last Dense layer
 * replaced by a `LaplaceDense` sampling from the posterior, ready for `mcPredict` (the same
 * summary, densities and metrics as a Bayesian network); `predictProbit` is the sampling-free
 * alternative. `model` shares every other layer (and weight) with the trained model: dispose this
 * object, not `model`, and keep the trained model alive while using it.
 */
export class LastLayerLaplace {
  /** The network with a sampling last layer (for `mcPredict`); its output is the replaced layer's (probabilities or logits). */
  readonly model: tfl.LayersModel;
  readonly structure: LaplaceStructure;
  /** δ of the N(0, δ⁻¹ I) prior: given, or fitted by marginal likelihood. */
  readonly priorPrecision: number;
  /** Name of the trained model's Dense layer that the posterior is over. */
  readonly layerName: string;
  /** Weights and biases of that layer, P. */
  readonly parameters: number;
  /** Training examples N the curvature was summed over. */
  readonly trainingExamples: number;
  /** Σₙ log p(yₙ | xₙ, θ_MAP) over the training examples. */
  readonly logLikelihood: number;
  private readonly features: tfl.LayersModel;
  private readonly layer: LaplaceDense;
  private readonly curvature: Curvature;

  /** @internal Built by `fitLastLayerLaplace`. */
  constructor(parts: { model: tfl.LayersModel; features: tfl.LayersModel; layer: LaplaceDense; curvature: Curvature; priorPrecision: number; layerName: string }) {
    this.model = parts.model;
    this.features = parts.features;
    this.layer = parts.layer;
    this.curvature = parts.curvature;
    this.structure = parts.curvature.structure;
    this.priorPrecision = parts.priorPrecision;
    this.layerName = parts.layerName;
    this.parameters = parts.curvature.eigenvalues.length;
    this.trainingExamples = parts.curvature.examples;
    this.logLikelihood = -parts.curvature.loss;
  }

  /**
   * The Laplace approximation of log p(data | δ) at a prior precision (default: the fitted one),
   * as laplace-torch's `log_marginal_likelihood`.
   */
  logMarginalLikelihood(priorPrecision: number = this.priorPrecision): number {
    checkNumber('LastLayerLaplace.logMarginalLikelihood', 'priorPrecision', priorPrecision, { min: 0, exclusiveMin: true });
    return logMarginalLikelihood(this.curvature, priorPrecision);
  }

  /**
   * Class probabilities [batch, classes] by the probit approximation: softmax(μₖ / √(1 + π/8 · σₖ²)),
   * μ and σ² the mean and variance of each logit under the posterior (MacKay 1992; laplace-torch's
   * `link_approx='probit'`). One deterministic pass, no sampling.
   */
  predictProbit(images: tf.Tensor, options: { batchSize?: number } = {}): tf.Tensor2D {
    const who = 'LastLayerLaplace.predictProbit';
    const { batchSize = DEFAULT_BATCH_SIZE } = checkOptions(who, options, optionKeys<{ batchSize?: number }>({ batchSize: true }));
    checkNumber(who, 'options.batchSize', batchSize, { min: 1, integer: true });
    checkTensor(who, 'images', images, { nonEmpty: true });
    return tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      for (let start = 0; start < images.shape[0]; start += batchSize) {
        const batch = tf.slice(images, start, Math.min(batchSize, images.shape[0] - start));
        const { mean, variance } = this.layer.logitMoments(this.features.predict(batch) as tf.Tensor2D);
        parts.push(tf.softmax(tf.div(mean, tf.sqrt(tf.add(1, tf.mul(variance, PROBIT_SCALE))))));
      }
      return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor2D;
    });
  }

  /** The posterior covariance Σ [P, P], parameters in the order [kernel (row-major), bias]. For P ≤ MAX_FULL_PARAMETERS. */
  posteriorCovariance(): tf.Tensor2D {
    return this.dense('posteriorCovariance', -1);
  }

  /** The posterior precision Σ⁻¹ = GGN + δI [P, P], in the order of `posteriorCovariance`. */
  posteriorPrecision(): tf.Tensor2D {
    return this.dense('posteriorPrecision', 1);
  }

  /** Frees the sampling layer's weights (the posterior). The trained model is left as it was. */
  dispose(): void {
    this.layer.dispose();
  }

  private dense(method: string, exponent: 1 | -1): tf.Tensor2D {
    if (this.parameters > MAX_FULL_PARAMETERS) {
      throw new ArgumentError(
        `LastLayerLaplace.${method}: the dense matrix needs at most ${MAX_FULL_PARAMETERS} parameters; got ${this.parameters}. ` +
          'Read the structured posterior through model, predictProbit or logMarginalLikelihood instead.',
      );
    }
    const { basis, eigenvalues } = this.curvature;
    const values = eigenvalues.map((value) => (value + this.priorPrecision) ** exponent);
    return tf.tidy(() => {
      const b = basisMatrix(basis, eigenvalues.length);
      return tf.matMul(tf.mul(b, tf.tensor1d(Float32Array.from(values))), b, false, true) as tf.Tensor2D;
    });
  }
}

/** The eigenbasis as a dense [P, P] tensor: Q, Q_in ⊗ Q_out, or I. */
function basisMatrix(basis: Curvature['basis'], size: number): tf.Tensor2D {
  if (basis.kind === 'full') return tf.tensor2d(Float32Array.from(basis.vectors), [size, size]);
  if (basis.kind === 'diag') return tf.eye(size);
  const rows = Math.sqrt(basis.input.length);
  const units = Math.sqrt(basis.output.length);
  const input = tf.reshape(tf.tensor1d(Float32Array.from(basis.input)), [rows, 1, rows, 1]);
  const output = tf.reshape(tf.tensor1d(Float32Array.from(basis.output)), [1, units, 1, units]);
  return tf.reshape(tf.mul(input, output), [size, size]);
}

/** The model's output layer, which must be a Dense layer with a bias, called once, on [batch, features]. */
function lastDenseLayer(model: tfl.LayersModel): LastDense {
  if (model instanceof tfl.Sequential && !model.built) model.build();
  const stochastic = stochasticLayers(model)[0];
  if (stochastic) {
    throw new ArgumentError(
      `${WHO}: model must be deterministic; got stochastic layer '${stochastic.name}' (${stochastic.getClassName()}). ` +
        'Laplace is for a network trained without weight noise; a Bayesian network already has its own posterior: use mcPredict on it.',
    );
  }
  if (model.outputs.length !== 1) {
    throw new ShapeError(`${WHO}: model must have one output; got ${model.outputs.length}. Wrap it in a model with a single probability output.`);
  }
  const layer = model.outputs[0].sourceLayer as tfl.layers.Layer;
  const config = layer.getConfig();
  const isDense = layer.getClassName() === 'Dense' && config.useBias === true && ['softmax', 'linear'].includes(String(config.activation));
  if (!isDense || layer.inboundNodes.length !== 1) {
    throw new ArgumentError(
      `${WHO}: model must end with a Dense layer with a bias and a softmax or linear activation, used once; got ` +
        `${layer.getClassName()} '${layer.name}' (activation ${describe(config.activation)}, bias ${describe(config.useBias)}). ` +
        'Fit the Laplace approximation on a classifier whose output layer is tf.layers.dense({ units: classes, activation: "softmax" }).',
    );
  }
  const input = layer.input as tfl.SymbolicTensor;
  if (input.shape.length !== 2) {
    throw new ShapeError(`${WHO}: the last layer's input must have shape [batch, features]; got ${describe(input.shape)}. Flatten or pool before it.`);
  }
  return { name: layer.name, units: Number(config.units), activation: config.activation as LaplaceDenseArgs['activation'], input, getWeights: () => layer.getWeights() };
}

/** What the fit reads of the trained model's output layer. */
interface LastDense {
  name: string;
  units: number;
  activation: LaplaceDenseArgs['activation'];
  input: tfl.SymbolicTensor;
  getWeights(): tf.Tensor[];
}

function checkLabels(labels: readonly number[], count: number, classes: number): void {
  if (!Array.isArray(labels) || labels.length !== count) {
    throw new ArgumentError(
      `${WHO}: labels must be an array of one class index per image (${count}); got ${Array.isArray(labels) ? `${labels.length} labels` : describe(labels)}. Pass the training labels.`,
    );
  }
  labels.forEach((label, i) => checkNumber(WHO, `labels[${i}]`, label, { min: 0, max: classes - 1, integer: true }));
}
