import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { cam, fullGrad, guidedBackprop, guidedGradCam, type TargetFunction } from '../../src';
import { expectNoLeaks, maxAbsDiff } from '../helpers';
import { gapModel, images } from './models';

// The model: x [2, 2, 1] → z = a·x + b (1×1 conv) → h = ReLU(z) → flatten → y = Vᵀh (dense, no bias).
// So ∂y_c/∂x_p = a · V[p][c] · [z_p > 0] and ∂y_c/∂z_p = V[p][c] · [z_p > 0], all in closed form.
const a = 2;
const b = -1;
const V = [[0.5, -1], [1, 0.2], [-0.3, 0.4], [0.8, -0.6]];
const x = [1, 0.2, 0.8, 2]; // z = [1, −0.6, 0.6, 3]: the second pixel's ReLU is off.
const c = 0;

function tinyModel(): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [2, 2, 1], filters: 1, kernelSize: 1, activation: 'relu', name: 'conv' }),
      tfl.layers.flatten({}),
      tfl.layers.dense({ units: 2, useBias: false, name: 'head' }),
    ],
  });
  model.getLayer('conv').setWeights([tf.tensor4d([a], [1, 1, 1, 1]), tf.tensor1d([b])]);
  model.getLayer('head').setWeights([tf.tensor2d(V)]);
  return model;
}

const on = x.map((v) => (a * v + b > 0 ? 1 : 0));
const plainGradient = x.map((_, p) => a * V[p][c] * on[p]);
const input = () => tf.tensor4d(x, [1, 2, 2, 1]);

describe('guided backpropagation', () => {
  it('passes back only positive gradients through each ReLU (Springenberg et al. 2015, eq. 6), by hand', () => {
    const model = tinyModel();
    const image = input();
    const guided = guidedBackprop(model, c, image);
    // The plain gradient [1, 0, −0.6, 1.6]: the third pixel's incoming gradient V[2][0] = −0.3 is negative, so guided it is 0.
    const expected = plainGradient.map((g, p) => (V[p][c] > 0 ? g : 0));
    expect(guided.shape).toEqual([1, 2, 2, 1]);
    expect(maxAbsDiff(guided, expected)).toBeLessThan(1e-6);
    expect(maxAbsDiff(guided, plainGradient)).toBeGreaterThan(0.5);
    tf.dispose([image, guided]);
  });

  it('Guided Grad-CAM is the guided gradient times the upsampled CAM map', () => {
    const model = gapModel();
    const batch = images(2);
    const product = guidedGradCam(model, 'conv', [0, 2], batch, { method: 'layercam' });
    const expected = tf.tidy(() => tf.mul(guidedBackprop(model, [0, 2], batch), tf.expandDims(cam(model, 'conv', [0, 2], batch, { method: 'layercam' }), -1)));
    expect(maxAbsDiff(product, expected)).toBeLessThan(1e-6);
    // Its maps must be at the image size: `raw` is not an option of guidedGradCam.
    expect(() => guidedGradCam(model, 'conv', 0, batch, { raw: true } as never)).toThrow(/^guidedGradCam: options has unknown 'raw'/);
    tf.dispose([batch, product, expected]);
  });
});

describe('FullGrad', () => {
  it('sums the normalised input-gradient and bias-gradient terms (Srinivas & Fleuret 2019, eq. 3), by hand', () => {
    const model = tinyModel();
    const image = input();
    const maps = fullGrad(model, c, image);
    const normalise = (v: number[]) => {
      const lo = Math.min(...v);
      const hi = Math.max(...v.map((t) => t - lo));
      return v.map((t) => (t - lo) / (hi + 1e-7));
    };
    // |∇ₓy ⊙ x| = [1, 0, 0.48, 3.2] and |b · ∂y/∂z| = [0.5, 0, 0.3, 0.8], each normalised, summed, normalised.
    const inputTerm = normalise(plainGradient.map((g, p) => Math.abs(g * x[p])));
    const biasTerm = normalise(x.map((_, p) => Math.abs(b * V[p][c] * on[p])));
    const total = inputTerm.map((v, p) => v + biasTerm[p]);
    const expected = total.map((v) => (v - Math.min(...total)) / (Math.max(...total) - Math.min(...total)));
    expect(maps.shape).toEqual([1, 2, 2]);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    tf.dispose([image, maps]);
  });

  it('errors: an unknown option, a layer without a fixed output size', () => {
    const model = tinyModel();
    const image = input();
    expect(() => fullGrad(model, c, image, { sampels: 3 } as never)).toThrow(/^fullGrad: options has unknown 'sampels'; did you mean 'sampels' → 'sampling'\?/);
    const free = tfl.sequential({
      layers: [tfl.layers.conv2d({ inputShape: [null, null, 1], filters: 1, kernelSize: 1, name: 'conv' }), tfl.layers.globalAveragePooling2d({}), tfl.layers.dense({ units: 2 })],
    });
    expect(() => fullGrad(free, c, image)).toThrow(
      "fullGrad: layer 'conv' must have a fixed output size; got [null,null,null,1]. Build the model with a fixed input size.",
    );
    image.dispose();
  });
});

describe.each([
  ['guidedBackprop', guidedBackprop],
  ['fullGrad', fullGrad],
] as const)('%s leaves the model as it was', (_name, explain) => {
  it("also when the pass throws: the same activation object, the model's own forward and gradients, no leaks", async () => {
    const model = tinyModel();
    const conv = model.getLayer('conv') as unknown as { activation: unknown };
    const activation = conv.activation;
    const image = input();
    const failing: TargetFunction = () => {
      throw new Error('target failed');
    };
    await expectNoLeaks(() => explain(model, 'predicted', image));
    await expectNoLeaks(() => expect(() => explain(model, failing, image)).toThrow('target failed'), () => undefined);
    expect(conv.activation).toBe(activation);
    // y_c = Σ_p V[p][c] ReLU(a x_p + b), and its gradient the plain one.
    const output = model.predict(image) as tf.Tensor;
    expect(maxAbsDiff(output, [0, 1].map((k) => V.reduce((sum, row, p) => sum + row[k] * Math.max(a * x[p] + b, 0), 0)))).toBeLessThan(1e-6);
    const plain = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(model.apply(v) as tf.Tensor, tf.oneHot([c], 2))))(image));
    expect(maxAbsDiff(plain, plainGradient)).toBeLessThan(1e-6);
    tf.dispose([image, output, plain]);
  });
});
