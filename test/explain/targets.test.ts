import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { cam, classMargin, classSum, deletionCurve, embeddingSimilarity, gradCam, tokensToGrid, type TargetFunction } from '../../src';
import { dihedralTransform } from '../../src/uncertainty/views';
import { expectNoLeaks, maxAbsDiff } from '../helpers';
import { activationsAt, gapModel, images, init, referenceCam } from './models';

describe('target functions: Grad-CAM of a linear function of the logits after global average pooling is CAM with that combination of head columns', () => {
  // After GAP + dense, ∂(Σ_c a_c y_c)/∂A_k is Σ_c a_c W_kc / Z: Grad-CAM's weights are the same combination of columns.
  const model = gapModel({ classes: 4 });
  const x = images(2);
  const [kernel] = model.getLayer('head').getWeights();
  const activations = activationsAt(model, 'conv', x);
  const W = kernel.arraySync() as number[][];
  const combination = (coefficients: number[][]) =>
    tf.tensor2d(coefficients.map((a) => W.map((row) => row.reduce((s, w, c) => s + a[c] * w, 0))));
  afterAll(() => tf.dispose([x, kernel, activations]));

  it('classSum([1, 3]): the columns W_1 + W_3', () => {
    const weights = combination([[0, 1, 0, 1], [0, 1, 0, 1]]);
    const expected = referenceCam(activations, weights);
    const maps = gradCam(model, 'conv', classSum([1, 3]), x);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    tf.dispose([weights, expected, maps]);
  });

  it('classMargin(2, { against: 0 }): W_2 − W_0; and against the strongest rival, W_2 − W_argmax', () => {
    const weights = combination([[-1, 0, 1, 0], [-1, 0, 1, 0]]);
    const expected = referenceCam(activations, weights);
    const maps = gradCam(model, 'conv', classMargin(2, { against: 0 }), x);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    const logits = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    const rivals = logits.map((row) => row.map((v, c) => (c === 2 ? -Infinity : v)).reduce((best, v, c, all) => (v > all[best] ? c : best), 0));
    const rivalWeights = combination(rivals.map((r) => [0, 1, 2, 3].map((c) => (c === 2 ? 1 : c === r ? -1 : 0))));
    const rivalExpected = referenceCam(activations, rivalWeights);
    const rivalMaps = gradCam(model, 'conv', classMargin(2), x);
    expect(maxAbsDiff(rivalMaps, rivalExpected)).toBeLessThan(1e-5);
    tf.dispose([weights, expected, maps, rivalWeights, rivalExpected, rivalMaps]);
  });

  it('embeddingSimilarity(e): ∂cos(y, e)/∂y = e/(|y||e|) − cos · y/|y|², combined through the columns', () => {
    const e = tf.tensor1d([0.5, -1, 2, 0.3]);
    const y = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    const ev = e.arraySync();
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, t) => s + t * t, 0));
    const coefficients = y.map((row) => {
      const cos = row.reduce((s, v, c) => s + v * ev[c], 0) / (norm(row) * norm(ev));
      return row.map((v, c) => ev[c] / (norm(row) * norm(ev)) - (cos * v) / norm(row) ** 2);
    });
    const weights = combination(coefficients);
    const expected = referenceCam(activations, weights);
    const maps = gradCam(model, 'conv', embeddingSimilarity(e), x);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    tf.dispose([e, weights, expected, maps]);
  });

  it('a target function is the same score in the deletion curve: classSum([c]) equals classIdx c', () => {
    const maps = gradCam(model, 'conv', 1, x);
    const byIndex = deletionCurve(model, 1, x, maps, { steps: 4, score: 'logit' });
    const byFunction = deletionCurve(model, classSum([1]), x, maps, { steps: 4, score: 'logit' });
    expect(byFunction.scores).toEqual(byIndex.scores);
    maps.dispose();
  });

  it('errors: a function returning the wrong shape, and bad helper arguments', () => {
    const perBatch: TargetFunction = (output) => tf.sum(output) as unknown as tf.Tensor1D;
    expect(() => cam(model, 'conv', perBatch, x)).toThrow(
      'cam: classIdx, a target function, must return one score per image, shape [2]; got shape []. Reduce each row of the output to a scalar, e.g. with tf.sum(output, 1).',
    );
    expect(() => classSum([])).toThrow('classSum: classes must be a non-empty array of class indices (integers >= 0); got [].');
    expect(() => classMargin(1, { against: 1 })).toThrow('classMargin: options.against must differ from classIdx; got 1 for both.');
    expect(() => classMargin(1, { agianst: 0 } as never)).toThrow(/^classMargin: options has unknown 'agianst'; did you mean 'agianst' → 'against'\?/);
    const e = tf.tensor1d([1, 2]);
    expect(() => gradCam(model, 'conv', embeddingSimilarity(e), x)).toThrow(
      'embeddingSimilarity: embedding must have one value per model output, 4; got 2. Compute the embedding with the same model.',
    );
    e.dispose();
  });

  it('no leaks, also when the target function throws inside the pass', async () => {
    await expectNoLeaks(() => gradCam(model, 'conv', classMargin(0), x));
    const failing: TargetFunction = () => {
      tf.zeros([3]);
      throw new Error('target failed');
    };
    await expectNoLeaks(() => expect(() => cam(model, 'conv', failing, x, { method: 'ablationcam' })).toThrow('target failed'), () => undefined);
    await expectNoLeaks(() => expect(() => cam(model, 'conv', failing, x, { augSmooth: true })).toThrow('target failed'), () => undefined);
    expect(Object.prototype.hasOwnProperty.call(model.getLayer('conv'), 'call')).toBe(false);
  });
});

describe('reshapeTransform: a token layer explained as the grid it came from', () => {
  /** conv 2×2/2 patches → 16 tokens (plus a leading constant class token) → token-wise dense + ReLU → mean → dense. */
  function tokenModel(withClassToken: boolean): tfl.LayersModel {
    const input = tfl.input({ shape: [8, 8, 3] });
    const patches = tfl.layers.conv2d({ filters: 4, kernelSize: 2, strides: 2, name: 'patches', kernelInitializer: init(5) }).apply(input) as tfl.SymbolicTensor;
    let tokens = tfl.layers.reshape({ targetShape: [16, 4] }).apply(patches) as tfl.SymbolicTensor;
    if (withClassToken) {
      const first = tfl.layers.cropping2D({ cropping: [[0, 3], [0, 3]] }).apply(patches) as tfl.SymbolicTensor;
      tokens = tfl.layers.concatenate({ axis: 1 }).apply([tfl.layers.reshape({ targetShape: [1, 4] }).apply(first) as tfl.SymbolicTensor, tokens]) as tfl.SymbolicTensor;
    }
    const mixed = tfl.layers.dense({ units: 4, activation: 'relu', name: 'mix', kernelInitializer: init(6), biasInitializer: 'ones' }).apply(tokens);
    const pooled = tfl.layers.globalAveragePooling1d({}).apply(mixed);
    return tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3, name: 'head', kernelInitializer: init(7) }).apply(pooled) as tfl.SymbolicTensor });
  }

  it('the maps of a model with a class token equal those of its tokens alone (skipTokens drops the class token)', () => {
    const plain = tokenModel(false);
    const withClass = tokenModel(true);
    withClass.getLayer('patches').setWeights(plain.getLayer('patches').getWeights());
    withClass.getLayer('mix').setWeights(plain.getLayer('mix').getWeights());
    withClass.getLayer('head').setWeights(plain.getLayer('head').getWeights());
    const x = images(2);
    for (const method of ['gradcam', 'hirescam', 'eigencam'] as const) {
      const a = cam(plain, 'mix', [0, 2], x, { method, raw: true, reshapeTransform: tokensToGrid(4, 4, { skipTokens: 0 }) });
      const b = cam(withClass, 'mix', [0, 2], x, { method, raw: true, reshapeTransform: tokensToGrid(4, 4) });
      expect(a.shape).toEqual([2, 4, 4]);
      // Mean pooling over 17 tokens instead of 16 scales every gradient by 16/17: the normalised maps agree.
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
      tf.dispose([a, b]);
    }
    x.dispose();
  });

  it('errors: a layer that is not 4-D without a transform; a transform of the wrong shape', () => {
    const model = tokenModel(false);
    const x = images(2);
    expect(() => cam(model, 'mix', 0, x)).toThrow(/^cam: layer 'mix' \(Dense\) must output a 4-D tensor \[batch, height, width, channels\]; got shape \[null, 16, 4\]/);
    expect(() => cam(model, 'mix', 0, x, { reshapeTransform: tokensToGrid(4, 4) })).toThrow(
      'tokensToGrid: the layer output must be [batch, 1 + 4·4 tokens, channels]; got [2, 16, 4]. Give the patch grid of the model, and skipTokens for its class tokens.',
    );
    const flat = (t: tf.Tensor) => tf.reshape(t, [2, -1]) as unknown as tf.Tensor4D;
    expect(() => cam(model, 'mix', 0, x, { reshapeTransform: flat })).toThrow(
      'cam: options.reshapeTransform must return [batch, height, width, channels] with batch 2; got shape [2, 64] for the layer output of shape [2, 16, 4]. For tokens, use tokensToGrid(height, width).',
    );
    x.dispose();
  });
});

describe('augSmooth: the mean map over the 8 symmetries of a square', () => {
  const model = gapModel({ classes: 3 });
  const x = images(2);
  afterAll(() => x.dispose());

  it('is equivariant: the smoothed map of a rotated or mirrored image is the smoothed map, rotated or mirrored', () => {
    const smoothed = cam(model, 'conv', [0, 1], x, { augSmooth: true });
    for (const [mirror, turns] of [[false, 1], [true, 0], [true, 3]] as const) {
      const view = dihedralTransform(x, mirror, turns);
      const ofView = cam(model, 'conv', [0, 1], view, { augSmooth: true });
      const moved = tf.tidy(() => tf.squeeze(dihedralTransform(tf.expandDims(smoothed, -1) as tf.Tensor4D, mirror, turns), [3]));
      expect(maxAbsDiff(ofView, moved)).toBeLessThan(1e-5);
      tf.dispose([view, ofView, moved]);
    }
    // Not the plain map: the plain map is not equivariant.
    const plain = cam(model, 'conv', [0, 1], x);
    expect(maxAbsDiff(plain, smoothed)).toBeGreaterThan(1e-3);
    tf.dispose([smoothed, plain]);
  });

  it('refuses images that are not square', () => {
    const wide = tfl.sequential({
      layers: [tfl.layers.conv2d({ inputShape: [4, 6, 3], filters: 2, kernelSize: 3, padding: 'same', name: 'conv' }), tfl.layers.flatten({}), tfl.layers.dense({ units: 2 })],
    });
    const y = tf.zeros([1, 4, 6, 3]) as tf.Tensor4D;
    expect(() => cam(wide, 'conv', 0, y, { augSmooth: true })).toThrow(
      'cam: images must be square to be rotated when options.augSmooth is true; got [1, 4, 6, 3]. Crop or resize them to a square, or leave augSmooth off.',
    );
    y.dispose();
  });

  it('eigenSmooth and augSmooth do not leak, raw or upsampled', async () => {
    await expectNoLeaks(() => cam(model, 'conv', 'predicted', x, { eigenSmooth: true, method: 'layercam' }));
    await expectNoLeaks(() => cam(model, 'conv', [0, 1], x, { augSmooth: true, eigenSmooth: true, raw: true }));
  });
});
