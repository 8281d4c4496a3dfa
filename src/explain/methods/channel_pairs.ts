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
  const scores: number[] = [];
  for (let start = 0; start < batch * channels; start += context.scoreCamBatchSize) {
    const pairs = Array.from({ length: Math.min(context.scoreCamBatchSize, batch * channels - start) }, (_, i) => start + i);
    const chunk = tf.tidy(() => score(pairs.map((pair) => Math.floor(pair / channels)), pairs.map((pair) => pair % channels)));
    scores.push(...chunk.dataSync());
    chunk.dispose();
  }
  return tf.tensor2d(scores, [batch, channels]);
}
