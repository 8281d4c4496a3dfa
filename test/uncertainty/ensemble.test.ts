import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MCDropout, ensemblePredict, mcPredict } from '../../src';
import { expectNoLeaks } from '../helpers';

/** A deterministic 4 → 3 softmax classifier, seeded. */
function member(seed: number, layers: tfl.layers.Layer[] = []): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, activation: 'relu', inputShape: [4], kernelInitializer: tfl.initializers.glorotNormal({ seed }) }),
      ...layers,
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 100 }) }),
    ],
  });
}

const entropy = (p: number[]): number => -p.reduce((sum, q) => sum + (q > 0 ? q * Math.log(q) : 0), 0);

describe('ensemblePredict', () => {
  const x = tf.randomNormal([5, 4], 0, 1, 'float32', 1);

  it('deterministic members: the mean is their average and the mutual information their disagreement (by hand)', () => {
    const models = [member(1), member(2), member(3)];
    const outputs = models.map((model) => (model.predict(x) as tf.Tensor2D).arraySync());
    const prediction = ensemblePredict(models, x, { samples: 9 });
    const mean = prediction.mean.arraySync();
    const mutual = prediction.mutualInformation.arraySync();
    const expected = prediction.expectedEntropy.arraySync();
    for (let image = 0; image < 5; image++) {
      const average = [0, 1, 2].map((k) => outputs.reduce((sum, out) => sum + out[image][k], 0) / 3);
      average.forEach((value, k) => expect(mean[image][k]).toBeCloseTo(value, 6));
      // BALD: H[mean of the members] − mean of the members' entropies.
      const memberEntropy = outputs.reduce((sum, out) => sum + entropy(out[image]), 0) / 3;
      expect(expected[image]).toBeCloseTo(memberEntropy, 5);
      expect(mutual[image]).toBeCloseTo(entropy(average) - memberEntropy, 5);
      expect(mutual[image]).toBeGreaterThan(1e-4);
    }
    expect([prediction.sampleCount, prediction.strategy]).toEqual([9, 'fast']);
    prediction.dispose();
  });

  it('identical members have no mutual information; one member is that model', () => {
    const model = member(4);
    const prediction = ensemblePredict([model, model], x, { samples: 4 });
    expect(Math.max(...prediction.mutualInformation.arraySync())).toBeLessThan(1e-6);
    const alone = ensemblePredict([model], x, { samples: 3 });
    const direct = mcPredict(model, x, { samples: 3 });
    expect(alone.mean.arraySync()).toEqual(direct.mean.arraySync());
    [prediction, alone, direct].forEach((p) => p.dispose());
  });

  it('Bayesian members are each sampled: the samples spread over members and weight noise, reproducibly with a seed', () => {
    const models = [member(5, [new MCDropout({ rate: 0.3 })]), member(6)];
    const a = ensemblePredict(models, x, { samples: 40, seed: 7, keepSamples: true });
    const b = ensemblePredict(models, x, { samples: 40, seed: 7 });
    expect(a.mean.arraySync()).toEqual(b.mean.arraySync());
    const samples = a.samples!.arraySync();
    // Samples 0..19 are the dropout member's (they vary), 20..39 the deterministic one's (all equal).
    const distinct = (rows: number[][][]) => new Set(rows.map((s) => s[0][0].toFixed(6))).size;
    expect(distinct(samples.slice(0, 20))).toBeGreaterThan(1);
    expect(distinct(samples.slice(20))).toBe(1);
    a.dispose();
    b.dispose();
  });

  it('leaks no tensor, also when a member fails', async () => {
    const models = [member(8), member(9)];
    await expectNoLeaks(() => ensemblePredict(models, x, { samples: 4 }));
    const wrongInput = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [5], activation: 'softmax' })] });
    await expectNoLeaks(() => expect(() => ensemblePredict([models[0], wrongInput], x, { samples: 4 })).toThrow(/^mcPredict: images must have shape \['batch', 5\]; got \[5, 4\]/));
  });

  it('refuses an empty list, fewer samples than members, and unknown options', () => {
    expect(() => ensemblePredict([member(1)], x, { sample: 3 } as never)).toThrow(/^ensemblePredict: options has unknown 'sample'; did you mean 'sample' → 'samples'\?/);
    expect(() => ensemblePredict([], x)).toThrow(/^ensemblePredict: models must be a non-empty array of tfjs-layers models; got \[\]\. Pass the ensemble members/);
    expect(() => ensemblePredict([member(1), member(2), member(3)], x, { samples: 2 })).toThrow(/^ensemblePredict: options.samples must be an integer >= 3; got 2\.$/);
  });
});
