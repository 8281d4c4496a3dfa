import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Seeded initialisers, so every test model is the same on every run. */
export const init = (seed: number) => tfl.initializers.glorotNormal({ seed });

/** conv → global average pooling → dense: the architecture where Grad-CAM equals CAM. */
export function gapModel({ classes = 3, softmax = false, size = 8, seed = 1 } = {}): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [size, size, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: init(seed), biasInitializer: 'ones' }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: classes, name: 'head', activation: softmax ? 'softmax' : 'linear', kernelInitializer: init(seed + 1) }),
    ],
  });
}

/** The layers of a small VGG-style base (two conv blocks), built fresh each call. */
export function vggBaseLayers(seed: number, size: number): tfl.layers.Layer[] {
  return [
    tfl.layers.conv2d({ inputShape: [size, size, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'block1_conv1', kernelInitializer: init(seed), biasInitializer: 'ones' }),
    tfl.layers.maxPooling2d({ poolSize: 2, name: 'block1_pool' }),
    tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'block2_conv1', kernelInitializer: init(seed + 1), biasInitializer: 'ones' }),
  ];
}

export function headLayers(seed: number, classes = 3): tfl.layers.Layer[] {
  return [
    tfl.layers.flatten({ name: 'flatten' }),
    tfl.layers.dense({ units: 5, activation: 'relu', name: 'fc', kernelInitializer: init(seed + 2) }),
    tfl.layers.dense({ units: classes, activation: 'softmax', name: 'predictions', kernelInitializer: init(seed + 3) }),
  ];
}

/**
 * The Keras transfer-learning pattern: a VGG-style base model used as one layer of a Sequential
 * with a head on top; and the same layers, with the same weights, in one flat Sequential.
 */
export function nestedAndFlat(size = 8, seed = 3): { nested: tfl.LayersModel; flat: tfl.LayersModel } {
  const base = tfl.sequential({ name: 'base', layers: vggBaseLayers(seed, size) });
  const nested = tfl.sequential({ layers: [base, ...headLayers(seed)] });
  const flat = tfl.sequential({ layers: [...vggBaseLayers(seed + 100, size), ...headLayers(seed + 100)] });
  flat.setWeights(nested.getWeights());
  return { nested, flat };
}

/** Random images, seeded. */
export function images(batch: number, size = 8, channels = 3, seed = 11): tf.Tensor4D {
  return tf.randomUniform([batch, size, size, channels], 0, 1, 'float32', seed) as tf.Tensor4D;
}

/** CAM (Zhou et al. 2016) computed directly: ReLU(Σ_k w_k A_k), min-max normalised per image. */
export function referenceCam(activations: tf.Tensor4D, weights: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, , , channels] = activations.shape;
    const map = tf.relu(tf.sum(tf.mul(activations, tf.reshape(weights, [batch, 1, 1, channels])), -1));
    const shifted = tf.sub(map, tf.min(map, [1, 2], true));
    return tf.divNoNan(shifted, tf.max(shifted, [1, 2], true)) as tf.Tensor3D;
  });
}

/** The activations at a layer, from a sub-model: independent of the engine's probe. */
export function activationsAt(model: tfl.LayersModel, layerName: string, x: tf.Tensor4D): tf.Tensor4D {
  const sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer(layerName).output as tfl.SymbolicTensor });
  return sub.predict(x) as tf.Tensor4D;
}
