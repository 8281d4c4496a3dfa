import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError } from '../errors';
import { checkNumber, checkOptions, checkTensor, describe, optionKeys } from '../validation';
import { stochasticLayers, withSampling } from './sampling';

/** Keeps log p finite in the cross-entropy (Keras' `epsilon()`). */
const LOG_EPSILON = 1e-7;

/** The negative ELBO of a batch and its two terms. */
export interface NegativeElbo<T = number> {
  /** Mean cross-entropy of the labels under the (sampled) network: the data term. */
  nll: T;
  /** Σ klWeight · KL(q ‖ p) over the stochastic layers: the layer losses Keras adds to the loss. */
  kl: T;
  /** nll + kl, what training minimises. */
  loss: T;
}

/** Options of `negativeElbo`. */
export interface NegativeElboOptions {
  /** Seed of the weight noise of the pass (one draw, as a training step). Default: fresh randomness. */
  seed?: number;
  /** Examples per forward pass. Default 32. */
  batchSize?: number;
}

const ELBO_OPTIONS = optionKeys<NegativeElboOptions>({ seed: true, batchSize: true });
const DEFAULT_BATCH_SIZE = 32;

/** The weighted KL terms the model's stochastic layers add to its loss, summed into one scalar. */
export function klLoss(model: { layers: tfl.layers.Layer[] }): tf.Scalar {
  return tf.tidy(() => {
    const terms = stochasticLayers(model).flatMap((layer) => layer.losses.map((loss) => loss() as tf.Scalar));
    return terms.length === 0 ? tf.scalar(0) : (tf.addN(terms) as tf.Scalar);
  });
}

/**
 * The negative ELBO of one batch as tensors, for a training loss: the (example-weighted) mean
 * cross-entropy of `probs` [batch, classes] against `oneHot` labels, plus `klLoss(model)`, whose
 * klWeight = 1/N spreads the ELBO's single KL over the N examples (Blundell et al. 2015, eq. 2
 * divided by N). Records no gradient scope of its own: call it inside `optimizer.minimize`.
 */
export function negativeElboTerms(model: { layers: tfl.layers.Layer[] }, probs: tf.Tensor, oneHot: tf.Tensor, exampleWeights?: tf.Tensor1D): NegativeElbo<tf.Scalar> {
  const nll = tf.div(crossEntropySum(probs, oneHot, exampleWeights), probs.shape[0]) as tf.Scalar;
  const kl = klLoss(model);
  return { nll, kl, loss: tf.add(nll, kl) as tf.Scalar };
}

/** Σ_i w_i · (−log p_i[label_i]) over the batch. */
function crossEntropySum(probs: tf.Tensor, oneHot: tf.Tensor, exampleWeights?: tf.Tensor1D): tf.Scalar {
  const crossEntropy = tf.neg(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probs, LOG_EPSILON, 1))), -1));
  return tf.sum(exampleWeights ? tf.mul(crossEntropy, exampleWeights) : crossEntropy) as tf.Scalar;
}

/**
 * The full negative ELBO of `images` with integer `labels`, as training reports it: tfjs-layers'
 * `model.evaluate()` leaves the layer losses (the KL) out where Keras includes them, so its loss
 * does not compare with a training loss; this one does. One weight draw per batch, in inference
 * mode, seeded by `seed`; the KL is read once (a scale-mixture prior's is one Monte Carlo draw).
 */
export async function negativeElbo(
  model: tfl.LayersModel,
  images: tf.Tensor,
  labels: readonly number[],
  options: NegativeElboOptions = {},
): Promise<NegativeElbo> {
  const who = 'negativeElbo';
  const { seed, batchSize = DEFAULT_BATCH_SIZE } = checkOptions(who, options, ELBO_OPTIONS);
  checkTensor(who, 'images', images, { nonEmpty: true });
  if (!Array.isArray(labels) || labels.length !== images.shape[0]) {
    throw new ShapeError(
      `${who}: labels must have one class index per image (${images.shape[0]}); got ${Array.isArray(labels) ? labels.length : describe(labels)}. ` +
        'Pass the labels of the same images, in the same order.',
    );
  }
  labels.forEach((label, i) => checkNumber(who, `labels[${i}]`, label, { min: 0, integer: true }));
  checkNumber(who, 'options.batchSize', batchSize, { min: 1, integer: true });
  if (seed !== undefined) checkNumber(who, 'options.seed', seed, { integer: true });
  const count = images.shape[0];
  const [nllSum, kl] = withSampling(model, { seed }, () =>
    tf.tidy(() => {
      let sum: tf.Tensor = tf.scalar(0);
      for (let start = 0; start < count; start += batchSize) {
        const size = Math.min(batchSize, count - start);
        const batch = tf.slice(images, start, size);
        const probs = model.predict(batch) as tf.Tensor;
        const oneHot = tf.oneHot(tf.tensor1d(labels.slice(start, start + size) as number[], 'int32'), probs.shape[1]!);
        sum = tf.add(sum, crossEntropySum(probs, oneHot));
      }
      return [sum, klLoss(model)];
    }),
  );
  const [nllTotal, klValue] = await Promise.all([nllSum.data(), kl.data()]).finally(() => tf.dispose([nllSum, kl]));
  const nll = nllTotal[0] / count;
  return { nll, kl: klValue[0], loss: nll + klValue[0] };
}
