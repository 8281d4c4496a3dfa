import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  ArgumentError,
  ConformalClassifier,
  DenseFlipout,
  McPredictor,
  bayesianCam,
  calibration,
  calibrationNoise,
  cam,
  comparePredictions,
  deletionCurve,
  ensemblePredict,
  gradCam,
  insertionCurve,
  kernelDensity,
  localization,
  mcPredict,
  mopedInitialize,
  overlay,
  toBayesian,
  withSampling,
} from '../../src';
import { gapModel, images } from '../explain/models';

/**
 * Every public function with an options object refuses a misspelt key, naming the nearest valid
 * one, before it computes anything (issue #18, item 2). One row per entry point.
 */
describe('strict options: a misspelt key is refused, naming the nearest valid one', () => {
  const model = gapModel({ softmax: true });
  const x = images(2);
  const maps = tf.ones([2, 8, 8]) as tf.Tensor3D;
  const rgb = tf.zeros([8, 8, 3]) as tf.Tensor3D;
  const heat = tf.zeros([8, 8]) as tf.Tensor2D;
  const probs = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]];
  const labels = [0, 1, 1];
  const flipout = new DenseFlipout({ units: 2, seed: 1 });
  flipout.apply(tfl.input({ shape: [3] }));
  afterAll(() => tf.dispose([x, maps, rgb, heat]));

  const rows: Array<[who: string, bad: string, nearest: string, call: () => unknown]> = [
    ['cam', 'methd', 'method', () => cam(model, 'conv', 0, x, { methd: 'gradcam' } as never)],
    ['gradCam', 'seeds', 'seed', () => gradCam(model, 'conv', 0, x, { seeds: 1 } as never)],
    ['gradCam', 'method', 'seed', () => gradCam(model, 'conv', 0, x, { method: 'gradcam++' } as never)],
    ['bayesianCam', 'sample', 'samples', () => bayesianCam(model, 'conv', 0, x, { sample: 4 } as never)],
    ['bayesianCam', 'sampling', 'samples', () => bayesianCam(model, 'conv', 0, x, { sampling: 'mean' } as never)],
    ['deletionCurve', 'step', 'steps', () => deletionCurve(model, 0, x, maps, { step: 3 } as never)],
    ['insertionCurve', 'baseLine', 'baseline', () => insertionCurve(model, 0, x, maps, { baseLine: 'zero' } as never)],
    ['localization', 'tolerence', 'tolerance', () => localization(maps, maps, { tolerence: 1 } as never)],
    ['overlay', 'colourmap', 'colormap', () => overlay(rgb, heat, { colourmap: 'jet' } as never)],
    ['mcPredict', 'sample', 'samples', () => mcPredict(model, x, { sample: 10 } as never)],
    ['ensemblePredict', 'sample', 'samples', () => ensemblePredict([model, model], x, { sample: 10 } as never)],
    ['mcPredict', 'seeed', 'seed', () => new McPredictor(model, { seeed: 1 } as never)],
    ['mcPredict', 'chunksize', 'chunkSize', () => new McPredictor(model).predict(x, { chunksize: 2 } as never)],
    ['kernelDensity', 'point', 'points', () => kernelDensity([0.1, 0.2], { point: 3 } as never)],
    ['calibration', 'bin', 'bins', () => calibration(probs, labels, { bin: 3 } as never)],
    ['calibrationNoise', 'resample', 'resamples', () => calibrationNoise(probs, { resample: 3 } as never)],
    ['comparePredictions', 'levels', 'level', () => comparePredictions(probs, probs, labels, { levels: 0.9 } as never)],
    ['ConformalClassifier.calibrate', 'kreg', 'kReg', () => ConformalClassifier.calibrate(probs, labels, { alpha: 0.1, kreg: 1 } as never)],
    ['withSampling', 'mod', 'mode', () => withSampling(model, { mod: 'mean' } as never, () => 0)],
    ['toBayesian', 'delt', 'delta', () => toBayesian(model, { delt: 0.1 } as never)],
    [`mopedInitialize(DenseFlipout '${flipout.name}')`, 'delt', 'delta', () => mopedInitialize(flipout, { kernel: tf.zeros([3, 2]) }, { delt: 0.1 } as never)],
  ];

  it.each(rows)('%s refuses %s (→ %s)', (who, bad, nearest, call) => {
    const before = tf.memory().numTensors;
    let error: unknown;
    try {
      call();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ArgumentError);
    const escaped = who.replace(/[().]/g, '\\$&');
    expect((error as Error).message).toMatch(new RegExp(`^${escaped}: options has unknown '${bad}'; did you mean '${bad}' → '${nearest}'\\? The known options are `));
    // mopedInitialize's kernel argument is the only tensor the row itself makes.
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(who.startsWith('moped') ? 1 : 0);
  });

  it('McPrediction.summary and summaryAsync too', async () => {
    const prediction = mcPredict(model, x, { samples: 2, seed: 1 });
    expect(() => prediction.summary({ classnames: ['a', 'b', 'c'] } as never)).toThrow(
      /^McPrediction\.summary: options has unknown 'classnames'; did you mean 'classnames' → 'classNames'\?/,
    );
    await expect(prediction.summaryAsync({ densty: false } as never)).rejects.toThrow(/did you mean 'densty' → 'density'\?/);
    prediction.dispose();
  });
});
