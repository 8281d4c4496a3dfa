import * as tf from '@tensorflow/tfjs-core';
import { normalizePerMap, resizeMaps } from '../maps';
import type { CamContext, CamMethodDefinition } from '../method';
import { scoreChannelPairs } from './channel_pairs';

/**
 * Score-CAM: no gradients. Each channel, upsampled and normalised, masks the image, and the class
 * score of the masked image becomes the channel's weight (after a softmax over the channels). It
 * costs one forward per channel and image, batched `scoreCamBatchSize` at a time, and is immune to
 * saturated or noisy gradients.
 *
 * Reference: Wang et al. 2020, "Score-CAM: Score-Weighted Visual Explanations for Convolutional
 * Neural Networks".
 */
export const scoreCamMethod: CamMethodDefinition = {
  usesGradients: false,
  channelWeights: (context) => {
    const channels = context.activations.shape[3];
    const masks = channelMasks(context);
    try {
      // Wang et al. 2020, Definition 2: the masked input X ∘ H_k, H_k the upsampled, normalised A_k.
      const scores = scoreChannelPairs(context, (rows, ks) => {
        const masked = tf.mul(tf.gather(context.images, rows), tf.gather(masks, rows.map((row, i) => row * channels + ks[i])));
        return context.scoreImages(masked as tf.Tensor4D, rows);
      });
      // The softmax over channels of C(A_k) = f(X ∘ H_k) − f(X_b) (Wang et al. 2020, Definition 2, eq. 3);
      // the baseline f(X_b) is the same for every channel of an image, and softmax ignores it.
      const weights = tf.softmax(scores) as tf.Tensor2D;
      scores.dispose();
      return weights;
    } finally {
      masks.dispose();
    }
  },
};

/** H_k: every channel of every image upsampled to the image and normalised to [0, 1], as [batch·channels, H, W, 1]. */
function channelMasks({ activations, images }: CamContext): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = activations.shape;
    const perChannel = tf.reshape(tf.transpose(activations, [0, 3, 1, 2]), [batch * channels, height, width]) as tf.Tensor3D;
    const upsampled = resizeMaps(perChannel, images.shape[1], images.shape[2]);
    return tf.expandDims(normalizePerMap(upsampled), -1) as tf.Tensor4D;
  });
}
