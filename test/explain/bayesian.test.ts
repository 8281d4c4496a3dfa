import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, bayesianCam, cam, withSampling } from '../../src';
import { expectNoLeaks, maxAbsDiff } from '../helpers';
import { gapModel, images, init } from './models';

/** conv → global average pooling → a DenseFlipout head: the usual Bayesian last layer. */
function flipoutModel(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: init(1), biasInitializer: 'ones' }),
      tfl.layers.globalAveragePooling2d({}),
      new DenseFlipout({ units: 3, name: 'head', activation: 'softmax', seed: 2, kernelRhoInitializer: tfl.initializers.constant({ value: -1 }) }),
    ],
  });
}

describe("'predicted' means the posterior-mean network's class everywhere", () => {
  const x = images(4);
  afterAll(() => x.dispose());

  it('cam with sampled weights explains the mean network\'s class, not the sampled one\'s', () => {
    const model = flipoutModel();
    const classes = withSampling(model, { mode: 'mean' }, () =>
      tf.tidy(() => Array.from(tf.argMax(model.predict(x) as tf.Tensor, 1).dataSync())),
    );
    for (const seed of [1, 2, 3]) {
      const predicted = cam(model, 'conv', 'predicted', x, { sampling: 'sample', seed });
      const explicit = cam(model, 'conv', classes, x, { sampling: 'sample', seed });
      expect(maxAbsDiff(predicted, explicit)).toBe(0);
      tf.dispose([predicted, explicit]);
    }
  });
});

describe('bayesianCam', () => {
  const x = images(2);
  afterAll(() => x.dispose());

  it('a deterministic model: the mean is the map and the standard deviation is exactly 0', () => {
    const model = gapModel({ softmax: true });
    const result = bayesianCam(model, 'conv', [0, 2], x, { samples: 5, seed: 1 });
    const single = cam(model, 'conv', [0, 2], x);
    expect(maxAbsDiff(result.mean, single)).toBe(0);
    expect(tf.max(result.std).dataSync()[0]).toBe(0);
    expect(result.sampleSeeds).toBeNull();
    result.dispose();
    single.dispose();
  });

  it('a DenseFlipout head: mean and std are those of the individual sampled maps with the same seeds', () => {
    const model = flipoutModel();
    const samples = 6;
    const result = bayesianCam(model, 'conv', 'predicted', x, { samples, seed: 42 });
    expect(result.sampleSeeds).toHaveLength(samples);
    // 'predicted' is the posterior-mean network's class, the same for every draw.
    const classes = withSampling(model, { mode: 'mean' }, () =>
      tf.tidy(() => Array.from(tf.argMax(model.predict(x) as tf.Tensor, 1).dataSync())),
    );
    const maps = result.sampleSeeds!.map((seed) => cam(model, 'conv', classes, x, { sampling: 'sample', seed }));
    const stacked = tf.stack(maps);
    const [mean, std] = tf.tidy(() => {
      const average = tf.mean(stacked, 0);
      const variance = tf.div(tf.sum(tf.square(tf.sub(stacked, average)), 0), samples - 1);
      return [average, tf.sqrt(variance)];
    });
    expect(maxAbsDiff(result.mean, mean)).toBeLessThan(1e-5);
    expect(maxAbsDiff(result.std, std)).toBeLessThan(1e-5);
    expect(tf.max(result.std).dataSync()[0]).toBeGreaterThan(1e-3);
    // The draws really differ: a map that ignored the seed would make std 0 and this distance 0.
    expect(maxAbsDiff(maps[0], maps[1])).toBeGreaterThan(1e-3);
    tf.dispose([...maps, stacked, mean, std]);
    result.dispose();
  });

  it('the same seed reproduces the result; another seed does not', () => {
    const model = flipoutModel();
    const [a, b, c] = [3, 3, 4].map((seed) => bayesianCam(model, 'conv', 1, x, { samples: 3, seed }));
    expect(maxAbsDiff(a.std, b.std)).toBe(0);
    expect(maxAbsDiff(a.mean, c.mean)).toBeGreaterThan(0);
    [a, b, c].forEach((r) => r.dispose());
  });

  it('leaves no tensors behind, and leaves the layers in their own mode', async () => {
    const [model, deterministic] = [flipoutModel(), gapModel()];
    await expectNoLeaks(() => bayesianCam(model, 'conv', 'predicted', x, { samples: 3, seed: 1, method: 'gradcam++' }));
    await expectNoLeaks(() => bayesianCam(deterministic, 'conv', 0, x, { samples: 2 }));
    expect((model.getLayer('head') as DenseFlipout).samplingOverride).toBeNull();
  });

  it('refuses fewer than 2 samples (a standard deviation needs two)', () => {
    expect(() => bayesianCam(flipoutModel(), 'conv', 0, x, { samples: 1 })).toThrow('bayesianCam: options.samples must be an integer >= 2; got 1.');
  });
});
