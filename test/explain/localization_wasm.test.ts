import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { localization } from '../../src';

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('localization on the WASM backend', () => {
  it('gives the answer of the cpu backend (the batched gather it used read out of bounds on WASM)', async () => {
    const run = () => {
      const maps = tf.randomUniform([3, 12, 12], 0, 1, 'float32', 7) as tf.Tensor3D;
      // Images 0-1: masks around each map's peak (hits); image 2: a random mask.
      const masks = tf.tidy(() =>
        tf.cast(tf.concat([tf.greater(tf.slice(maps, [0, 0, 0], [2, 12, 12]), 0.6), tf.greater(tf.randomUniform([1, 12, 12], 0, 1, 'float32', 8), 0.6)]), 'float32'),
      ) as tf.Tensor3D;
      const result = [localization(maps, masks), localization(maps, masks, { tolerance: 1 })];
      tf.dispose([maps, masks]);
      return result;
    };
    await tf.setBackend('cpu');
    const onCpu = run();
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const onWasm = run();
    expect(tf.memory().numTensors).toBe(before);
    expect(onWasm.map((r) => r.pointingHit)).toEqual(onCpu.map((r) => r.pointingHit));
    expect(onCpu[0].pointingHit.slice(0, 2)).toEqual([true, true]);
    onWasm.forEach((r, i) => r.energyInside.forEach((v, j) => expect(v).toBeCloseTo(onCpu[i].energyInside[j], 5)));
  });
});
