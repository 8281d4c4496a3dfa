import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { cam, fullGrad, guidedBackprop, roadScore, tokensToGrid, type CamMethod, type CamOptions } from '../../src';
import { expectNoLeaks } from '../helpers';
import { expectClose, loadFixture, rebuildCase, type Nested } from './golden';

/** The bar: within 1e-4 of pytorch-grad-cam, on maps in [0, 1]. */
const TOLERANCE = 1e-4;

interface LayerSpec {
  name: string;
  kind: 'conv2d' | 'batchNormalization' | 'activation' | 'maxPooling2d' | 'globalAveragePooling2d' | 'dense' | 'reshape' | 'globalAveragePooling1d';
  options: Record<string, unknown>;
}

interface Road {
  maps: Nested;
  percentiles: number[];
  mostRelevantFirst: { change: Nested; imputed: Nested }[];
  leastRelevantFirst: { change: Nested; imputed: Nested }[];
}

/** One case of `pytorch_grad_cam.json`: a torch model as a tfjs layer list, its weights (tfjs layout), images (NHWC) and results. */
interface TorchCase {
  name: string;
  inputShape: number[];
  layers: LayerSpec[];
  weights: Record<string, Nested[]>;
  images: Nested;
  classes: number[];
  logits: Nested;
  /** Per layer and method label ('gradcam', 'gradcam+eigenSmooth', ...): the maps [batch, h, w] at the layer's resolution. */
  maps: { layerName: string; method: string; maps: Nested }[];
  fullGrad?: Nested;
  guidedBackprop?: Nested;
  road?: Road;
}

const FACTORIES: Record<LayerSpec['kind'], (args: never) => tfl.layers.Layer> = {
  conv2d: tfl.layers.conv2d,
  batchNormalization: tfl.layers.batchNormalization,
  activation: tfl.layers.activation,
  maxPooling2d: tfl.layers.maxPooling2d,
  globalAveragePooling2d: tfl.layers.globalAveragePooling2d,
  dense: tfl.layers.dense,
  reshape: tfl.layers.reshape,
  globalAveragePooling1d: tfl.layers.globalAveragePooling1d,
};

function buildModel(spec: TorchCase): tfl.LayersModel {
  const layers = spec.layers.map(({ name, kind, options }, i) =>
    FACTORIES[kind]({ ...options, name, ...(i === 0 ? { inputShape: spec.inputShape } : {}) } as never),
  );
  const model = tfl.sequential({ layers });
  for (const [name, weights] of Object.entries(spec.weights)) {
    const values = weights.map((w) => tf.tensor(w as number[]));
    model.getLayer(name).setWeights(values);
    tf.dispose(values);
  }
  return model;
}

/** A fixture label as `cam` options: the method, then '+eigenSmooth' or '+augSmooth'. */
function optionsOf(label: string): CamOptions {
  const [method, smoothing] = label.split('+');
  return { method: method as CamMethod, raw: true, ...(smoothing ? { [smoothing]: true } : {}) };
}

const fixture = loadFixture<TorchCase>('pytorch_grad_cam.json');

describe(`the issue-19 explanations match pytorch-grad-cam ${fixture.versions['grad-cam']} (torch ${fixture.versions.torch})`, () => {
  describe.each(fixture.cases.map((c) => [c.name, c] as const))('model %s', (name, c) => {
    const reshapeTransform = name === 'tokens' ? tokensToGrid(4, 4, { skipTokens: 0 }) : undefined;
    const rebuilt = rebuildCase(c, buildModel, 'torch');

    it.each(c.maps.map((m) => [m.method, m.layerName, m] as const))('%s at %s, at the layer resolution', async (label, layerName, expected) => {
      await expectNoLeaks(() => {
        const maps = cam(rebuilt.model, layerName, c.classes, rebuilt.images, { ...optionsOf(label), reshapeTransform });
        expectClose(maps, expected.maps, { tolerance: TOLERANCE });
        return maps;
      });
    });

    it('the methods give different maps (each comparison tests its own method)', () => {
      const byLayer = new Map<string, string[]>();
      for (const m of c.maps) byLayer.set(m.layerName, [...(byLayer.get(m.layerName) ?? []), JSON.stringify(m.maps)]);
      for (const maps of byLayer.values()) expect(new Set(maps).size).toBe(maps.length);
    });

    if (c.fullGrad) {
      it('FullGrad at the image resolution (bias terms upsampled bilinearly with half-pixel centres, as cv2.resize)', async () => {
        await expectNoLeaks(() => {
          const maps = fullGrad(rebuilt.model, c.classes, rebuilt.images);
          expectClose(maps, c.fullGrad!, { tolerance: TOLERANCE });
          return maps;
        });
      });
    }

    if (c.guidedBackprop) {
      it('guided backpropagation, relative to the largest gradient; the rebuilt.model is unchanged and normal gradients are back', async () => {
        const before = rebuilt.model.predict(rebuilt.images) as tf.Tensor;
        await expectNoLeaks(() => {
          const gradients = guidedBackprop(rebuilt.model, c.classes, rebuilt.images);
          expectClose(gradients, c.guidedBackprop!, { floor: 0, tolerance: TOLERANCE });
          return gradients;
        });
        const after = rebuilt.model.predict(rebuilt.images) as tf.Tensor;
        expectClose(after, before, { floor: 0 });
        // The plain input gradient differs from the guided one: the ReLUs' own backward is restored.
        const plain = tf.tidy(() =>
          tf.grad((x: tf.Tensor) => tf.sum(tf.mul(rebuilt.model.apply(x) as tf.Tensor, tf.oneHot(c.classes, 3))))(rebuilt.images),
        );
        const guided = guidedBackprop(rebuilt.model, c.classes, rebuilt.images);
        expect(tf.tidy(() => tf.max(tf.abs(tf.sub(plain, guided))).dataSync()[0])).toBeGreaterThan(1e-3);
        tf.dispose([before, after, plain, guided]);
      });
    }

    if (c.road) {
      const road = c.road;
      it('ROAD with the noise off: the score changes after noisy-linear imputation, most and least relevant first', async () => {
        const maps = tf.tensor(road.maps as number[]) as tf.Tensor3D;
        const result = await expectNoLeaks(
          () => roadScore(rebuilt.model, c.classes, rebuilt.images, maps, { percentiles: road.percentiles, noise: 0 }),
          () => undefined,
        );
        const changes = (rows: { change: Nested }[]) => road.percentiles.map((_, p) => (rows[p].change as number[]));
        const transpose = (perImage: number[][]) => road.percentiles.map((_, p) => perImage.map((row) => row[p]));
        expectClose(tf.tensor(transpose(result.mostRelevantFirst)), changes(road.mostRelevantFirst), { tolerance: TOLERANCE });
        expectClose(tf.tensor(transpose(result.leastRelevantFirst)), changes(road.leastRelevantFirst), { tolerance: TOLERANCE });
        maps.dispose();
      });
    }
  });
});
