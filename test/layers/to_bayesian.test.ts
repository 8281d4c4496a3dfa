import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  allLayers,
  Conv1DFlipout,
  Conv1DReparameterization,
  Conv2DFlipout,
  Conv2DReparameterization,
  Conv3DFlipout,
  Conv3DReparameterization,
  DenseFlipout,
  DenseLocalReparameterization,
  isStochastic,
  MCDropout,
  layerWeight,
  sigmaOf,
  toBayesian,
  VariationalLayer,
  withSampling,
} from '../../src';
import { maxAbsDiff, saveAndLoad } from '../helpers';

/** A dense classifier with a dropout between its layers. */
function mlp(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, activation: 'relu', inputShape: [5], name: 'hidden' }),
      tfl.layers.dropout({ rate: 0.3 }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ],
  });
}

/** VGG in miniature: a frozen convolutional base (a nested model), then a dense head. */
function vggStyle(base: 'sequential' | 'functional'): tfl.Sequential {
  const blocks = [
    tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'block1_conv1' }),
    tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'block1_conv2' }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    // Without a bias, to check the converter handles one.
    tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false, name: 'block2_conv1' }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
  ];
  const features =
    base === 'sequential'
      ? tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [8, 8, 3] }), ...blocks], name: 'vgg_base' })
      : functionalBase(blocks);
  features.trainable = false;
  return tfl.sequential({
    layers: [
      features,
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 8, activation: 'relu', name: 'fc1' }),
      tfl.layers.dense({ units: 2, activation: 'softmax', name: 'predictions' }),
    ],
  });
}

function functionalBase(blocks: tfl.layers.Layer[]): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3] });
  const output = blocks.reduce((x, layer) => layer.apply(x) as tfl.SymbolicTensor, input);
  return tfl.model({ inputs: input, outputs: output, name: 'vgg_base' });
}

/** A functional model with two branches, merged. */
function twoBranches(): tfl.LayersModel {
  const input = tfl.input({ shape: [4] });
  const left = tfl.layers.dense({ units: 3, activation: 'tanh', name: 'left' }).apply(input) as tfl.SymbolicTensor;
  const right = tfl.layers.dense({ units: 2, name: 'right' }).apply(input) as tfl.SymbolicTensor;
  const merged = tfl.layers.concatenate().apply([left, right]) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 2, name: 'head' }).apply(merged) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output });
}

const meanPrediction = (model: tfl.LayersModel, x: tf.Tensor) =>
  withSampling(model, { mode: 'mean' }, () => model.predict(x) as tf.Tensor);
const classNames = (model: tfl.LayersModel) => allLayers(model).map((layer) => layer.getClassName());
const snapshot = (model: tfl.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

describe('toBayesian', () => {
  const cases: Array<[string, () => tfl.LayersModel, number[]]> = [
    ['a Sequential MLP', mlp, [4, 5]],
    ['a functional model with branches', twoBranches, [4, 4]],
    ['a VGG-style model with a nested Sequential base', () => vggStyle('sequential'), [2, 8, 8, 3]],
    ['a VGG-style model with a nested functional base', () => vggStyle('functional'), [2, 8, 8, 3]],
  ];

  it.each(cases)("converts %s: in 'mean' mode it reproduces the original's predictions to 1e-5", (_, build, shape) => {
    const original = build();
    const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
    const expected = original.predict(x) as tf.Tensor;
    const converted = toBayesian(original, { seed: 1 });
    expect(classNames(converted).filter((name) => name === 'Dense' || name === 'Conv2D')).toEqual([]);
    const converts = classNames(original).filter((name) => name === 'Dense' || name === 'Conv2D').length;
    expect(allLayers(converted).filter(isStochastic)).toHaveLength(converts);
    const y = meanPrediction(converted, x);
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    // Sampling mode is on by default and gives other outputs.
    const sample = converted.predict(x) as tf.Tensor;
    expect(maxAbsDiff(sample, expected)).toBeGreaterThan(1e-5);
    tf.dispose([x, expected, y, sample]);
  });

  it.each(cases)('converts %s with δ → 0: its samples collapse onto the original predictions', (_, build, shape) => {
    const original = build();
    const x = tf.randomNormal(shape, 0, 1, 'float32', 2);
    const expected = original.predict(x) as tf.Tensor;
    const converted = toBayesian(original, { delta: 1e-7, seed: 2 });
    for (let i = 0; i < 3; i++) {
      const sample = converted.predict(x) as tf.Tensor;
      expect(maxAbsDiff(sample, expected)).toBeLessThan(1e-5);
      sample.dispose();
    }
    tf.dispose([x, expected]);
  });

  it('MOPED-initialises each converted layer: loc = w, sigma = δ·|w|', () => {
    const original = mlp();
    const converted = toBayesian(original, { delta: 0.2 });
    const [kernel, bias] = original.layers[0].getWeights();
    const layer = converted.layers[0] as DenseFlipout;
    const sigma = sigmaOf(layerWeight(layer, 'kernel_rho')!.read());
    expect(maxAbsDiff(layerWeight(layer, 'kernel_loc')!.read(), kernel)).toBe(0);
    expect(maxAbsDiff(layerWeight(layer, 'bias_loc')!.read(), bias)).toBe(0);
    const expected = tf.mul(tf.abs(kernel), 0.2);
    expect(maxAbsDiff(sigma, expected)).toBeLessThan(1e-6);
    tf.dispose([sigma, expected]);
  });

  it('leaves the original model untouched: same classes, same weights, still deterministic', () => {
    const original = vggStyle('sequential');
    const classes = classNames(original);
    const before = snapshot(original);
    const converted = toBayesian(original, { delta: 0.5 });
    converted.weights.forEach((w) => tf.tidy(() => void w.write(tf.zerosLike(w.read()))));
    expect(classNames(original)).toEqual(classes);
    expect(snapshot(original)).toEqual(before);
    expect(allLayers(original).some(isStochastic)).toBe(false);
  });

  it('keeps frozen layers frozen, nested base included, and trainable ones trainable', () => {
    const original = vggStyle('functional');
    const converted = toBayesian(original);
    const base = converted.layers[0] as tfl.LayersModel;
    expect(base.trainable).toBe(false);
    const trainable = converted.trainableWeights.map((w) => w.originalName.split('/').slice(-2).join('/'));
    expect(trainable).toEqual([
      'fc1/kernel_loc',
      'fc1/kernel_rho',
      'fc1/bias_loc',
      'predictions/kernel_loc',
      'predictions/kernel_rho',
      'predictions/bias_loc',
    ]);
    const frozenDense = mlp();
    frozenDense.layers[0].trainable = false;
    const head = toBayesian(frozenDense);
    expect(head.layers[0].trainable).toBe(false);
    expect(head.trainableWeights).toHaveLength(3);
  });

  it.each(['sequential', 'functional'] as const)(
    'carries the KL of a nested %s base into the loss of a model that wraps the converted one',
    (kind) => {
      const converted = toBayesian(vggStyle(kind), { klWeight: 0.5 });
      const input = tfl.input({ shape: [8, 8, 3] });
      const wrapper = tfl.model({ inputs: input, outputs: converted.apply(input) as tfl.SymbolicTensor });
      const losses = wrapper.calculateLosses();
      const kls = allLayers(converted)
        .filter(isStochastic)
        .map((layer) => (layer as VariationalLayer).klDivergence());
      expect(losses).toHaveLength(5);
      const total = (ts: tf.Tensor[]) => ts.reduce((sum, t) => sum + t.dataSync()[0], 0);
      expect(total(losses)).toBeCloseTo(0.5 * total(kls), 2);
      tf.dispose([...losses, ...kls]);
    },
  );

  it('returns a Sequential whose first layer is a converted nested model as the equivalent functional model', () => {
    const original = vggStyle('sequential');
    const converted = toBayesian(original);
    expect(converted.getClassName()).toBe('Model');
    expect(converted.layers.map((layer) => layer.name)).toEqual([`${original.name}_input`, 'vgg_base', ...original.layers.slice(1).map((l) => l.name)]);
    // A Sequential built that way by hand reports no losses to an enclosing model: the tfjs-layers limitation.
    const byHand = tfl.sequential({ layers: [converted.layers[1], tfl.layers.flatten()] });
    byHand.predict(tf.zeros([1, 8, 8, 3]));
    expect(byHand.calculateLosses()).toHaveLength(0);
    // A plain MLP keeps its class.
    expect(toBayesian(mlp()).getClassName()).toBe('Sequential');
  });

  it('fixes the limitation at any depth: a functional model around such a Sequential keeps its KL', () => {
    const innermost = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4], name: 'inner_dense' })] });
    const middle = tfl.sequential({ layers: [innermost, tfl.layers.dense({ units: 2, name: 'middle_dense' })] });
    const input = tfl.input({ shape: [4] });
    const original = tfl.model({ inputs: input, outputs: middle.apply(input) as tfl.SymbolicTensor });
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 9);
    const expected = original.predict(x) as tf.Tensor;
    const converted = toBayesian(original);
    expect(converted.calculateLosses()).toHaveLength(2);
    // The same structure built by hand loses the innermost KL.
    const byHand = tfl.sequential({ layers: [tfl.sequential({ layers: [new DenseFlipout({ units: 3, inputShape: [4] })] })] });
    const wrapper = tfl.model({ inputs: input, outputs: byHand.apply(input) as tfl.SymbolicTensor });
    expect(wrapper.calculateLosses()).toHaveLength(0);
    const y = meanPrediction(converted, x);
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    tf.dispose([x, expected, y]);
  });

  it('selects layers by name or as the last n, in topological order (nested models included)', () => {
    const original = vggStyle('sequential');
    const byName = toBayesian(original, { layers: ['block2_conv1', 'predictions'] });
    expect(allLayers(byName).filter(isStochastic).map((layer) => layer.name)).toEqual(['block2_conv1', 'predictions']);
    const lastTwo = toBayesian(original, { layers: { last: 2 } });
    expect(allLayers(lastTwo).filter(isStochastic).map((layer) => layer.name)).toEqual(['fc1', 'predictions']);
    // The base holds no variational layer now: the Sequential keeps its original layer list.
    expect(lastTwo.layers.map((layer) => layer.getClassName())).toEqual(['Sequential', 'Flatten', 'DenseFlipout', 'DenseFlipout']);
  });

  it('picks the estimator: sample → *Reparameterization, local → DenseLocalReparameterization', () => {
    const sampled = toBayesian(vggStyle('sequential'), { estimator: 'sample' });
    const stochastic = allLayers(sampled).filter(isStochastic);
    expect(stochastic.filter((layer) => layer instanceof Conv2DReparameterization)).toHaveLength(3);
    expect(stochastic.filter((layer) => layer instanceof Conv2DFlipout)).toHaveLength(0);
    const local = toBayesian(mlp(), { estimator: 'local' });
    expect(local.layers[2]).toBeInstanceOf(DenseLocalReparameterization);
  });

  it.each([
    ['Conv1D', () => tfl.layers.conv1d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 2], name: 'conv' }), [9, 2], Conv1DFlipout, Conv1DReparameterization],
    ['Conv3D', () => tfl.layers.conv3d({ filters: 2, kernelSize: 2, dilationRate: [1, 2, 1], useBias: false, inputShape: [3, 4, 3, 2], name: 'conv' }), [3, 4, 3, 2], Conv3DFlipout, Conv3DReparameterization],
  ] as const)('converts a %s to its variational counterpart, whose posterior mean predicts as the original', (_kind, make, inputShape, Flipout, Reparameterization) => {
    const original = tfl.sequential({ layers: [make(), tfl.layers.flatten(), tfl.layers.dense({ units: 2, name: 'out' })] });
    const x = tf.randomNormal([2, ...inputShape], 0, 1, 'float32', 6);
    const expected = original.predict(x) as tf.Tensor;
    const flipout = toBayesian(original, { layers: ['conv'], seed: 1 });
    expect(flipout.layers[0]).toBeInstanceOf(Flipout);
    const mean = withSampling(flipout, { mode: 'mean' }, () => flipout.predict(x) as tf.Tensor);
    expect(maxAbsDiff(mean, expected)).toBeLessThan(1e-5);
    expect(toBayesian(original, { layers: ['conv'], estimator: 'sample' }).layers[0]).toBeInstanceOf(Reparameterization);
    tf.dispose([x, expected, mean]);
  });

  it("with dropout: 'mc', turns every Dropout into an MCDropout of the same rate, on at prediction time", () => {
    const original = mlp();
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 8);
    const expected = original.predict(x) as tf.Tensor;
    const converted = toBayesian(original, { dropout: 'mc', layers: ['out'], seed: 8 });
    const dropout = converted.layers[1] as MCDropout;
    expect(dropout).toBeInstanceOf(MCDropout);
    expect(dropout.rate).toBe(0.3);
    expect(converted.layers[0].getClassName()).toBe('Dense');
    const y = meanPrediction(converted, x);
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    const [a, b] = [converted.predict(x), converted.predict(x)] as tf.Tensor[];
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0);
    expect(toBayesian(original).layers[1].getClassName()).toBe('Dropout');
    const shaped = tfl.sequential({
      layers: [tfl.layers.dense({ units: 2, inputShape: [3] }), tfl.layers.dropout({ rate: 0.5, noiseShape: [1, 2], name: 'drop' })],
    });
    expect(() => toBayesian(shaped, { dropout: 'mc' })).toThrow(
      /^toBayesian: layer 'drop' noiseShape must be null \(MCDropout drops each element on its own\); got \[1, 2\]\. Use dropout: 'keep'\.$/,
    );
    tf.dispose([x, expected, y, a, b]);
  });

  it('passes klWeight, prior and derived seeds to every converted layer; priorFromWeights centres the prior on w', () => {
    const original = mlp();
    const converted = toBayesian(original, { klWeight: 0.01, prior: { stddev: 0.5 }, priorFromWeights: true, seed: 3 });
    const [first, , second] = converted.layers as VariationalLayer[];
    expect(first.klWeight).toBe(0.01);
    expect(first.prior.toSpec()).toEqual({ kind: 'normal', mean: 0, stddev: 0.5, meanFromWeights: true });
    expect(first.seed).toEqual(expect.any(Number));
    expect(second.seed).not.toBe(first.seed);
    expect(toBayesian(original, { seed: 3 }).layers.map((layer) => (layer as VariationalLayer).seed)).toEqual(
      converted.layers.map((layer) => (layer as VariationalLayer).seed),
    );
    // Centred on w, the KL is Σ log(σp/σq) + σq²/(2σp²) − ½: no (μq − μp)² term.
    const { sigma } = first.kernelPosterior();
    const expected = tf.sum(tf.sub(tf.add(tf.log(tf.div(0.5, sigma)), tf.div(tf.square(sigma), 2 * 0.25)), 0.5));
    const kl = first.klDivergence();
    expect(Math.abs(kl.dataSync()[0] - expected.dataSync()[0]) / expected.dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([sigma, expected, kl]);
  });

  it('the converted model survives save/load: classes, prior means and mean predictions bit-identical', async () => {
    const converted = toBayesian(vggStyle('sequential'), { priorFromWeights: true, seed: 4 });
    const loaded = await saveAndLoad(converted);
    expect(classNames(loaded)).toEqual(classNames(converted));
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 5);
    const [a, b] = [meanPrediction(converted, x), meanPrediction(loaded, x)];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const means = (model: tfl.LayersModel) =>
      Array.from(layerWeight(allLayers(model).find((layer) => layer.name === 'fc1')!, 'kernel_prior_mean')!.read().dataSync());
    expect(means(loaded)).toEqual(means(converted));
    expect(loaded.calculateLosses()).toHaveLength(5);
    tf.dispose([x, a, b]);
  });

  it('trains: model.fit on the converted model includes the KL and lowers the loss', async () => {
    const converted = toBayesian(mlp(), { klWeight: 1 / 64, seed: 6 });
    converted.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([64, 5], 0, 1, 'float32', 7);
    const y = tf.oneHot(tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32'), 3);
    const history = await converted.fit(x, y, { epochs: 10, batchSize: 64, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    tf.dispose([x, y]);
  });

  it('allocates only the new model’s weights: disposing it frees them all', () => {
    const original = vggStyle('sequential');
    const before = tf.memory().numTensors;
    const converted = toBayesian(original);
    converted.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    [{ layers: ['nope'] }, /^toBayesian: options\.layers must be names of the model's Dense, Conv1D, Conv2D or Conv3D layers \('hidden', 'out'\); got 'nope'\.$/],
    [{ layers: { last: 0 } }, /^toBayesian: options\.layers\.last must be an integer >= 1 and <= 2; got 0\.$/],
    [{ layers: 'some' }, /^toBayesian: options\.layers must be 'all', \{ last: n \} or an array of layer names; got 'some'\.$/],
    [{ delta: -0.1 }, /^toBayesian: options\.delta must be a number >= 0; got -0\.1\.$/],
    [{ estimator: 'gibbs' }, /^toBayesian: options\.estimator must be one of 'flipout', 'sample', 'local'; got 'gibbs'\.$/],
    [{ klWeight: -1 }, /^toBayesian: options\.klWeight must be a number >= 0; got -1\.$/],
    [{ priorFromWeights: 1 }, /^toBayesian: options\.priorFromWeights must be true or false; got 1\.$/],
    [{ seed: 0.5 }, /^toBayesian: options\.seed must be an integer; got 0\.5\.$/],
    [{ dropout: 'gaussian' }, /^toBayesian: options\.dropout must be one of 'keep', 'mc'; got 'gaussian'\.$/],
    [{ dleta: 0.1 }, /^toBayesian: options has unknown 'dleta'; did you mean 'dleta' → 'delta'\? The known options are .*\.$/],
  ])('refuses %j with an error naming the option', (options, message) => {
    expect(() => toBayesian(mlp(), options as never)).toThrow(message);
  });

  it("refuses 'local' for a Conv2D, a channels-first Conv2D, a model with nothing to convert, and a non-model", () => {
    expect(() => toBayesian(vggStyle('sequential'), { estimator: 'local' })).toThrow(
      /^toBayesian: options\.estimator must be 'flipout' or 'sample' when converting a Conv2D layer; got 'local'\. 'block1_conv1' is a Conv2D/,
    );
    expect(() => toBayesian(vggStyle('sequential'), { estimator: 'local', layers: ['fc1', 'predictions'] })).not.toThrow();
    const channelsFirst = tfl.sequential({
      layers: [tfl.layers.conv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst', inputShape: [3, 8, 8], name: 'nchw' })],
    });
    expect(() => toBayesian(channelsFirst)).toThrow(
      /^toBayesian: layer 'nchw' dataFormat must be 'channelsLast'; got 'channelsFirst'\. The variational conv layers are channels-last\.$/,
    );
    const noDense = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [2, 2] })] });
    expect(() => toBayesian(noDense)).toThrow(/^toBayesian: model must be a model with Dense, Conv1D, Conv2D or Conv3D layers; got '.*'\. There is nothing to convert\.$/);
    expect(() => toBayesian({} as never)).toThrow(/^toBayesian: model must be a tf\.LayersModel/);
  });
});
