import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, stochasticLayers } from '../../src/layers';
import { buildClassifier, splitClassifier } from '../../src/ham10000/model';
import { compactCnn, vgg16 } from '../../src/ham10000/vgg16';
import { loadModel, saveModel } from '../../src/node/model_io';
import { maxAbsDiff } from '../helpers';

const KERAS_VGG16_NAMES = [
  'input',
  'block1_conv1', 'block1_conv2', 'block1_pool',
  'block2_conv1', 'block2_conv2', 'block2_pool',
  'block3_conv1', 'block3_conv2', 'block3_conv3', 'block3_pool',
  'block4_conv1', 'block4_conv2', 'block4_conv3', 'block4_pool',
  'block5_conv1', 'block5_conv2', 'block5_conv3', 'block5_pool',
];

/** Keras VGG16's weight shapes, by the names tensorflowjs_converter gives them. */
function vgg16WeightShapes(): [string, number[]][] {
  const blocks = [[64, 2], [128, 2], [256, 3], [512, 3], [512, 3]];
  let channels = 3;
  return blocks.flatMap(([filters, convs], b) =>
    Array.from({ length: convs }, (_, c) => {
      const name = `block${b + 1}_conv${c + 1}`;
      const shapes: [string, number[]][] = [[`${name}/kernel`, [3, 3, channels, filters]], [`${name}/bias`, [filters]]];
      channels = filters;
      return shapes;
    }).flat(),
  );
}

/** Writes a weights-only tfjs layers model where every weight of layer i holds the constant i, in shuffled order. */
async function writeConstantVgg16(dir: string): Promise<void> {
  const named = vgg16WeightShapes()
    .map(([name, shape], i) => ({ name: `vgg16/${name}`, tensor: tf.fill(shape, i + 1) }))
    .reverse();
  const { data, specs } = await tf.io.encodeWeights(named);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), new Uint8Array(data as ArrayBuffer));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }] }));
  tf.dispose(named.map((n) => n.tensor));
}

describe('vgg16', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vgg16-'));
    await writeConstantVgg16(path.join(dir, 'keras'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has the Keras layer names and output shape, and warns loudly without weights', async () => {
    const base = await vgg16({ inputShape: [32, 32, 3], includeTop: false, seed: 1 });
    expect(base.model.layers.map((l) => l.name)).toEqual(KERAS_VGG16_NAMES);
    expect(base.model.outputs[0].shape).toEqual([null, 1, 1, 512]);
    expect(base.model.countParams()).toBe(14714688); // Keras VGG16(include_top=False).count_params()
    expect(base.pretrained).toBe(false);
    expect(base.warnings.join(' ')).toMatch(/NO PRETRAINED WEIGHTS.*--weights imagenet/);
    base.model.dispose();
  });

  it('loads every weight by name from a tfjs layers-format model, whatever the order and scope', async () => {
    const before = tf.memory().numTensors;
    const loaded = await vgg16({ inputShape: [48, 48, 3], weights: path.join(dir, 'keras') });
    expect(loaded.pretrained).toBe(true);
    expect(loaded.warnings).toEqual([]);
    const names = vgg16WeightShapes().map(([name]) => name);
    for (const weight of loaded.model.weights) {
      const expected = names.indexOf(weight.originalName) + 1;
      expect(expected).toBeGreaterThan(0);
      const values = weight.read().dataSync();
      expect([values[0], values[values.length - 1]]).toEqual([expected, expected]);
    }
    loaded.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses weights files that miss a layer', async () => {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'keras', 'model.json'), 'utf8'));
    const dropped = json.weightsManifest[0].weights.filter((w: { name: string }) => !w.name.startsWith('vgg16/block3_conv2'));
    const bytes = fs.readFileSync(path.join(dir, 'keras', 'group1-shard1of1.bin'));
    // Keep the bytes of the remaining weights only (block3_conv2's sit somewhere in the middle).
    let offset = 0;
    const kept: Buffer[] = [];
    for (const w of json.weightsManifest[0].weights) {
      const size = 4 * w.shape.reduce((a: number, b: number) => a * b, 1);
      if (!w.name.startsWith('vgg16/block3_conv2')) kept.push(bytes.subarray(offset, offset + size));
      offset += size;
    }
    fs.mkdirSync(path.join(dir, 'partial'));
    fs.writeFileSync(path.join(dir, 'partial', 'w.bin'), Buffer.concat(kept));
    fs.writeFileSync(path.join(dir, 'partial', 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights: dropped }] }));
    await expect(vgg16({ inputShape: [32, 32, 3], weights: path.join(dir, 'partial') })).rejects.toThrow(
      /must hold every weight of the network by name; missing \['block3_conv2\/kernel', 'block3_conv2\/bias'\]/,
    );
  });

  it('refuses weights of another network, naming the weight and the shapes', async () => {
    const compact = compactCnn({ inputShape: [32, 32, 3], seed: 1 });
    await saveModel(compact.model, path.join(dir, 'compact'));
    await expect(vgg16({ inputShape: [32, 32, 3], weights: path.join(dir, 'compact') })).rejects.toThrow(
      /weight 'block1_conv1\/kernel' in .*compact must have shape \[3, 3, 3, 64\]; got \[3, 3, 3, 32\]/,
    );
    compact.model.dispose();
  });

  it('freezes all but the last N base layers and puts a DenseFlipout head with klWeight 1/N', async () => {
    const before = tf.memory().numTensors;
    const { model, frozenLayerCount, camLayer } = await buildClassifier({
      arch: 'vgg16', imageSize: 32, numClasses: 7, trainingExamples: 250, seed: 3, pooling: 'avg', denseUnits: 8,
      weights: path.join(dir, 'keras'),
    });
    expect(frozenLayerCount).toBe(12);
    expect(camLayer).toBe('block5_conv3');
    const trainableNames = model.layers.filter((l) => l.trainable && l.weights.length > 0).map((l) => l.name);
    expect(trainableNames).toEqual(['block4_conv3', 'block5_conv1', 'block5_conv2', 'block5_conv3', 'head_dense', 'head_flipout']);
    const head = model.getLayer('head_flipout') as DenseFlipout;
    expect(head).toBeInstanceOf(DenseFlipout);
    expect(head.klWeight).toBeCloseTo(1 / 250, 12);
    expect(model.outputs[0].shape).toEqual([null, 7]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses too small images and a top', async () => {
    await expect(vgg16({ inputShape: [16, 16, 3] })).rejects.toThrow(/vgg16: inputShape must be \[height, width, 3\] with sides >= 32; got \[16, 16, 3\]/);
    await expect(vgg16({ inputShape: [32, 32, 3], includeTop: true as unknown as false })).rejects.toThrow(/includeTop must be false/);
  });
});

describe('buildClassifier', () => {
  it('splits into frozen and trainable halves that compose to the full model and share its weights', async () => {
    const { model, frozenLayerCount } = await buildClassifier({
      arch: 'compact', imageSize: 16, numClasses: 7, trainingExamples: 10, seed: 3, trainableLayers: 3,
    });
    const { frozen, trainable } = splitClassifier(model, frozenLayerCount);
    expect(frozen!.outputs[0].shape).toEqual([null, 4, 4, 64]);
    const x = tf.randomNormal([2, 16, 16, 3], 0, 50, 'float32', 5);
    const run = (m: tfl.LayersModel, input: tf.Tensor) => m.apply(input, { mode: 'mean' } as never) as tf.Tensor;
    const direct = tf.tidy(() => run(model, x));
    const composed = tf.tidy(() => run(trainable, frozen!.predict(x) as tf.Tensor));
    expect(maxAbsDiff(direct, composed)).toBeLessThan(1e-6);
    expect(trainable.trainableWeights.map((w) => w.originalName)).toEqual(model.trainableWeights.map((w) => w.originalName));
    tf.dispose([x, direct, composed]);
    model.dispose();
  });

  it("builds the same network without the Bayesian head for comparisons (head: 'dense')", async () => {
    const { model } = await buildClassifier({ arch: 'compact', imageSize: 16, numClasses: 7, trainingExamples: 10, seed: 3, head: 'dense' });
    expect(stochasticLayers(model)).toEqual([]);
    expect(model.layers[model.layers.length - 1].getClassName()).toBe('Dense');
    expect(model.outputs[0].shape).toEqual([null, 7]);
    model.dispose();
  });

  it('makes the dense layer of the head Bayesian too (bayesianHidden), with the same klWeight, and saves and loads it back', async () => {
    const before = tf.memory().numTensors;
    const { model } = await buildClassifier({ arch: 'compact', imageSize: 16, numClasses: 7, trainingExamples: 40, seed: 3, denseUnits: 8, bayesianHidden: true });
    expect(stochasticLayers(model).map((layer) => layer.name)).toEqual(['head_dense_flipout', 'head_flipout']);
    const hidden = model.getLayer('head_dense_flipout') as DenseFlipout;
    expect(hidden.klWeight).toBeCloseTo(1 / 40, 12);
    expect(hidden.getConfig()).toMatchObject({ units: 8, activation: 'relu' });
    // Each adds its KL term, which training sums into the loss.
    expect(stochasticLayers(model).map((layer) => layer.losses.length)).toEqual([1, 1]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hidden-'));
    try {
      await saveModel(model, dir);
      const loaded = await loadModel(dir);
      expect(stochasticLayers(loaded).map((layer) => layer.name)).toEqual(['head_dense_flipout', 'head_flipout']);
      const x = tf.randomNormal([3, 16, 16, 3], 0, 50, 'float32', 4);
      const mean = (m: tfl.LayersModel) => m.apply(x, { mode: 'mean' } as never) as tf.Tensor;
      const [a, b] = [mean(model), mean(loaded)];
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
      tf.dispose([x, a, b]);
      loaded.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses bayesianHidden without a dense layer or with the dense head', async () => {
    const base = { arch: 'compact' as const, imageSize: 16, numClasses: 7, trainingExamples: 10, seed: 1, bayesianHidden: true };
    const message = "buildClassifier: bayesianHidden must be used only with head 'flipout' and denseUnits > 0; got true. Add --dense <units> and keep --head flipout, or drop --bayesian-hidden.";
    await expect(buildClassifier(base)).rejects.toThrow(message);
    await expect(buildClassifier({ ...base, denseUnits: 8, head: 'dense' })).rejects.toThrow(message);
  });

  it('refuses weights for the compact network and a bad architecture', async () => {
    const base = { imageSize: 32, numClasses: 7, trainingExamples: 10, seed: 1 };
    await expect(buildClassifier({ ...base, arch: 'compact', weights: '/x' })).rejects.toThrow(/weights must be given only with a pretrained architecture \(vgg16, resnet50, mobilenetv2\)/);
    await expect(buildClassifier({ ...base, arch: 'resnet' as 'vgg16' })).rejects.toThrow(/arch must be one of 'vgg16', 'resnet50', 'mobilenetv2', 'compact', 'resnet-small'; got 'resnet'/);
  });
});

describe("buildClassifier: 'resnet-small'", () => {
  it('is residual, halves the resolution once per stage after the first, and Grad-CAM looks at the last stage (8×8 at 64 px)', async () => {
    const { model, camLayer, frozenLayerCount } = await buildClassifier({ arch: 'resnet-small', imageSize: 64, numClasses: 7, trainingExamples: 10, seed: 3 });
    expect(frozenLayerCount).toBe(0);
    expect(camLayer).toBe('stage3_out');
    expect(model.getLayer(camLayer).outputShape).toEqual([null, 8, 8, 128]);
    expect(model.getLayer('stage1_out').outputShape).toEqual([null, 32, 32, 32]);
    expect(model.layers.filter((layer) => layer.getClassName() === 'Add').map((layer) => layer.name)).toEqual(['stage1_add', 'stage2_add', 'stage3_add']);
    // A cut inside the first block would leave its shortcut behind.
    expect(() => splitClassifier(model, 6)).toThrow(/trainableLayers must be a count that cuts the base between blocks/);
    model.dispose();
  });

  it('updates the batch-norm statistics in training mode only, and saves and loads back with them', async () => {
    const before = tf.memory().numTensors;
    const { model } = await buildClassifier({ arch: 'resnet-small', imageSize: 16, numClasses: 7, trainingExamples: 10, seed: 3 });
    const movingMean = () => model.getLayer('stem_bn').getWeights()[2].arraySync() as number[];
    const x = tf.randomNormal([4, 16, 16, 3], 0, 50, 'float32', 6);
    const start = movingMean();
    tf.dispose(model.apply(x, { training: false }) as tf.Tensor);
    expect(movingMean()).toEqual(start);
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    expect(movingMean()).not.toEqual(start);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resnet-'));
    try {
      await saveModel(model, dir);
      const loaded = await loadModel(dir);
      const mean = (m: tfl.LayersModel) => m.apply(x, { mode: 'mean' } as never) as tf.Tensor;
      const [a, b] = [mean(model), mean(loaded)];
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
      tf.dispose([a, b]);
      loaded.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    x.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
