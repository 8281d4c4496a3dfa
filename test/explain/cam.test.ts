import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CAM_METHODS, DenseFlipout, cam, findLayer, gradCam } from '../../src';
import { expectNoLeaks, maxAbsDiff } from '../helpers';
import { activationsAt, gapModel, images, init, nestedAndFlat, referenceCam } from './models';


/** The head kernel's columns for the given classes, one row per image: [batch, channels]. */
function kernelColumns(kernel: tf.Tensor, classes: number[]): tf.Tensor2D {
  return tf.tidy(() => tf.transpose(tf.gather(kernel, classes, 1)) as tf.Tensor2D);
}

describe('Grad-CAM equals CAM for conv → global average pooling → dense', () => {
  const x = images(3);
  const classes = [0, 2, 1];

  it('with no softmax, to 1e-5, for a different class per image', () => {
    const model = gapModel();
    const [kernel] = model.getLayer('head').getWeights();
    const activations = activationsAt(model, 'conv', x);
    const expected = referenceCam(activations, kernelColumns(kernel, classes));
    const maps = gradCam(model, 'conv', classes, x);
    expect(maps.shape).toEqual([3, 8, 8]);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    tf.dispose([activations, expected, maps]);
  });

  it("with a final softmax, the default 'logit' score still gives CAM: the softmax is taken off", () => {
    const model = gapModel({ softmax: true });
    const [kernel] = model.getLayer('head').getWeights();
    const activations = activationsAt(model, 'conv', x);
    const expected = referenceCam(activations, kernelColumns(kernel, classes));
    const maps = gradCam(model, 'conv', classes, x);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    tf.dispose([activations, expected, maps]);
  });

  it("with score 'probability', the weights are the closed form p_c (W_c − Σ_j p_j W_j)", () => {
    const model = gapModel({ softmax: true });
    const [kernel] = model.getLayer('head').getWeights();
    const activations = activationsAt(model, 'conv', x);
    const weights = tf.tidy(() => {
      const p = model.predict(x) as tf.Tensor2D;
      const pc = tf.sum(tf.mul(p, tf.oneHot(classes, 3)), 1, true);
      // ∂p_c/∂g = p_c (W_c − Σ_j p_j W_j), for g the pooled features (the 1/Z cancels in the normalisation).
      return tf.mul(pc, tf.sub(kernelColumns(kernel, classes), tf.matMul(p, kernel, false, true))) as tf.Tensor2D;
    });
    const expected = referenceCam(activations, weights);
    const maps = gradCam(model, 'conv', classes, x, { score: 'probability' });
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    const logitMaps = gradCam(model, 'conv', classes, x);
    expect(maxAbsDiff(maps, logitMaps)).toBeGreaterThan(1e-3);
    tf.dispose([activations, weights, expected, maps, logitMaps]);
  });

  it("with a DenseFlipout head, 'mean' sampling (the default) explains the posterior mean", () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: init(1), biasInitializer: 'ones' }),
        tfl.layers.globalAveragePooling2d({}),
        new DenseFlipout({ units: 3, name: 'head', seed: 4, activation: 'softmax' }),
      ],
    });
    const [kernelLoc] = model.getLayer('head').getWeights();
    const activations = activationsAt(model, 'conv', x);
    const expected = referenceCam(activations, kernelColumns(kernelLoc, classes));
    const maps = gradCam(model, 'conv', classes, x);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    const [a, b, c] = [7, 7, 8].map((seed) => gradCam(model, 'conv', classes, x, { sampling: 'sample', seed }));
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-4);
    tf.dispose([activations, expected, maps, a, b, c]);
  });

  afterAll(() => x.dispose());
});

describe('any model shape gives the map of the equivalent flat computation', () => {
  it.each(CAM_METHODS)('%s: a VGG-style base nested in a Sequential equals the flat model, by path or bare name', (method) => {
    const { nested, flat } = nestedAndFlat();
    const x = images(2);
    const expected = cam(flat, 'block2_conv1', [1, 2], x, { method });
    const byPath = cam(nested, 'base/block2_conv1', [1, 2], x, { method });
    const byName = cam(nested, 'block2_conv1', [1, 2], x, { method });
    expect(maxAbsDiff(byPath, expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(byName, expected)).toBeLessThan(1e-5);
    tf.dispose([x, expected, byPath, byName]);
  });

  it('a functional model with a residual add after the target layer equals the hand-chained gradient', () => {
    const input = tfl.input({ shape: [8, 8, 3] });
    const stem = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem', kernelInitializer: init(1) });
    const target = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'target', kernelInitializer: init(2), biasInitializer: 'ones' });
    const branch = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'branch', kernelInitializer: init(3) });
    const pool = tfl.layers.globalAveragePooling2d({});
    const head = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head', kernelInitializer: init(4) });
    const a = target.apply(stem.apply(input)) as tfl.SymbolicTensor;
    const residual = tfl.layers.add().apply([a, branch.apply(a) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: head.apply(pool.apply(residual)) as tfl.SymbolicTensor });
    const x = images(2);
    const classes = [2, 0];
    // Reference: the part of the model after the target, chained by hand on A, and its gradient by tf.grad.
    const activations = activationsAt(model, 'target', x);
    const expected = tf.tidy(() => {
      const [kernel, bias] = head.getWeights();
      const logits = (A: tf.Tensor) => tf.add(tf.matMul(pool.apply(tf.add(A, branch.apply(A) as tf.Tensor)) as tf.Tensor, kernel), bias);
      const gradients = tf.grad((A: tf.Tensor) => tf.sum(tf.mul(logits(A), tf.oneHot(classes, 3))))(activations);
      return referenceCam(activations, tf.mean(gradients, [1, 2]) as tf.Tensor2D);
    });
    const maps = gradCam(model, 'target', classes, x);
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-5);
    tf.dispose([x, activations, expected, maps]);
  });

  it('a fully convolutional model (no fixed input size) gives the map of its fixed-size twin', () => {
    const fixed = gapModel({ softmax: true });
    const free = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [null, null, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv' }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    free.setWeights(fixed.getWeights());
    const x = images(2);
    const [expected, maps] = [fixed, free].map((model) => cam(model, 'conv', [1, 0], x, { method: 'layercam' }));
    expect(maxAbsDiff(maps, expected)).toBeLessThan(1e-6);
    tf.dispose([x, expected, maps]);
  });

  it('a batch gives the maps of its images one by one (one pass, no mixing between images)', () => {
    const model = gapModel({ softmax: true });
    const x = images(3);
    const batched = cam(model, 'conv', 'predicted', x, { method: 'gradcam++' });
    const single = [0, 1, 2].map((i) =>
      tf.tidy(() => cam(model, 'conv', 'predicted', tf.slice(x, [i, 0, 0, 0], [1, 8, 8, 3]) as tf.Tensor4D, { method: 'gradcam++' })),
    );
    const stacked = tf.concat(single);
    expect(maxAbsDiff(batched, stacked)).toBeLessThan(1e-6);
    tf.dispose([x, batched, stacked, ...single]);
  });
});

describe('a known-quadrant model', () => {
  /** Class 0 fires on a bright 2×2 blob anywhere (max pooling), class 1 on its absence. */
  function blobModel(): tfl.LayersModel {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 1, kernelSize: 2, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: 'ones', biasInitializer: 'zeros' }),
        tfl.layers.globalMaxPooling2d({}),
        tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: 'zeros', name: 'head' }),
      ],
    });
    model.getLayer('head').setWeights([tf.tensor2d([[1, -1]]), tf.zeros([2])]);
    return model;
  }

  it.each(CAM_METHODS)('%s puts the peak in the quadrant that holds the evidence', (method) => {
    const model = blobModel();
    // One image per quadrant: a blob at rows/cols 1-2 (top/left) or 5-6 (bottom/right).
    const corners = [[1, 1], [1, 5], [5, 1], [5, 5]];
    const pixels = new Float32Array(4 * 64);
    corners.forEach(([row, col], image) => {
      for (const [dr, dc] of [[0, 0], [0, 1], [1, 0], [1, 1]]) pixels[image * 64 + (row + dr) * 8 + col + dc] = 1;
    });
    const x = tf.tensor4d(pixels, [4, 8, 8, 1]);
    const maps = cam(model, 'conv', 'predicted', x, { method });
    const peaks = tf.tidy(() => Array.from(tf.argMax(tf.reshape(maps, [4, 64]), 1).dataSync()));
    const quadrants = peaks.map((p) => [Math.floor(p / 8) < 4 ? 0 : 1, p % 8 < 4 ? 0 : 1]);
    expect(quadrants).toEqual([[0, 0], [0, 1], [1, 0], [1, 1]]);
    tf.dispose([x, maps]);
  });
});

describe('each method against a hand computation', () => {
  // The model: x [2, 2, 2] → A = x·a (1×1 conv, 2 → 2 channels, linear) → flatten → y = V·A (dense, 2 classes).
  // So A_ijk = Σ_m x_ijm a_mk and ∂y_c/∂A_ijk = V[(2i + j)·2 + k][c], all known in closed form.
  const x = [[[1, 0.2], [2, -1]], [[3, 0.5], [0.5, 2]]];
  const a = [[1, -0.5], [0.3, 0.8]];
  const V = [[0.5, -1], [1, 0.2], [-0.3, 0.4], [0.8, -0.6], [0.2, 1], [-1, 0.3], [0.6, 0.1], [0.1, -0.2]];
  const c = 0;
  const A = (i: number, j: number, k: number) => x[i][j][0] * a[0][k] + x[i][j][1] * a[1][k];
  const G = (i: number, j: number, k: number) => V[(2 * i + j) * 2 + k][c];
  const cells = [[0, 0], [0, 1], [1, 0], [1, 1]];
  const channels = [0, 1];
  const sumCells = (f: (i: number, j: number) => number) => cells.reduce((s, [i, j]) => s + f(i, j), 0);
  const fromWeights = (w: number[]) => cells.map(([i, j]) => channels.reduce((s, k) => s + w[k] * A(i, j, k), 0));
  const relu = (v: number) => Math.max(v, 0);
  const normalise = (m: number[]) => {
    const r = m.map(relu);
    const lo = Math.min(...r);
    const hi = Math.max(...r.map((v) => v - lo));
    return r.map((v) => (hi > 0 ? (v - lo) / hi : 0));
  };
  // The 1×1 convolution is linear per pixel, so masking x by H multiplies A by H: y(x ∘ H) = Σ V · H · A.
  const scoreOf = (mask: (i: number, j: number) => number) =>
    sumCells((i, j) => channels.reduce((s, k) => s + G(i, j, k) * mask(i, j) * A(i, j, k), 0));

  // First principal component of the 4 positions × 2 channels values f(i, j, k), by the closed form
  // of a 2×2 symmetric eigenproblem, turned so that its largest magnitude is positive.
  const firstComponent = (f: (i: number, j: number, k: number) => number) => {
    const means = channels.map((k) => sumCells((i, j) => f(i, j, k)) / 4);
    const X = cells.map(([i, j]) => channels.map((k) => f(i, j, k) - means[k]));
    const [p, q, r] = [[0, 0], [0, 1], [1, 1]].map(([u, v]) => X.reduce((s, row) => s + row[u] * row[v], 0));
    const lambda = (p + r) / 2 + Math.sqrt(((p - r) / 2) ** 2 + q ** 2);
    const projection = X.map((row) => row[0] * q + row[1] * (lambda - p));
    const flip = Math.abs(Math.min(...projection)) > Math.abs(Math.max(...projection));
    return projection.map((v) => (flip ? -v : v));
  };
  const score = sumCells((i, j) => channels.reduce((s, k) => s + G(i, j, k) * A(i, j, k), 0));

  const expected: Record<string, number[]> = {
    gradcam: fromWeights(channels.map((k) => sumCells((i, j) => G(i, j, k)) / 4)),
    'gradcam++': fromWeights(
      channels.map((k) => {
        const sumA = sumCells((i, j) => A(i, j, k));
        return sumCells((i, j) => {
          const g = G(i, j, k);
          const alpha = g === 0 ? 0 : (g * g) / (2 * g * g + sumA * g ** 3 + 1e-7);
          return alpha * relu(g);
        });
      }),
    ),
    xgradcam: fromWeights(channels.map((k) => sumCells((i, j) => A(i, j, k) * G(i, j, k)) / (sumCells((i, j) => A(i, j, k)) + 1e-7))),
    hirescam: cells.map(([i, j]) => channels.reduce((s, k) => s + G(i, j, k) * A(i, j, k), 0)),
    layercam: cells.map(([i, j]) => channels.reduce((s, k) => s + relu(G(i, j, k)) * A(i, j, k), 0)),
    scorecam: (() => {
      const scores = channels.map((k) => {
        const values = cells.map(([i, j]) => A(i, j, k));
        const [lo, hi] = [Math.min(...values), Math.max(...values)];
        return scoreOf((i, j) => (A(i, j, k) - lo) / (hi - lo));
      });
      const total = scores.reduce((s, v) => s + Math.exp(v), 0);
      return fromWeights(scores.map((s) => Math.exp(s) / total));
    })(),
    eigencam: firstComponent(A),
    eigengradcam: firstComponent((i, j, k) => G(i, j, k) * A(i, j, k)),
    // The model is linear in A: zeroing channel k removes exactly its term Σ_ij G_ijk A_ijk from y.
    ablationcam: fromWeights(channels.map((k) => sumCells((i, j) => G(i, j, k) * A(i, j, k)) / score)),
  };

  function tinyModel(): tfl.LayersModel {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [2, 2, 2], filters: 2, kernelSize: 1, useBias: false, name: 'conv' }),
        tfl.layers.flatten({}),
        tfl.layers.dense({ units: 2, useBias: false, name: 'head' }),
      ],
    });
    model.getLayer('conv').setWeights([tf.tensor4d(a.flat(), [1, 1, 2, 2])]);
    model.getLayer('head').setWeights([tf.tensor2d(V)]);
    return model;
  }

  it.each(CAM_METHODS)('%s', (method) => {
    const model = tinyModel();
    const input = tf.tensor4d(x.flat(2), [1, 2, 2, 2]);
    const map = cam(model, 'conv', c, input, { method, raw: true });
    expect(map.shape).toEqual([1, 2, 2]);
    expect(maxAbsDiff(map, normalise(expected[method]))).toBeLessThan(1e-5);
    tf.dispose([input, map]);
  });

  it('the hand computations differ between methods (each check tests its own formula)', () => {
    const maps = Object.values(expected).map((m) => normalise(m).map((v) => v.toFixed(4)).join());
    expect(new Set(maps).size).toBe(CAM_METHODS.length);
  });
});

describe('errors name the argument, what was expected, what was got, and the fix', () => {
  const { nested } = nestedAndFlat();
  const x = images(2);
  afterAll(() => x.dispose());

  it('an unknown layer name lists the convolutional layers it could have meant', () => {
    expect(() => cam(nested, 'block9_conv1', 0, x)).toThrow(
      "cam: layerName must name a layer of the model; got 'block9_conv1'. Layers it could mean: 'base/block1_conv1', 'base/block2_conv1' (the last one is the usual Grad-CAM choice).",
    );
    expect(() => findLayer(nested, 'base/nothing')).toThrow(/^findLayer: layerName must name a layer of the model; got 'base\/nothing'/);
  });

  it('a bare name shared by two nested layers asks for the path', () => {
    const base = tfl.sequential({ name: 'base', layers: [tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, padding: 'same', name: 'conv' })] });
    const model = tfl.sequential({ layers: [base, tfl.layers.conv2d({ filters: 2, kernelSize: 3, name: 'conv' }), tfl.layers.flatten({}), tfl.layers.dense({ units: 2 })] });
    expect(() => cam(model, 'conv', 0, x)).toThrow(
      "cam: layerName 'conv' names 2 layers; address the one you mean by its path: 'base/conv', 'conv'.",
    );
  });

  it('a layer whose output is not 4-D', () => {
    expect(() => cam(nested, 'fc', 0, x)).toThrow(
      /^cam: layer 'fc' \(Dense\) must output a 4-D tensor \[batch, height, width, channels\]; got shape \[null, 5\]\. Layers it could mean: 'base\/block1_conv1', 'base\/block2_conv1'/,
    );
  });

  it.each([
    [3, '3'],
    [-1, '-1'],
    [1.5, '1.5'],
    [[0], '[0]'],
    ['first', "'first'"],
  ])('a class index out of range: %p', (classIdx, shown) => {
    expect(() => cam(nested, 'block2_conv1', classIdx as number, x)).toThrow(
      `cam: classIdx must be an integer in [0, 2] (the model has 3 classes), an array of 2 such integers (one per image), 'predicted', or a target function (output) => scores; got ${shown}.`,
    );
  });

  it('images whose shape does not match the model', () => {
    const wrong = tf.zeros([2, 10, 10, 3]) as tf.Tensor4D;
    expect(() => cam(nested, 'block2_conv1', 0, wrong)).toThrow(
      "cam: images must have shape [batch, 8, 8, 3] (the model's input); got [2, 10, 10, 3]. Resize the images to the model input size and stack them into one 4-D batch.",
    );
    const single = tf.zeros([8, 8, 3]);
    expect(() => cam(nested, 'block2_conv1', 0, single as unknown as tf.Tensor4D)).toThrow(/got \[8, 8, 3\]\. Resize/);
    tf.dispose([wrong, single]);
  });

  it('options out of range', () => {
    expect(() => cam(nested, 'block2_conv1', 0, x, { method: 'gradcam+++' as 'gradcam' })).toThrow(
      "cam: options.method must be one of 'gradcam', 'gradcam++', 'hirescam', 'xgradcam', 'layercam', 'scorecam', 'eigencam', 'eigengradcam', 'ablationcam'; got 'gradcam+++'.",
    );
    expect(() => cam(nested, 'block2_conv1', 0, x, { scoreCamBatchSize: 0 })).toThrow('cam: options.scoreCamBatchSize must be an integer >= 1; got 0.');
    expect(() => cam(nested, 'block2_conv1', 0, x, { sampling: 'always' as 'mean' })).toThrow(/cam: options.sampling must be one of 'flipout', 'sample', 'local', 'mean'; got 'always'/);
  });
});

describe('the model is left as it was', () => {
  it('after a run, and after a run that fails inside the forward pass (a shared layer)', () => {
    const model = gapModel({ softmax: true });
    const x = images(2);
    tf.dispose(cam(model, 'conv', 1, x));
    expect(Object.prototype.hasOwnProperty.call(model.getLayer('conv'), 'call')).toBe(false);
    const sums = tf.tidy(() => Array.from(tf.sum(model.predict(x) as tf.Tensor, 1).dataSync()));
    sums.forEach((s) => expect(s).toBeCloseTo(1, 5));

    const input = tfl.input({ shape: [8, 8, 3] });
    const shared = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'shared' });
    const head = tfl.layers.dense({ units: 2, activation: 'softmax' });
    const pooled = tfl.layers.globalAveragePooling2d({}).apply(shared.apply(shared.apply(input))) as tfl.SymbolicTensor;
    const twice = tfl.model({ inputs: input, outputs: head.apply(pooled) as tfl.SymbolicTensor });
    const before = tf.memory().numTensors;
    expect(() => cam(twice, 'shared', 0, x)).toThrow(
      "cam: layer 'shared' must run exactly once in the model's forward pass; it ran 2 times. Explain a layer on the path from the input to the output that is not shared.",
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.prototype.hasOwnProperty.call(shared, 'call')).toBe(false);
    const twiceSums = tf.tidy(() => Array.from(tf.sum(twice.predict(x) as tf.Tensor, 1).dataSync()));
    twiceSums.forEach((s) => expect(s).toBeCloseTo(1, 5));
    x.dispose();
  });
});

describe('no leaks', () => {
  it.each(CAM_METHODS)('cam with %s, upsampled and raw', async (method) => {
    const { nested } = nestedAndFlat();
    const x = images(2);
    await expectNoLeaks(() => cam(nested, 'base/block2_conv1', 'predicted', x, { method }));
    await expectNoLeaks(() => cam(nested, 'base/block1_conv1', [0, 1], x, { method, raw: true }));
    x.dispose();
  });

  it('gradCam and findLayer, and failed calls', async () => {
    const model = gapModel();
    const x = images(1);
    await expectNoLeaks(() => gradCam(model, 'conv', 0, x));
    await expectNoLeaks(() => findLayer(model, 'conv'), () => undefined);
    await expectNoLeaks(() => expect(() => cam(model, 'conv', 7, x)).toThrow(), () => undefined);
    x.dispose();
  });
});
