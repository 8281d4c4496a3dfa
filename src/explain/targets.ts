import * as tf from '@tensorflow/tfjs-core';
import type { TargetFunction } from '../conventions';
import { ArgumentError, ShapeError } from '../errors';
import { checkNumber, checkOptions, checkTensor, describe, optionKeys } from '../validation';

/**
 * Target functions: what to explain when it is not one class's score. Each is a scalar function
 * of the model's output row, pass it as `classIdx` to `cam`, the curves and `roadScore`, as
 * pytorch-grad-cam's target objects. They see the logits or the probabilities, as `score` says.
 */

function checkClasses(who: string, classes: unknown): number[] {
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new ArgumentError(`${who}: classes must be a non-empty array of class indices (integers >= 0); got ${describe(classes)}.`);
  }
  return classes as number[];
}

/** Σ_c y_c over `classes`: the evidence for any of several classes (e.g. all malignant lesion types). */
export function classSum(classes: number[]): TargetFunction {
  const chosen = checkClasses('classSum', classes);
  return (output) => tf.tidy(() => tf.sum(tf.gather(output, chosen, 1), 1) as tf.Tensor1D);
}

/** Options of `classMargin`. */
export interface ClassMarginOptions {
  /** The class compared against; default: the strongest other class of each image. */
  against?: number;
}

/**
 * y_c − y_other: what makes the model prefer `classIdx` over `against`, or over its strongest
 * rival class when `against` is not given (the margin of the decision).
 */
export function classMargin(classIdx: number, options: ClassMarginOptions = {}): TargetFunction {
  const who = 'classMargin';
  checkOptions(who, options, optionKeys<ClassMarginOptions>({ against: true }));
  checkNumber(who, 'classIdx', classIdx, { min: 0, integer: true });
  const { against } = options;
  if (against !== undefined) {
    checkNumber(who, 'options.against', against, { min: 0, integer: true });
    if (against === classIdx) throw new ArgumentError(`${who}: options.against must differ from classIdx; got ${against} for both.`);
  }
  return (output) =>
    tf.tidy(() => {
      const own = tf.squeeze(tf.gather(output, [classIdx], 1), [1]);
      if (against !== undefined) return tf.sub(own, tf.squeeze(tf.gather(output, [against], 1), [1])) as tf.Tensor1D;
      // The strongest rival: the maximum over the other classes (the class itself pushed to -Infinity).
      const others = tf.where(tf.cast(tf.oneHot([classIdx], output.shape[1]), 'bool'), tf.fill(output.shape, -Infinity), output);
      return tf.sub(own, tf.max(others, 1)) as tf.Tensor1D;
    });
}

/** The floor of |output|·|embedding| in `embeddingSimilarity` (torch's CosineSimilarity eps). */
const COSINE_EPSILON = 1e-8;

/**
 * The cosine similarity of each output row with `embedding` [outputs]: explains what makes an
 * embedding model's output resemble a concept (pytorch-grad-cam's SimilarityToConceptTarget). The
 * caller keeps `embedding` alive while the target is in use, and disposes it after.
 */
export function embeddingSimilarity(embedding: tf.Tensor1D): TargetFunction {
  const who = 'embeddingSimilarity';
  checkTensor(who, 'embedding', embedding, { rank: 1, layout: '[outputs]', nonEmpty: true });
  return (output) =>
    tf.tidy(() => {
      if (output.shape[1] !== embedding.shape[0]) {
        throw new ShapeError(
          `${who}: embedding must have one value per model output, ${output.shape[1]}; got ${embedding.shape[0]}. ` +
            'Compute the embedding with the same model.',
        );
      }
      const dot = tf.sum(tf.mul(output, embedding), 1);
      // As torch's CosineSimilarity: the product of the norms floored at COSINE_EPSILON (a zero row scores 0).
      return tf.div(dot, tf.maximum(tf.mul(tf.norm(output, 'euclidean', 1), tf.norm(embedding)), COSINE_EPSILON)) as tf.Tensor1D;
    });
}

/** Options of `tokensToGrid`. */
export interface TokensToGridOptions {
  /** Leading tokens that are not image patches (a ViT's class token). Default 1. */
  skipTokens?: number;
}

/**
 * A reshapeTransform for token layers (ViT-like, [batch, tokens, channels]): drops the leading
 * `skipTokens` tokens and lays the rest out row by row as [batch, height, width, channels]
 * (pytorch-grad-cam's `vit_reshape_transform`, channels-last).
 */
export function tokensToGrid(height: number, width: number, options: TokensToGridOptions = {}): (layerOutput: tf.Tensor) => tf.Tensor4D {
  const who = 'tokensToGrid';
  checkOptions(who, options, optionKeys<TokensToGridOptions>({ skipTokens: true }));
  checkNumber(who, 'height', height, { min: 1, integer: true });
  checkNumber(who, 'width', width, { min: 1, integer: true });
  const skip = checkNumber(who, 'options.skipTokens', options.skipTokens ?? 1, { min: 0, integer: true });
  return (tokens) => {
    if (tokens.rank !== 3 || tokens.shape[1] !== skip + height * width) {
      throw new ShapeError(
        `${who}: the layer output must be [batch, ${skip} + ${height}·${width} tokens, channels]; got ${describe(tokens.shape)}. ` +
          'Give the patch grid of the model, and skipTokens for its class tokens.',
      );
    }
    const [batch, , channels] = tokens.shape;
    return tf.tidy(() => tf.reshape(tf.slice(tokens, [0, skip, 0], [-1, -1, -1]), [batch, height, width, channels]) as tf.Tensor4D);
  };
}
