import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, McPredictor, bayesianCam, cam, deletionCurve, gradCam, insertionCurve, mcPredict } from '../../src';
import { explainImage } from '../../src/ham10000/predict';
import type { LoadedRun, RunConfig } from '../../src/ham10000/run';
import { images, init } from '../explain/models';

/**
 * Nothing leaks when a call fails midway (issue #18, item 3): the model's head throws at its n-th
 * call, for every n a full call reaches, and tf.memory() must be where it was before the call.
 */
function bayesianModel(size = 8): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [size, size, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: init(1) }),
      tfl.layers.globalAveragePooling2d({}),
      new DenseFlipout({ units: 3, activation: 'softmax', seed: 2, name: 'head', kernelRhoInitializer: tfl.initializers.constant({ value: -2 }) }),
    ],
  });
}

/** Makes `layer.call` count its calls and throw at the n-th one (never, for n = Infinity); returns the count read-out and the restore. */
function failAt(layer: tfl.layers.Layer, n: number): { calls: () => number; restore: () => void } {
  const original = layer.call;
  let calls = 0;
  (layer as unknown as { call: typeof original }).call = function (this: tfl.layers.Layer, ...args: Parameters<typeof original>) {
    calls += 1;
    if (calls === n) throw new Error('injected failure');
    return original.apply(this, args);
  };
  return { calls: () => calls, restore: () => delete (layer as unknown as { call?: unknown }).call };
}

/** Runs `run` (which frees what it returns) once to count the head's calls, then again failing at each of them in turn. */
async function expectCleanFailures(model: tfl.LayersModel, run: () => unknown): Promise<void> {
  const head = model.getLayer('head');
  const counting = failAt(head, Infinity);
  await run();
  counting.restore();
  const total = counting.calls();
  expect(total).toBeGreaterThan(0);
  for (let n = 1; n <= total; n++) {
    const before = tf.memory().numTensors;
    const injected = failAt(head, n);
    try {
      await expect(Promise.resolve().then(run)).rejects.toThrow('injected failure');
    } finally {
      injected.restore();
    }
    expect({ n, leaked: tf.memory().numTensors - before }).toEqual({ n, leaked: 0 });
  }
}

describe('a failure midway leaks nothing', () => {
  const model = bayesianModel();
  const x = images(2);
  const maps = tf.randomUniform([2, 8, 8], 0, 1, 'float32', 5) as tf.Tensor3D;
  afterAll(() => tf.dispose([x, maps]));
  const free = (result: unknown) => (result as { dispose(): void }).dispose();

  it('cam and gradCam, sampled and in mean mode', async () => {
    await expectCleanFailures(model, () => free(cam(model, 'conv', 'predicted', x, { method: 'gradcam++', sampling: 'sample', seed: 1 })));
    await expectCleanFailures(model, () => free(gradCam(model, 'conv', [0, 1], x)));
    await expectCleanFailures(model, () => free(cam(model, 'conv', 'predicted', x, { method: 'scorecam', scoreCamBatchSize: 3 })));
  });

  it('bayesianCam, at every draw', async () => {
    await expectCleanFailures(model, () => free(bayesianCam(model, 'conv', 'predicted', x, { samples: 4, seed: 3 })));
  });

  it('deletion and insertion curves, at every step', async () => {
    await expectCleanFailures(model, () => deletionCurve(model, 'predicted', x, maps, { steps: 3 }));
    await expectCleanFailures(model, () => insertionCurve(model, 1, x, maps, { steps: 3 }));
  });

  it('mcPredict and McPredictor.predict, fast and naive, with views', async () => {
    await expectCleanFailures(model, () => free(mcPredict(model, x, { samples: 4, strategy: 'naive', seed: 1 })));
    const views = [(t: tf.Tensor) => t, (t: tf.Tensor) => tf.reverse(t, 2)];
    await expectCleanFailures(model, () => free(new McPredictor(model, { samples: 4, chunkSize: 2, views }).predict(x, { seed: 2 })));
  });

  it('explainImage (prediction, summary, Bayesian Grad-CAM, overlays)', async () => {
    const config = { classes: ['a', 'b', 'c'], camLayer: 'conv' } as unknown as RunConfig;
    const run: LoadedRun = { model, config, dispose: () => undefined };
    const rgb = tf.randomUniform([8, 8, 3], 0, 255, 'float32', 9) as tf.Tensor3D;
    await expectCleanFailures(model, async () => free(await explainImage(run, rgb, { samples: 3, camSamples: 2, seed: 1 })));
    rgb.dispose();
  });
});
