import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, DenseLocalReparameterization } from '../../src';
import { SeedStream } from '../../src/random';
import { calls, registerReferenceKernels } from '../backends/reference_kernels';
import { expectNoLeaks } from '../helpers';
import { expectSameStep, FUSED_CASES, trainingStep } from './fused_cases';

/**
 * The layers' fused path (VariationalLayer.drawFused, flipSigns): where a backend registers the
 * posterior-draw and sign-flip kernels, a training step draws ΔW and the KL in one kernel. Here on
 * cpu, with the kernels' contract in plain JavaScript (reference_kernels.ts); the compiled ones
 * are tested against the same in test/backends/compiled_kernels.test.ts.
 */

describe('the fused training draw (a backend kernel for ΔW and the KL)', () => {
  let unregister: (() => void) | null = null;
  afterEach(() => {
    unregister?.();
    unregister = null;
  });

  it.each(FUSED_CASES)('%s: the same loss and gradients as the unfused step, with one draw kernel and the signs flipped in place', (name, make, shape) => {
    const unfused = trainingStep(make, shape);
    unregister = registerReferenceKernels();
    const fused = trainingStep(make, shape);
    expect(calls.draw).toBe(1);
    expect(calls.flipSigns).toBe(name.startsWith('DenseReparameterization') ? 0 : 3); // two forward, one backward
    expectSameStep(fused, unfused);
  });

  it("the KL closure of the same step reads the draw's KL; after the step, or once the weights change, it computes its own", () => {
    unregister = registerReferenceKernels();
    const layer = new DenseFlipout({ units: 4, seed: 1, prior: { stddev: 0.3 } });
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 2);
    layer.build(x.shape);
    const divergence = jest.spyOn(layer.prior, 'divergence');
    let inStep = NaN;
    const step = tf.variableGrads(() => {
      const kl = layer.klDivergence.call((layer.apply(x), layer));
      inStep = kl.dataSync()[0];
      return kl;
    });
    expect(divergence).not.toHaveBeenCalled();
    const afterStep = layer.klDivergence();
    expect(divergence).toHaveBeenCalledTimes(1);
    expect(Math.abs(afterStep.dataSync()[0] - inStep)).toBeLessThan(1e-5 * Math.abs(inStep));
    layer.weights[1].write(tf.fill(layer.weights[1].read().shape, -2));
    const changed = tf.variableGrads(() => tf.add(tf.sum(layer.apply(x) as tf.Tensor), layer.klDivergence()) as tf.Scalar);
    expect(divergence).toHaveBeenCalledTimes(1); // a new step, a new draw
    const outside = layer.klDivergence();
    expect(outside.dataSync()[0]).not.toBeCloseTo(afterStep.dataSync()[0], 1);
    tf.dispose([x, step.value, ...Object.values(step.grads), afterStep, changed.value, ...Object.values(changed.grads), outside]);
    layer.weights.forEach((w) => w.dispose());
  });

  it('is not used without a tape (prediction), by the local estimator, or with replayed noise', () => {
    unregister = registerReferenceKernels();
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 2);
    const flipout = new DenseFlipout({ units: 4, seed: 1 });
    tf.dispose(flipout.apply(x) as tf.Tensor);
    expect(calls.draw).toBe(0);
    expect(calls.flipSigns).toBe(2); // prediction still flips its signs in place
    const local = new DenseLocalReparameterization({ units: 4, seed: 1 });
    local.build(x.shape);
    tf.dispose(tf.variableGrads(() => tf.sum(local.apply(x) as tf.Tensor) as tf.Scalar).grads);
    class Replayed extends SeedStream {
      override normal(shape: number[]): tf.Tensor {
        return tf.ones(shape);
      }
    }
    flipout.samplingOverride = { seeds: new Replayed(1, 'replayed') };
    const replayed = tf.variableGrads(() => tf.sum(flipout.apply(x) as tf.Tensor) as tf.Scalar);
    expect(calls.draw).toBe(0);
    expect(calls.flipSigns).toBe(2);
    tf.dispose([x, replayed.value, ...Object.values(replayed.grads)]);
    [flipout, local].forEach((layer) => layer.weights.forEach((w) => w.dispose()));
  });

  it('leaks nothing: a step whose loss ignores the KL, and model.fit', async () => {
    unregister = registerReferenceKernels();
    const layer = new DenseFlipout({ units: 4, seed: 1 });
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 2);
    layer.build(x.shape);
    await expectNoLeaks(() => tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor) as tf.Scalar), ({ value, grads }) => tf.dispose([value, ...Object.values(grads)]));
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 5, inputShape: [5] }), new DenseFlipout({ units: 2, seed: 2, klWeight: 0.1 })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const y = tf.randomNormal([3, 2], 0, 1, 'float32', 3);
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    const before = tf.memory().numTensors;
    const history = await model.fit(x, y, { epochs: 3, verbose: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect(calls.draw).toBeGreaterThanOrEqual(4);
    (history.history.loss as number[]).forEach((loss) => expect(Number.isFinite(loss)).toBe(true));
    model.dispose();
    tf.dispose([x, y]);
    layer.weights.forEach((w) => w.dispose());
  });
});
