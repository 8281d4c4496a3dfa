import * as tf from '@tensorflow/tfjs-core';
import type { GradientCamContext } from '../../src';
import { gradCamPlusPlusMethod } from '../../src/explain/methods/grad_cam_plus_plus';
import { expectClose, loadFixture, type Nested } from './golden';

interface WeightsCase {
  name: string;
  activations: Nested;
  gradients: Nested;
  weights: Nested;
}

/**
 * Grad-CAM++'s channel weights against pytorch-grad-cam's `get_cam_weights` on the same
 * activations and gradients (scripts/golden/grad_cam_plus_plus.py), including gradients small
 * enough (~1e-3) that the epsilon in α's denominator shows: 1e-7 instead of pytorch-grad-cam's
 * 1e-6 moves those weights by several per cent.
 */
describe('Grad-CAM++ channel weights: parity with pytorch-grad-cam', () => {
  const fixture = loadFixture<WeightsCase>('torch_grad_cam_plus_plus.json');

  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const [activations, gradients] = [tf.tensor(c.activations as number[]), tf.tensor(c.gradients as number[])] as tf.Tensor4D[];
    const context = { activations, gradients } as GradientCamContext;
    if (!gradCamPlusPlusMethod.usesGradients || !gradCamPlusPlusMethod.channelWeights) throw new Error('Grad-CAM++ supplies channel weights');
    const weights = gradCamPlusPlusMethod.channelWeights(context);
    expectClose(weights, c.weights, { floor: 0 });
    tf.dispose([activations, gradients, weights]);
  });
});
