import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, klLoss, negativeElbo } from '../../src';
import { expectNoLeaks } from '../helpers';

/**
 * tfjs-layers' evaluate() reports the data term only (Keras adds the layer losses); negativeElbo
 * reports both, so it compares with the training loss (issue #18, item 7).
 */
describe('negativeElbo', () => {
  // rho = -30: sigma is at its float32 floor, so the sampled network is the mean network to 1e-6.
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, activation: 'relu', inputShape: [4], kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) }),
      new DenseFlipout({ units: 3, activation: 'softmax', klWeight: 0.01, seed: 2, kernelRhoInitializer: tfl.initializers.constant({ value: -30 }) }),
    ],
  });
  model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  const x = tf.randomNormal([10, 4], 0, 1, 'float32', 3);
  const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
  const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
  afterAll(() => tf.dispose([x, oneHot]));

  it("is evaluate()'s cross-entropy plus the KL evaluate() leaves out", async () => {
    const evaluated = model.evaluate(x, oneHot, { batchSize: 4 }) as tf.Scalar;
    const crossEntropy = evaluated.dataSync()[0];
    evaluated.dispose();
    const kl = klLoss(model);
    const elbo = await expectNoLeaks(() => negativeElbo(model, x, labels, { seed: 4, batchSize: 4 }), () => undefined);
    expect(elbo.nll).toBeCloseTo(crossEntropy, 5);
    expect(elbo.kl).toBeCloseTo(kl.dataSync()[0], 6);
    expect(elbo.kl).toBeGreaterThan(0);
    expect(elbo.loss).toBeCloseTo(crossEntropy + elbo.kl, 5);
    kl.dispose();
  });

  it('does not depend on the batch size, and refuses what it cannot use', async () => {
    const [whole, batched] = [await negativeElbo(model, x, labels, { batchSize: 10 }), await negativeElbo(model, x, labels, { batchSize: 3 })];
    expect(batched.nll).toBeCloseTo(whole.nll, 5);
    await expect(negativeElbo(model, x, labels.slice(1))).rejects.toThrow(
      /^negativeElbo: labels must have one class index per image \(10\); got 9\. Pass the labels of the same images, in the same order\.$/,
    );
    await expect(negativeElbo(model, x, labels, { batchsize: 2 } as never)).rejects.toThrow(/did you mean 'batchsize' → 'batchSize'\?/);
  });
});
