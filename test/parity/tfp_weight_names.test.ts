import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, DenseReparameterization, TFP_WEIGHT_NAMES, fromTfpWeightNames, sigmaOf, toTfpWeightNames, withSampling } from '../../src';
import { expectClose, loadFixture, type Nested } from './golden';

interface NamesCase {
  name: string;
  weights: Record<string, Nested>;
  x: Nested;
  output: Nested;
  sigma: Record<string, Nested>;
}

/**
 * A TFP model's weights, saved under TFP's variable names, load by name into the same model built
 * with tfjs-trust layers (scripts/golden/tfp_weight_names.py): the posterior-mean output and every
 * kernel sigma then equal TFP's.
 */
describe("TFP weight names: a TFP model's weights load by name", () => {
  const [fixture] = loadFixture<NamesCase>('tfp_weight_names.json').cases;

  function ourModel(): tfl.LayersModel {
    return tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 5, activation: 'relu', name: 'dense', inputShape: [4] }),
        new DenseFlipout({ units: 3, activation: 'relu', name: 'dense_flipout' }),
        new DenseReparameterization({ units: 2, name: 'dense_reparameterization', biasPosterior: 'normal' }),
      ],
    });
  }

  it('fromTfpWeightNames maps every TFP variable onto a weight of the model, and model.loadWeights takes them', () => {
    const model = ourModel();
    const saved = Object.fromEntries(Object.entries(fixture.weights).map(([name, value]) => [name, tf.tensor(value as number[])]));
    const renamed = fromTfpWeightNames(saved);
    expect(Object.keys(renamed).sort()).toEqual(model.weights.map((weight) => weight.originalName).sort());
    model.loadWeights(renamed);
    const x = tf.tensor(fixture.x as number[]);
    const output = withSampling(model, { mode: 'mean' }, () => model.predict(x) as tf.Tensor);
    expectClose(output, fixture.output);
    for (const [layer, sigma] of Object.entries(fixture.sigma)) {
      const rho = model.getLayer(layer).weights.find((weight) => weight.originalName.endsWith('/kernel_rho'))!;
      const ours = sigmaOf(rho.read());
      expectClose(ours, sigma, { floor: 0 });
      ours.dispose();
    }
    tf.dispose([...Object.values(saved), x, output]);
    model.dispose();
  });

  it('toTfpWeightNames is its inverse (up to the :0 suffix); other names pass through', () => {
    const t = tf.scalar(1);
    const ours = { 'base/dense_flipout/kernel_loc': t, 'dense/kernel': t, 'x/bias_rho': t };
    expect(Object.keys(toTfpWeightNames(ours))).toEqual([
      `base/dense_flipout/${TFP_WEIGHT_NAMES.kernel_loc}`,
      'dense/kernel',
      `x/${TFP_WEIGHT_NAMES.bias_rho}`,
    ]);
    expect(Object.keys(fromTfpWeightNames(toTfpWeightNames(ours)))).toEqual(Object.keys(ours));
    expect(Object.keys(fromTfpWeightNames({ 'a/constructor:0': t }))).toEqual(['a/constructor']);
    t.dispose();
  });
});

describe("biasLocInitializer 'tfp'", () => {
  it('draws the bias from N(0, 0.1) as TFP does, seeded, and leaves the kernel as it was', () => {
    const build = (biasLocInitializer?: 'tfp') => {
      const layer = new DenseFlipout({ units: 4000, seed: 5, biasLocInitializer });
      layer.apply(tfl.input({ shape: [2] }));
      return layer;
    };
    const [plain, tfp, again] = [build(), build('tfp'), build('tfp')];
    const value = (layer: DenseFlipout, name: string) => layer.weights.find((w) => w.originalName.endsWith(name))!.read().dataSync();
    expect(Array.from(value(plain, '/bias_loc')).every((v) => v === 0)).toBe(true);
    const bias = Array.from(value(tfp, '/bias_loc'));
    const mean = bias.reduce((a, b) => a + b, 0) / bias.length;
    const std = Math.sqrt(bias.reduce((a, b) => a + (b - mean) ** 2, 0) / (bias.length - 1));
    // 4000 draws: the sample mean is within 4 standard errors (0.1 / √4000) of 0, the sample std within 5 %.
    expect(Math.abs(mean)).toBeLessThan((4 * 0.1) / Math.sqrt(bias.length));
    expect(Math.abs(std - 0.1)).toBeLessThan(0.005);
    expect(Array.from(value(again, '/bias_loc'))).toEqual(bias);
    expect(Array.from(value(tfp, '/kernel_loc'))).toEqual(Array.from(value(plain, '/kernel_loc')));
    expect(tfp.getConfig().biasLocInitializer).toMatchObject({ className: 'RandomNormal', config: { mean: 0, stddev: 0.1 } });
    [plain, tfp, again].forEach((layer) => layer.dispose());
  });
});
