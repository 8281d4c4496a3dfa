import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNorm } from '../../src/ham10000/backbone';
import { buildClassifier, splitClassifier } from '../../src/ham10000/model';
import { mobilenetV2 } from '../../src/ham10000/mobilenet_v2';
import { resnet50 } from '../../src/ham10000/resnet50';
import { resnetSmall } from '../../src/ham10000/resnet_small';
import { compactCnn } from '../../src/ham10000/vgg16';
import { maxAbsDiff } from '../helpers';

// The counts are Keras' own: keras.applications.X(input_shape=…, include_top=False, weights=None)
// .count_params() and len(.layers) (Keras 3.15, the input layer included), as scripts/golden's venv prints them.
describe('backbones: Keras architectures layer for layer', () => {
  it('MobileNetV2: Keras parameter and layer counts, names, [-1, 1] input, out_relu for Grad-CAM', async () => {
    const base = await mobilenetV2({ inputShape: [32, 32, 3], seed: 1 });
    expect(base.model.countParams()).toBe(2257984);
    expect(base.model.layers.length).toBe(154);
    expect(base.model.outputs[0].shape).toEqual([null, 1, 1, 1280]);
    expect(base.model.layers.slice(1, 4).map((l) => l.name)).toEqual(['Conv1', 'bn_Conv1', 'Conv1_relu']);
    expect({ camLayer: base.camLayer, preprocessing: base.preprocessing, pretrained: base.pretrained }).toEqual({ camLayer: 'out_relu', preprocessing: 'tf', pretrained: false });
    expect(base.warnings.join(' ')).toMatch(/^mobilenetV2: NO PRETRAINED WEIGHTS/);
    base.model.dispose();
  });

  it('MobileNetV2 at α 0.35 on an odd size (Keras pads stride-2 blocks by the side\'s parity) and α 0.1 (an identity block 0)', async () => {
    const narrow = await mobilenetV2({ inputShape: [33, 33, 3], alpha: 0.35, seed: 1 });
    expect(narrow.model.countParams()).toBe(410208);
    expect(narrow.model.outputs[0].shape).toEqual([null, 2, 2, 1280]);
    const tiny = await mobilenetV2({ inputShape: [32, 32, 3], alpha: 0.1, seed: 1 });
    expect(tiny.model.countParams()).toBe(93312);
    expect(tiny.model.layers.length).toBe(155);
    expect(tiny.model.getLayer('expanded_conv_add').getClassName()).toBe('Add');
    narrow.model.dispose();
    tiny.model.dispose();
  });

  it('ResNet50: Keras parameter and layer counts, names, caffe input, conv5_block3_out for Grad-CAM', async () => {
    const base = await resnet50({ inputShape: [32, 32, 3], seed: 1 });
    expect(base.model.countParams()).toBe(23587712);
    expect(base.model.layers.length).toBe(175);
    expect(base.model.layers.slice(-3).map((l) => l.name)).toEqual(['conv5_block3_3_bn', 'conv5_block3_add', 'conv5_block3_out']);
    expect(base.model.outputs[0].shape).toEqual([null, 1, 1, 2048]);
    expect({ camLayer: base.camLayer, preprocessing: base.preprocessing }).toEqual({ camLayer: 'conv5_block3_out', preprocessing: 'caffe' });
    base.model.dispose();
  });

  it('refuses unknown options naming the nearest, and images too small', async () => {
    await expect(mobilenetV2({ inputShape: [32, 32, 3], alpa: 1 } as never)).rejects.toThrow(/mobilenetV2: .*'alpa'.*'alpha'/);
    await expect(resnet50({ inputShape: [16, 16, 3] })).rejects.toThrow('resnet50: inputShape must be [height, width, 3] with sides >= 32; got [16, 16, 3]. Use a larger --image-size.');
    // The from-scratch bases too, before building anything.
    expect(() => compactCnn({ inputShape: [16, 16, 3], filter: [8] } as never)).toThrow(/^compactCnn: options has unknown 'filter'; did you mean 'filter' → 'filters'\?/);
    expect(() => resnetSmall({ inputShape: [16, 16, 3], seeds: 1 } as never)).toThrow(/^resnetSmall: options has unknown 'seeds'; did you mean 'seeds' → 'seed'\?/);
  });
});

describe('batchNorm: inference mode while frozen, as Keras in transfer learning', () => {
  function model(trainable: boolean): tfl.LayersModel {
    const layer = batchNorm({ inputShape: [3], name: 'bn', epsilon: 1e-3 });
    const m = tfl.sequential({ layers: [layer] });
    m.setWeights([tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 1, -1]), tf.tensor1d([5, -5, 0.5]), tf.tensor1d([4, 0.25, 1])]);
    layer.trainable = trainable;
    return m;
  }

  it('a frozen layer uses its moving statistics in a training call; a trainable one the batch statistics', () => {
    const x = tf.tensor2d([[1, 2, 3], [3, -2, 0], [0, 0, 9]]);
    const [frozen, trainable] = [model(false), model(true)];
    const expected = tf.tidy(() => tf.add(tf.mul(tf.div(tf.sub(x, [5, -5, 0.5]), tf.sqrt(tf.add([4, 0.25, 1], 1e-3))), [1, 2, 3]), [0, 1, -1]));
    const [inTraining, inference, batchStats] = tf.tidy(() => [
      frozen.apply(x, { training: true }) as tf.Tensor,
      frozen.predict(x) as tf.Tensor,
      trainable.apply(x, { training: true }) as tf.Tensor,
    ]);
    expect(maxAbsDiff(inTraining, expected)).toBeLessThan(1e-5);
    expect(maxAbsDiff(inference, expected)).toBeLessThan(1e-5);
    // Batch statistics: each column of a training-mode output has mean beta.
    expect(maxAbsDiff(tf.mean(batchStats, 0), tf.tensor1d([0, 1, -1]))).toBeLessThan(1e-5);
    tf.dispose([x, expected, inTraining, inference, batchStats]);
    frozen.dispose();
    trainable.dispose();
  });
});

describe('buildClassifier with a residual base', () => {
  it('freezes the whole pretrained base by default and splits after it (the feature cache holds its output)', async () => {
    const { model, frozenLayerCount, preprocessing } = await buildClassifier({ arch: 'mobilenetv2', alpha: 0.35, imageSize: 32, numClasses: 7, trainingExamples: 10, seed: 2 });
    expect(frozenLayerCount).toBe(153);
    expect(preprocessing).toBe('tf');
    const { frozen, trainable } = splitClassifier(model, frozenLayerCount);
    expect(frozen!.outputs[0].shape).toEqual([null, 1, 1, 1280]);
    expect(trainable.layers.map((l) => l.name)).toEqual(['features', 'head_pool', 'head_flipout']);
    model.dispose();
  });

  it('cuts between residual blocks only: the trainable half then composes with the frozen one to the full model', async () => {
    const options = { arch: 'mobilenetv2' as const, alpha: 0.35, imageSize: 32, numClasses: 3, trainingExamples: 10, seed: 2 };
    await expect(buildClassifier({ ...options, trainableLayers: 12 })).rejects.toThrow(
      'buildClassifier: trainableLayers must be a count that cuts the base between blocks (nearest: 11 or 20); got 12. Use --trainable-layers 11.',
    );
    const { model, frozenLayerCount } = await buildClassifier({ ...options, trainableLayers: 20 });
    const { frozen, trainable } = splitClassifier(model, frozenLayerCount);
    expect(trainable.layers.map((l) => l.name).slice(0, 3)).toEqual(['features', 'block_15_expand', 'block_15_expand_BN']);
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 3);
    const run = (m: tfl.LayersModel, input: tf.Tensor) => m.apply(input, { mode: 'mean' } as never) as tf.Tensor;
    const direct = tf.tidy(() => run(model, x));
    const composed = tf.tidy(() => run(trainable, frozen!.predict(x) as tf.Tensor));
    expect(maxAbsDiff(direct, composed)).toBeLessThan(1e-6);
    tf.dispose([x, direct, composed]);
    model.dispose();
  });
});
