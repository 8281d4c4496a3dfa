import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError } from '../errors';
import { withOnes, type LaplaceStructure } from '../layers/laplace_dense';
import { symmetricEigen } from './linalg';

/**
 * The curvature of a last layer's training loss, in the eigenbasis each structure gives it:
 * GGN = B diag(λ) Bᵀ, parameters ordered as the row-major [features + 1, units] matrix [kernel; bias].
 */
export interface Curvature {
  structure: LaplaceStructure;
  /** λ, P of them: the GGN's eigenvalues (full), λᵢⁱⁿ λₖᵒᵘᵗ at i · units + k (kron), or its diagonal (diag). */
  eigenvalues: Float64Array;
  basis: { kind: 'full'; vectors: Float64Array } | { kind: 'kron'; input: Float64Array; output: Float64Array } | { kind: 'diag' };
  /** Σₙ −log p(yₙ | xₙ, θ_MAP): the training cross-entropy, summed. */
  loss: number;
  /** ‖θ_MAP‖², the prior's scatter term at δ = 1. */
  thetaSquared: number;
  examples: number;
  units: number;
}

/** Bisection on log δ: the bracket [e^-40, e^40] and the tolerance on log δ. */
const LOG_PRECISION_RANGE = 40;
const LOG_PRECISION_TOLERANCE = 1e-12;

/**
 * Sums the GGN of softmax cross-entropy over the training data, a batch of `batchSize` images at
 * a time, with features x from `features` and probabilities p = softmax(x · kernel + bias):
 * - full: Σₙ x̃x̃ᵀ ⊗ (diag p − ppᵀ), x̃ = [x, 1];
 * - kron (KFAC, as laplace-torch): A = (1/N) Σₙ xxᵀ and G = Σₙ (diag p − ppᵀ), the weights' block
 *   A ⊗ G and the bias's block G, i.e. Ã ⊗ G with Ã = [[A, 0], [0, 1]] (Martens & Grosse 2015, eq. 1);
 * - diag: the diagonal of the full GGN, Σₙ x̃² ⊗ p(1 − p).
 * Then eigendecomposes it (in float64).
 */
export function lastLayerCurvature(
  structure: LaplaceStructure,
  batchSize: number,
  images: tf.Tensor,
  labels: readonly number[],
  kernel: tf.Tensor,
  bias: tf.Tensor,
  features: (batch: tf.Tensor) => tf.Tensor2D,
): Curvature {
  const units = kernel.shape[1]!;
  const examples = images.shape[0];
  let sums: tf.Tensor[] = [];
  try {
    for (let start = 0; start < examples; start += batchSize) {
      const size = Math.min(batchSize, examples - start);
      const batch = tf.tidy(() => {
        const x = features(tf.slice(images, start, size));
        const logits = tf.add(tf.matMul(x, kernel), bias);
        const onehot = tf.oneHot(tf.tensor1d(labels.slice(start, start + size), 'int32'), units);
        const nll = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits))));
        return [nll, ...ggnTerms(structure, x, tf.softmax(logits) as tf.Tensor2D)];
      });
      const next = sums.length === 0 ? batch : tf.tidy(() => sums.map((sum, i) => tf.add(sum, batch[i])));
      if (sums.length > 0) tf.dispose([...sums, ...batch]);
      sums = next;
    }
    const [loss, ...terms] = sums.map((sum) => Float64Array.from(sum.dataSync()));
    const thetaSquared = tf.tidy(() => tf.add(tf.sum(tf.square(kernel)), tf.sum(tf.square(bias))).dataSync()[0]);
    return { structure, ...eigenbasis(structure, terms, examples, units), loss: loss[0], thetaSquared, examples, units };
  } finally {
    tf.dispose(sums);
  }
}

/** One batch's GGN terms for `structure` (see lastLayerCurvature). */
function ggnTerms(structure: LaplaceStructure, x: tf.Tensor2D, p: tf.Tensor2D): tf.Tensor[] {
  const xt = withOnes(x);
  const [batch, rows] = xt.shape;
  const units = p.shape[1];
  if (structure === 'diag') return [tf.matMul(tf.square(xt), tf.mul(p, tf.sub(1, p)), true, false)];
  if (structure === 'kron') return [tf.matMul(x, x, true, false), tf.sub(tf.diag(tf.sum(p, 0)), tf.matMul(p, p, true, false))];
  // Full: Σₙ x̃x̃ᵀ ⊗ diag p (block-diagonal in the class) minus Σₙ (x̃ ⊗ p)(x̃ ⊗ p)ᵀ.
  const size = rows * units;
  const outer = tf.reshape(tf.mul(tf.expandDims(xt, 2), tf.expandDims(p, 1)), [batch, size]);
  const weighted = tf.mul(tf.expandDims(tf.transpose(p), 2), tf.expandDims(xt, 0));
  const perClass = tf.matMul(weighted, tf.tile(tf.expandDims(xt, 0), [units, 1, 1]), true, false);
  const diagonal = tf.mul(tf.expandDims(tf.transpose(perClass, [1, 0, 2]), 3), tf.reshape(tf.eye(units), [1, units, 1, units]));
  return [tf.sub(tf.reshape(diagonal, [size, size]), tf.matMul(outer, outer, true, false))];
}

/** The eigenvalues and basis of the summed terms; negative rounding noise in the eigenvalues is clipped to 0. */
function eigenbasis(structure: LaplaceStructure, terms: Float64Array[], examples: number, units: number): Pick<Curvature, 'eigenvalues' | 'basis'> {
  const clip = (values: Float64Array) => values.map((value) => Math.max(value, 0));
  if (structure === 'diag') return { eigenvalues: clip(terms[0]), basis: { kind: 'diag' } };
  if (structure === 'full') {
    const { values, vectors } = symmetricEigen(terms[0], Math.round(Math.sqrt(terms[0].length)));
    return { eigenvalues: clip(values), basis: { kind: 'full', vectors } };
  }
  const features = Math.round(Math.sqrt(terms[0].length));
  const a = symmetricEigen(terms[0].map((value) => value / examples), features);
  const g = symmetricEigen(terms[1], units);
  // Ã = [[A, 0], [0, 1]]: A's eigenvectors padded, and the bias's own eigenvalue 1.
  const rows = features + 1;
  const input = new Float64Array(rows * rows);
  for (let i = 0; i < features; i++) input.set(a.vectors.subarray(i * features, (i + 1) * features), i * rows);
  input[rows * rows - 1] = 1;
  const inputValues = clip(Float64Array.from([...a.values, 1]));
  const outputValues = clip(g.values);
  const eigenvalues = new Float64Array(rows * units);
  for (let i = 0; i < rows; i++) for (let k = 0; k < units; k++) eigenvalues[i * units + k] = inputValues[i] * outputValues[k];
  return { eigenvalues, basis: { kind: 'kron', input, output: g.vectors } };
}

/**
 * The Laplace approximation of the log marginal likelihood with prior N(0, δ⁻¹ I):
 * log p(D | θ_MAP) − ½ (log det(GGN + δI) − P log δ + δ‖θ_MAP‖²)
 * (MacKay 1992, "Bayesian Interpolation", section 4, with the GGN for the Hessian; Daxberger et al. 2021,
 * "Laplace Redux", section 2; laplace-torch's `log_marginal_likelihood`).
 */
export function logMarginalLikelihood(curvature: Curvature, precision: number): number {
  let logDet = 0;
  for (const value of curvature.eigenvalues) logDet += Math.log(value + precision);
  const { eigenvalues, loss, thetaSquared } = curvature;
  return -loss - 0.5 * (logDet - eigenvalues.length * Math.log(precision) + precision * thetaSquared);
}

/**
 * The δ that maximises `logMarginalLikelihood`: the root of δ‖θ‖² = γ(δ) = Σⱼ λⱼ / (λⱼ + δ), the
 * effective number of parameters (MacKay 1992, "Bayesian Interpolation", 2αE_W = γ). The left
 * side grows and γ shrinks with δ, so the root is unique; bisection on log δ finds it exactly,
 * where laplace-torch runs 100 Adam steps on log δ (the same optimum once converged).
 */
export function priorPrecisionByMarginalLikelihood(who: string, curvature: Curvature): number {
  const { eigenvalues, thetaSquared } = curvature;
  if (!(thetaSquared > 0)) {
    throw new ArgumentError(`${who}: the last layer's weights must not all be 0 to fit the prior precision; got ‖θ‖² = ${thetaSquared}. Train the model first, or pass options.priorPrecision.`);
  }
  const gap = (logPrecision: number): number => {
    const precision = Math.exp(logPrecision);
    let gamma = 0;
    for (const value of eigenvalues) gamma += value / (value + precision);
    return precision * thetaSquared - gamma;
  };
  let [low, high] = [-LOG_PRECISION_RANGE, LOG_PRECISION_RANGE];
  if (gap(low) >= 0) return Math.exp(low);
  if (gap(high) <= 0) return Math.exp(high);
  while (high - low > LOG_PRECISION_TOLERANCE) {
    const middle = (low + high) / 2;
    if (gap(middle) < 0) low = middle;
    else high = middle;
  }
  return Math.exp((low + high) / 2);
}

/**
 * The `LaplaceDense` weights after kernel and bias for posterior covariance B diag(1/(λ + δ)) Bᵀ:
 * full [covariance_root = B diag(1/√(λ + δ))]; kron [variance, input_basis, output_basis]; diag [variance].
 */
export function posteriorWeights(curvature: Curvature, precision: number): tf.Tensor[] {
  const { eigenvalues, basis, units } = curvature;
  const size = eigenvalues.length;
  const rows = size / units;
  const variance = Float32Array.from(eigenvalues, (value) => 1 / (value + precision));
  if (basis.kind === 'full') {
    const root = new Float32Array(size * size);
    for (let r = 0; r < size; r++) for (let j = 0; j < size; j++) root[r * size + j] = basis.vectors[r * size + j] * Math.sqrt(variance[j]);
    return [tf.tensor2d(root, [size, size])];
  }
  if (basis.kind === 'diag') return [tf.tensor2d(variance, [rows, units])];
  return [tf.tensor2d(variance, [rows, units]), tf.tensor2d(Float32Array.from(basis.input), [rows, rows]), tf.tensor2d(Float32Array.from(basis.output), [units, units])];
}
