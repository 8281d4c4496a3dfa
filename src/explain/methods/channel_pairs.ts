import * as tf from '@tensorflow/tfjs-core';
import type { CamContext } from '../method';

/**
 * Scores every (image, channel) pair of the batch, `scoreCamBatchSize` pairs per forward pass, as
 * [batch, channels]: the loop of the gradient-free methods (Score-CAM masks the image by the
 * channel, Ablation-CAM zeroes the channel). `score` gets the explained image of each pair and its
 * channel, and returns one score per pair.
 */
export function scoreChannelPairs(
  context: CamContext,
  score: (rows: number[], channels: number[]) => tf.Tensor1D,
): tf.Tensor2D {
  const [batch, , , channels] = context.activations.shape;
  // The chunks stay on the backend and are joined once: no host read per forward pass (a blocking
  // GPU sync on WebGL), and the chunks made so far are freed if a later one throws.
  const chunks: tf.Tensor1D[] = [];
  try {
    for (let start = 0; start < batch * channels; start += context.scoreCamBatchSize) {
      const pairs = Array.from({ length: Math.min(context.scoreCamBatchSize, batch * channels - start) }, (_, i) => start + i);
      chunks.push(tf.tidy(() => score(pairs.map((pair) => Math.floor(pair / channels)), pairs.map((pair) => pair % channels))));
    }
    return tf.tidy(() => tf.reshape(tf.concat(chunks), [batch, channels]));
  } finally {
    tf.dispose(chunks);
  }
}
