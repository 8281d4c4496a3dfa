/**
 * Batch normalisation that trains in one TensorFlow op each way on the native backend. tfjs-layers'
 * `BatchNormalization` computes a training step from `moments` and an inference batch norm, which
 * tfjs differentiates op by op: on tfjs-node that was about half of resnet-small's step. No kernel
 * can fuse ops that a layer dispatches one by one, so the fusion is at the layer: the layer's
 * training call runs `BATCH_NORM_TRAINING_KERNEL` (TensorFlow's FusedBatchNormV3) instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BATCH_NORM_TRAINING_KERNEL } from './native_training';

/** tfjs-layers' batch normalisation layer (its class is not exported). */
type BatchNormalization = ReturnType<typeof tfl.layers.batchNormalization>;
type Kwargs = Parameters<BatchNormalization['call']>[1];

/** tfjs' backend name of tfjs-node. */
const NATIVE_BACKEND = 'tensorflow';
/** The channel axis the fused op normalises over all others for (NHWC), and the rank it takes. */
const CHANNELS_LAST = [-1, 3];
const RANK = 4;

/**
 * Makes `layer` (fresh from `tf.layers.batchNormalization`, its class and config unchanged, so
 * saved models load anywhere) train through TensorFlow's fused batch norm where it can: on the
 * `tensorflow` backend once `registerNativeTrainingKernels()` ran, in training mode, for a rank-4
 * float32 input normalised over the channels-last axis, with both `center` and `scale`.
 * Elsewhere, and for inference, tfjs-layers' own call runs. The running averages follow
 * tfjs-layers: `moving ← moving − (moving − batch) · (1 − momentum)`, the batch variance biased
 * (divided by the count, as `moments` computes it). Ioffe & Szegedy 2015, "Batch normalization", Alg. 1.
 */
export function nativeBatchNormalization(layer: BatchNormalization): BatchNormalization {
  const own = layer.call.bind(layer);
  const { axis, momentum, epsilon, center, scale } = layer.getConfig() as { axis: number; momentum: number; epsilon: number; center: boolean; scale: boolean };
  layer.call = (inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs) => {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const fused =
      kwargs.training === true &&
      tf.getBackend() === NATIVE_BACKEND &&
      tf.getKernel(BATCH_NORM_TRAINING_KERNEL, NATIVE_BACKEND) !== undefined &&
      !(Array.isArray(inputs) && inputs.length !== 1) &&
      x.rank === RANK &&
      x.dtype === 'float32' &&
      CHANNELS_LAST.includes(axis) &&
      center &&
      scale &&
      x.size / x.shape[RANK - 1] > 1;
    return fused ? trainingCall(layer, x as tf.Tensor4D, momentum, epsilon) : own(inputs, kwargs);
  };
  return layer;
}

/** One training call: the normalised batch, and the running averages updated as tfjs-layers does. */
function trainingCall(layer: BatchNormalization, x: tf.Tensor4D, momentum: number, epsilon: number): tf.Tensor {
  return tf.tidy(() => {
    // Built in this order by tfjs-layers, trainable or frozen.
    const [gamma, beta, movingMean, movingVariance] = layer.weights;
    const [y, mean, unbiasedVariance] = tf.engine().runKernel(BATCH_NORM_TRAINING_KERNEL, { x, scale: gamma.read(), offset: beta.read() }, { epsilon }) as tf.Tensor[];
    const count = x.size / x.shape[RANK - 1];
    const variance = tf.mul(unbiasedVariance, (count - 1) / count);
    for (const [variable, batch] of [[movingMean, mean], [movingVariance, variance]] as const) {
      const value = variable.read();
      variable.write(tf.sub(value, tf.mul(tf.sub(value, batch), 1 - momentum)));
    }
    return y;
  });
}
