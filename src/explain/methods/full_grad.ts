import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ClassTarget } from '../../conventions';
import { ShapeError } from '../../errors';
import { layerAddresses, outputShapeOf } from '../find_layer';
import { inputGradients, prepareInputPass, type InputGradientOptions } from '../input_pass';
import { normalizePerMap, resizeMaps } from '../maps';
import { EPSILON } from '../method';
import { patch } from '../patch';

type Layer = tfl.layers.Layer;
type Variable = { read(): tf.Tensor } | null | undefined;
type Activation = { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };

/** The layers whose bias adds to a spatial map: 2-D convolutions (pytorch-grad-cam's Conv2d) and batch norms. */
const CONVOLUTIONS = ['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D'];

/** A layer with a bias on a [batch, height, width, channels] output z, and how to probe d(score)/dz. */
interface BiasLayer {
  layer: Layer;
  /** The effective bias [channels]. */
  bias: () => tf.Tensor1D;
  /** Wires `probe` into the layer so that d(score)/d(probe) = d(score)/dz; returns the undo. */
  wire: (probe: tf.Tensor) => () => void;
}

function biasLayers(model: tfl.LayersModel): BiasLayer[] {
  const found: BiasLayer[] = [];
  for (const { layer } of layerAddresses(model)) {
    if (outputShapeOf(layer)?.length !== 4) continue;
    const fields = layer as unknown as Record<string, Variable | number | Activation | undefined>;
    if (CONVOLUTIONS.includes(layer.getClassName()) && fields.bias) {
      found.push({
        layer,
        bias: () => (fields.bias as NonNullable<Variable>).read() as tf.Tensor1D,
        // z is the convolution's output before its activation: the probe is added where the activation is applied.
        wire: (probe) => {
          const activation = fields.activation as Activation;
          return patch(layer, 'activation', { getClassName: () => 'fullGradProbe', apply: (z: tf.Tensor) => activation.apply(tf.add(z, probe)) });
        },
      });
    } else if (layer.getClassName() === 'BatchNormalization') {
      found.push({
        layer,
        // Inference-mode batch norm is γ (x − μ) / √(σ² + ε) + β: its bias is β − γ μ / √(σ² + ε).
        bias: () =>
          tf.tidy(() => {
            const mean = (fields.movingMean as NonNullable<Variable>).read();
            const gamma = (fields.gamma as Variable)?.read() ?? tf.onesLike(mean);
            const beta = (fields.beta as Variable)?.read() ?? tf.zerosLike(mean);
            const scale = tf.div(gamma, tf.sqrt(tf.add((fields.movingVariance as NonNullable<Variable>).read(), fields.epsilon as number)));
            return tf.sub(beta, tf.mul(scale, mean)) as tf.Tensor1D;
          }),
        wire: (probe) => {
          const originalCall = layer.call;
          return patch(layer, 'call', (inputs: tf.Tensor | tf.Tensor[], kwargs: Parameters<typeof originalCall>[1]) =>
            tf.add(originalCall.call(layer, inputs, kwargs) as tf.Tensor, probe),
          );
        },
      });
    }
  }
  return found;
}

/**
 * Min-max per image and channel of [batch, h, w, channels], (x − min) / (max − min + ε) as
 * pytorch-grad-cam's scale_accross_batch_and_channels: ε keeps a channel of near-zero terms near
 * zero instead of blowing its noise up to 1.
 */
function normalizePerChannel(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const shifted = tf.sub(x, tf.min(x, [1, 2], true));
    return tf.div(shifted, tf.add(tf.max(shifted, [1, 2], true), EPSILON)) as tf.Tensor4D;
  });
}

/**
 * FullGrad: the full-gradient saliency map [batch, H, W] in [0, 1]. The input-gradient term
 * |∇ₓy ⊙ x| plus, for every convolution and batch norm, the bias-gradient term |b ⊙ ∂y/∂z| (z the
 * layer's pre-activation output), each normalised per channel, upsampled to the image, summed.
 * No target layer: every bias layer of the model takes part. One forward and one backward pass for
 * the batch, down to the input; the layers are probed for the pass only and restored in `finally`.
 *
 * Reference: Srinivas & Fleuret 2019, "Full-Gradient Representation for Neural Network
 * Visualization", eq. 3 and sec. 4 (ψ = |·| with per-channel normalisation, as pytorch-grad-cam).
 */
export function fullGrad(model: tfl.LayersModel, classIdx: ClassTarget, images: tf.Tensor4D, options: InputGradientOptions = {}): tf.Tensor3D {
  const who = 'fullGrad';
  const request = prepareInputPass(who, model, classIdx, images, options);
  const [batch, height, width] = images.shape;
  const layers = biasLayers(model);
  const probes = layers.map(({ layer }) => {
    const shape = outputShapeOf(layer)!;
    if (shape.slice(1).some((d) => d === null)) {
      throw new ShapeError(
        `${who}: layer '${layer.name}' must have a fixed output size; got ${JSON.stringify(shape)}. Build the model with a fixed input size.`,
      );
    }
    return tf.zeros([batch, ...(shape.slice(1) as number[])]);
  });
  try {
    const gradients = inputGradients(request, probes, () => {
      const undo = layers.map(({ wire }, i) => wire(probes[i]));
      return () => undo.reverse().forEach((restore) => restore());
    });
    try {
      return tf.tidy(() => {
        // Srinivas & Fleuret 2019, eq. 3: ψ(∇ₓf ⊙ x) + Σ_l Σ_c ψ(f^b_l ⊙ b_l), ψ = |·| normalised per channel.
        let total = tf.sum(normalizePerChannel(tf.abs(tf.mul(gradients[0], images)) as tf.Tensor4D), -1) as tf.Tensor3D;
        layers.forEach(({ bias }, i) => {
          const term = tf.sum(normalizePerChannel(tf.abs(tf.mul(gradients[i + 1], bias())) as tf.Tensor4D), -1) as tf.Tensor3D;
          total = tf.add(total, resizeMaps(term, height, width));
        });
        return normalizePerMap(total) as tf.Tensor3D;
      });
    } finally {
      tf.dispose(gradients);
    }
  } finally {
    tf.dispose(probes);
  }
}
