import * as tf from '@tensorflow/tfjs-core';
import type { CamMethodDefinition } from '../method';
import { scoreChannelPairs } from './channel_pairs';

/**
 * Ablation-CAM: no gradients. Each channel's weight is the relative drop of the class score when
 * that channel of the layer's output is set to zero: w_k = (y − y_k) / y. One forward per channel
 * and image, `scoreCamBatchSize` at a time, like Score-CAM; it measures what the model downstream
 * of the layer does with each channel, not a linearisation of it.
 *
 * Reference: Desai & Ramaswamy 2020, "Ablation-CAM: Visual Explanations for Deep Convolutional
 * Network via Gradient-free Localization", WACV.
 */
export const ablationCamMethod: CamMethodDefinition = {
  usesGradients: false,
  channelWeights: (context) => {
    const batch = context.images.shape[0];
    const scores = tf.tidy(() => context.scoreImages(context.images, Array.from({ length: batch }, (_, i) => i)));
    const ablated = scoreChannelPairs(context, (rows, channels) =>
      context.scoreImages(tf.gather(context.images, rows), rows, (output) => {
        // Zero channel k of the pair's copy of the layer output, whatever the output's rank.
        const all = tf.range(0, output.shape[output.rank - 1], 1, 'int32');
        const keep = tf.cast(tf.notEqual(tf.expandDims(all, 0), tf.tensor2d(channels, [rows.length, 1], 'int32')), output.dtype);
        return tf.mul(output, tf.reshape(keep, [rows.length, ...new Array<number>(output.rank - 2).fill(1), -1]));
      }),
    );
    // Desai & Ramaswamy 2020, eq. 2: w_k = (y^c − y^c_k) / y^c.
    const weights = tf.tidy(() => tf.divNoNan(tf.sub(tf.expandDims(scores, 1), ablated), tf.expandDims(scores, 1))) as tf.Tensor2D;
    tf.dispose([scores, ablated]);
    return weights;
  },
};
