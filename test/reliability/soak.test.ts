import * as tf from '@tensorflow/tfjs-core';
import { runSoak } from '../../scripts/soak';

/**
 * The short soak: the same loop as `npm run soak` (MC prediction + Grad-CAM), fewer rounds on a
 * smaller image. The tfjs tensor count and bytes must be identical at every checkpoint, and the
 * loop must leave nothing behind. Process memory is only checked by the full script (jest's own
 * allocations make it noisy here).
 */
describe('soak (short)', () => {
  it('keeps the tensor count and tfjs bytes flat over 40 rounds and leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    const report = runSoak({ rounds: 40, every: 10, size: 16, batch: 2, samples: 5 });
    expect(report.checkpoints.map((c) => c.round)).toEqual([10, 20, 30, 40]);
    expect(report.checkpoints.map((c) => c.tensors)).toEqual(new Array(4).fill(report.checkpoints[0].tensors));
    expect(report.tensorsFlat).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
