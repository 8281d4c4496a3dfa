import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadHam10000 } from '../../src/ham10000/dataset';
import { buildFeatureCache } from '../../src/ham10000/feature_cache';
import { loadImages } from '../../src/ham10000/images';
import { vggPreprocess } from '../../src/ham10000/preprocess';
import { buildClassifier, splitClassifier } from '../../src/ham10000/model';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { maxAbsDiff } from '../helpers';

describe('buildFeatureCache', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ham-cache-'));
    await writeSyntheticHam10000(path.join(dir, 'data'), { imagesPerClass: 2, width: 40, height: 30, seed: 4, withMasks: false });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the frozen part of each image, the same in memory and on disk, and reuses the disk rows', async () => {
    const { records } = await loadHam10000(path.join(dir, 'data'));
    const { model, frozenLayerCount } = await buildClassifier({ arch: 'compact', imageSize: 16, numClasses: 7, trainingExamples: 14, seed: 1, trainableLayers: 2 });
    const { frozen, trainable } = splitClassifier(model, frozenLayerCount);
    const before = tf.memory().numTensors;
    const file = path.join(dir, 'train.f32');
    const memory = await buildFeatureCache({ records, frozen, imageSize: 16, chunkSize: 5 });
    const disk = await buildFeatureCache({ records, frozen, imageSize: 16, chunkSize: 3, file });
    expect(memory.cache.count).toBe(records.length);
    expect(memory.cache.featureShape).toEqual(frozen!.outputs[0].shape.slice(1));
    expect(fs.statSync(file).size).toBe(records.length * memory.cache.featureShape.reduce((a, b) => a * b, 4));
    const rows = [records.length - 1, 0, 3];
    const [a, b] = [memory.cache.batch(rows), disk.cache.batch(rows)];
    expect(maxAbsDiff(a, b)).toBe(0);
    // Row i is the frozen part's output for image i.
    const { images } = await loadImages([records[3]], { height: 16, width: 16 });
    const direct = tf.tidy(() => frozen!.predict(vggPreprocess(images)) as tf.Tensor);
    const cached = tf.slice(a, [2], [1]);
    expect(maxAbsDiff(cached, direct)).toBeLessThan(1e-5);
    tf.dispose([a, b, images, direct, cached]);
    disk.cache.dispose();
    // A second build for the same images reads nothing: the images may even be gone.
    fs.rmSync(records[0].imagePath);
    const reused = await buildFeatureCache({ records, frozen, imageSize: 16, file });
    expect(reused.problems).toEqual([]);
    expect(reused.cache.labels).toEqual(records.map((r) => r.label));
    reused.cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
    trainable.dispose();
    model.dispose();
  });
});
