import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Backbone } from '../../src/ham10000/backbone';
import { mobilenetV2 } from '../../src/ham10000/mobilenet_v2';
import { preprocessImages } from '../../src/ham10000/preprocess';
import { resnet50 } from '../../src/ham10000/resnet50';
import { vgg16 } from '../../src/ham10000/vgg16';
import { CACHE_ENV } from '../../src/node/keras_applications';
import { expectClose, type Nested } from '../parity/golden';

/**
 * The full-size backbones against Keras, on files too large to commit (58 to 94 MB each), written by
 * `scripts/golden/keras_weights.py --large DIR`. Skipped unless KERAS_WEIGHTS_DIR=DIR is set; the
 * command and the result are in docs/parity.md.
 */
const DIR = process.env.KERAS_WEIGHTS_DIR;
interface Case {
  name: 'vgg16' | 'resnet50' | 'mobilenetv2_1.0';
  files: Record<string, string>;
  preprocessing: 'caffe' | 'tf';
  pixels: Nested;
  output: Nested;
}
const cases: Case[] = DIR ? JSON.parse(fs.readFileSync(path.join(DIR, 'keras_weights_large.json'), 'utf8')).cases : [];
const BUILDERS = { vgg16, resnet50, 'mobilenetv2_1.0': mobilenetV2 } as const;
const FORMATS = ['legacyWeights', 'legacyModel', 'keras', 'kerasWeights'];

async function expectKerasOutput(c: Case, build: (inputShape: [number, number, number]) => Promise<Backbone>): Promise<void> {
  const pixels = tf.tensor(c.pixels as number[]) as tf.Tensor4D;
  const backbone = await build(pixels.shape.slice(1) as [number, number, number]);
  expect(backbone.preprocessing).toBe(c.preprocessing);
  const output = tf.tidy(() => backbone.model.predict(preprocessImages(pixels, backbone.preprocessing)) as tf.Tensor);
  expectClose(output, c.output, { tolerance: 1e-4 });
  tf.dispose([pixels, output]);
  backbone.model.dispose();
}

(DIR ? describe : describe.skip)('full-size backbones match Keras (KERAS_WEIGHTS_DIR)', () => {
  it.each(cases.flatMap((c) => FORMATS.map((format) => [c.name, format, c] as const)))('%s from %s', async (name, format, c) => {
    await expectKerasOutput(c, (inputShape) => BUILDERS[name]({ inputShape, weights: path.join(DIR!, c.files[format]) }));
  });

  it("vgg16({ weights: 'imagenet' }) takes a Keras-written notop file from the cache, with no network", async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'imagenet-vgg16-'));
    const saved = process.env[CACHE_ENV];
    try {
      fs.mkdirSync(path.join(cache, 'models'));
      const c = cases.find((item) => item.name === 'vgg16')!;
      fs.copyFileSync(path.join(DIR!, c.files.legacyWeights), path.join(cache, 'models', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5'));
      process.env[CACHE_ENV] = cache;
      await expectKerasOutput(c, (inputShape) => vgg16({ inputShape, weights: 'imagenet' }));
    } finally {
      if (saved === undefined) delete process.env[CACHE_ENV];
      else process.env[CACHE_ENV] = saved;
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
