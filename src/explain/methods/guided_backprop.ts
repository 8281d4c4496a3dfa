import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ClassTarget } from '../../conventions';
import { CAM_OPTIONS, camOf, type CamOptions } from '../cam';
import { layerAddresses } from '../find_layer';
import { inputGradients, prepareInputPass, type InputGradientOptions } from '../input_pass';
import { patch } from '../patch';
import { checkOptions } from '../../validation';

type Holder = { activation?: { getClassName?: () => string } };

/**
 * ReLU forward, guided backward: the gradient passes only where the input was positive (the ReLU's
 * own rule) and where the incoming gradient is positive (Springenberg et al. 2015, eq. 6).
 */
const guidedRelu = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return { value: tf.relu(x), gradFunc: (dy: tf.Tensor, [input]: tf.Tensor[]) => tf.mul(dy, tf.mul(tf.step(input), tf.step(dy))) };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** A stand-in activation; its class name is not one tfjs fuses into the convolution, so `apply` runs. */
const GUIDED_RELU = { getClassName: () => 'guidedRelu', apply: guidedRelu };

/**
 * Swaps every ReLU of the model (a layer's activation, an Activation or ReLU layer, a variational
 * layer's inner activation; nested models included) for the guided one; returns the undo.
 */
function installGuidedRelus(model: tfl.LayersModel): () => void {
  const restores: (() => void)[] = [];
  for (const { layer } of layerAddresses(model)) {
    const holders = [layer, (layer as unknown as { activationLayer?: unknown }).activationLayer] as Holder[];
    for (const holder of holders) {
      if (holder?.activation?.getClassName?.() === 'relu') restores.push(patch(holder, 'activation', GUIDED_RELU));
    }
    if (layer.getClassName() === 'ReLU' && (layer as unknown as { maxValue?: number }).maxValue == null) {
      restores.push(patch(layer, 'call', (inputs: tf.Tensor | tf.Tensor[]) => guidedRelu(Array.isArray(inputs) ? inputs[0] : inputs)));
    }
  }
  return () => restores.reverse().forEach((restore) => restore());
}

/**
 * Guided backpropagation: the gradient of each image's score with respect to its pixels, with
 * every ReLU passing back only positive gradients, [batch, H, W, C], unnormalised. Sharp,
 * edge-like pictures of the pixels that raise the score; not class-discriminative on its own
 * (combine with a CAM: `guidedGradCam`). One forward and one backward pass for the batch; the
 * model's ReLUs are swapped for the pass only and restored in `finally`.
 *
 * Reference: Springenberg et al. 2015, "Striving for Simplicity: The All Convolutional Net", sec. 3.4.
 */
export function guidedBackprop(
  model: tfl.LayersModel,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  options: InputGradientOptions = {},
): tf.Tensor4D {
  const request = prepareInputPass('guidedBackprop', model, classIdx, images, options);
  const [gradients] = inputGradients(request, [], () => installGuidedRelus(model));
  return gradients as tf.Tensor4D;
}

/**
 * Guided Grad-CAM: guided backpropagation times the CAM map upsampled to the image, per pixel and
 * channel, [batch, H, W, C]: fine detail from the first, class discrimination from the second.
 * `options` are those of `cam` (any method). Two forward and two backward passes.
 *
 * Reference: Selvaraju et al. 2017, "Grad-CAM", sec. 3.2.
 */
export function guidedGradCam(
  model: tfl.LayersModel,
  layerName: string,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  options: Omit<CamOptions, 'raw'> = {},
): tf.Tensor4D {
  const who = 'guidedGradCam';
  const checked = checkOptions(who, options, CAM_OPTIONS.filter((key) => key !== 'raw'));
  const maps = camOf(who, model, layerName, classIdx, images, checked);
  try {
    const { score, sampling, seed, checkFinite } = checked;
    const guided = guidedBackprop(model, classIdx, images, { score, sampling, seed, checkFinite });
    // Selvaraju et al. 2017, sec. 3.2: the element-wise product of the guided gradients and the upsampled map.
    const product = tf.tidy(() => tf.mul(guided, tf.expandDims(maps, -1)) as tf.Tensor4D);
    guided.dispose();
    return product;
  } finally {
    maps.dispose();
  }
}
