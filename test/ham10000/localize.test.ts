import * as tf from '@tensorflow/tfjs-core';
import { bayesianCam } from '../../src/explain';
import { buildClassifier } from '../../src/ham10000/model';
import { dihedralCam } from '../../src/ham10000/localize';
import { dihedralTransform } from '../../src/uncertainty/views';
import { maxAbsDiff } from '../helpers';

describe('dihedralCam (aug-smooth over the 8 flips and quarter turns)', () => {
  it('is equivariant: the map of a turned image is the turned map, where one view alone is not; leaks nothing', async () => {
    const { model, camLayer } = await buildClassifier({ arch: 'compact', imageSize: 16, numClasses: 7, trainingExamples: 10, seed: 5 });
    const images = tf.randomNormal([2, 16, 16, 3], 0, 60, 'float32', 7) as tf.Tensor4D;
    const turned = dihedralTransform(images, true, 1);
    const turnMaps = (maps: tf.Tensor3D) => tf.tidy(() => tf.squeeze(dihedralTransform(tf.expandDims(maps, -1) as tf.Tensor4D, true, 1), [-1]));
    const options = { samples: 2, seed: 3 };
    const before = tf.memory().numTensors;
    const smooth = dihedralCam(model, camLayer, [1, 4], images, options);
    const smoothTurned = dihedralCam(model, camLayer, [1, 4], turned, options);
    const single = bayesianCam(model, camLayer, [1, 4], images, options);
    const singleTurned = bayesianCam(model, camLayer, [1, 4], turned, options);
    const expected = [turnMaps(smooth.mean), turnMaps(smooth.std), turnMaps(single.mean)];
    expect(maxAbsDiff(smoothTurned.mean, expected[0])).toBeLessThan(1e-5);
    expect(maxAbsDiff(smoothTurned.std, expected[1])).toBeLessThan(1e-5);
    expect(maxAbsDiff(singleTurned.mean, expected[2])).toBeGreaterThan(1e-2);
    expect(smooth.mean.shape).toEqual([2, 16, 16]);
    [smooth, smoothTurned, single, singleTurned].forEach((cam) => cam.dispose());
    tf.dispose(expected);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([images, turned]);
    model.dispose();
  });
});
