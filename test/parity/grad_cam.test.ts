import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { gradCam } from '../../src';
import { expectNoLeaks } from '../helpers';
import { expectClose, loadFixture, rebuildCase, PARITY_TOLERANCE, type Nested } from './golden';

/** One layer of a fixture model: `kind` names the tfjs-layers factory, `options` its arguments. */
interface LayerSpec {
  name: string;
  kind: 'conv2d' | 'maxPooling2d' | 'globalAveragePooling2d' | 'add' | 'dense';
  inputs: string[];
  options: Record<string, unknown>;
}

/** A map from the keras.io recipe: `raw` before ReLU, `heatmap` = ReLU(raw) / max(raw). */
interface KerasMap {
  layerName: string;
  image: number;
  classIdx: number;
  raw: Nested;
  heatmap: Nested;
}

/** One case of `keras_grad_cam.json`: a tf_keras model, its weights, images, logits and maps. */
interface GradCamCase {
  name: string;
  inputShape: number[];
  layers: LayerSpec[];
  /** Per layer, its weights in Keras (= tfjs-layers) order: kernel, then bias. */
  weights: Record<string, Nested[]>;
  images: Nested;
  logits: Nested;
  maps: KerasMap[];
}

const FACTORIES: Record<LayerSpec['kind'], (args: never) => tfl.layers.Layer> = {
  conv2d: tfl.layers.conv2d,
  maxPooling2d: tfl.layers.maxPooling2d,
  globalAveragePooling2d: tfl.layers.globalAveragePooling2d,
  add: tfl.layers.add,
  dense: tfl.layers.dense,
};

/** Rebuilds the Keras model with tfjs-layers from the fixture's layer list, with its weights. */
function buildModel(spec: GradCamCase): tfl.LayersModel {
  const tensors: Record<string, tfl.SymbolicTensor> = { input: tfl.input({ shape: spec.inputShape, name: 'input' }) };
  for (const { name, kind, inputs, options } of spec.layers) {
    const layer = FACTORIES[kind]({ ...options, name } as never);
    const args = inputs.map((input) => tensors[input]);
    tensors[name] = layer.apply(kind === 'add' ? args : args[0]) as tfl.SymbolicTensor;
  }
  const model = tfl.model({ inputs: tensors.input, outputs: tensors[spec.layers[spec.layers.length - 1].name] });
  for (const [name, weights] of Object.entries(spec.weights)) {
    const values = weights.map((w) => tf.tensor(w as number[]));
    model.getLayer(name).setWeights(values);
    tf.dispose(values);
  }
  return model;
}

/**
 * What tfjs-trust's `gradCam(..., { raw: true })` returns for Keras's raw map: ReLU, then min-max
 * per image. Keras's recipe divides by the max instead; the two agree when the map has a negative
 * part, since its ReLU then has minimum 0.
 */
function libraryNormalisation(raw: Nested): tf.Tensor {
  return tf.tidy(() => {
    const relu = tf.relu(tf.tensor(raw as number[]));
    const shifted = tf.sub(relu, tf.min(relu));
    return tf.div(shifted, tf.max(shifted));
  });
}

/** Image `index` of a batch, as a batch of one. */
function imageAt(images: tf.Tensor4D, index: number): tf.Tensor4D {
  return tf.slice(images, [index, 0, 0, 0], [1, -1, -1, -1]);
}

const fixture = loadFixture<GradCamCase>('keras_grad_cam.json');

describe(`gradCam matches the keras.io Grad-CAM recipe (tf_keras ${fixture.versions.tf_keras}, TF ${fixture.versions.tensorflow})`, () => {
  describe.each(fixture.cases.map((c) => [c.name, c] as const))('model %s', (_name, c) => {
    const rebuilt = rebuildCase(c, buildModel, 'Keras');

    it.each(c.maps.map((m) => [m.layerName, m.image, m.classIdx, m] as const))(
      "layer %s, image %i, class %i: equals Keras's map, normalised as the library does",
      async (layerName, image, classIdx, map) => {
        const one = imageAt(rebuilt.images, image);
        const expected = libraryNormalisation(map.raw);
        await expectNoLeaks(() => {
          const actual = gradCam(rebuilt.model, layerName, classIdx, one, { raw: true });
          tf.tidy(() => expectClose(tf.squeeze(actual, [0]), expected));
          return actual;
        });
        tf.dispose([one, expected]);
      },
    );

    it("with a negative part, the map is Keras's own heat map, ReLU / max", () => {
      const withNegatives = c.maps.filter((m) => Math.min(...(m.raw as number[][]).flat()) < 0);
      expect(withNegatives.length).toBeGreaterThan(0);
      for (const map of withNegatives) {
        const one = imageAt(rebuilt.images, map.image);
        const actual = tf.tidy(() => tf.squeeze(gradCam(rebuilt.model, map.layerName, map.classIdx, one, { raw: true }), [0]));
        expectClose(actual, map.heatmap);
        tf.dispose([one, actual]);
      }
    });

    it('would notice the wrong class score: the probability gives other maps than the logit', () => {
      const map = c.maps[0];
      const one = imageAt(rebuilt.images, map.image);
      const expected = libraryNormalisation(map.raw);
      const error = tf.tidy(() => {
        const actual = tf.squeeze(gradCam(rebuilt.model, map.layerName, map.classIdx, one, { raw: true, score: 'probability' }), [0]);
        return tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0];
      });
      expect(error).toBeGreaterThan(100 * PARITY_TOLERANCE);
      tf.dispose([one, expected]);
    });

    it("'predicted', batched, explains each image's Keras argmax in one call", () => {
      const argmax = (c.logits as number[][]).map((row) => row.indexOf(Math.max(...row)));
      for (const layerName of new Set(c.maps.map((m) => m.layerName))) {
        const maps = gradCam(rebuilt.model, layerName, 'predicted', rebuilt.images, { raw: true });
        argmax.forEach((classIdx, image) => {
          const keras = c.maps.find((m) => m.layerName === layerName && m.image === image && m.classIdx === classIdx)!;
          const expected = libraryNormalisation(keras.raw);
          const actual = tf.squeeze(tf.slice(maps, [image, 0, 0], [1, -1, -1]), [0]);
          expectClose(actual, expected);
          tf.dispose([expected, actual]);
        });
        maps.dispose();
      }
    });
  });
});
