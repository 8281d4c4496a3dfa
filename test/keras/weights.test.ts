import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadKerasWeights as loadKerasBytes, readKerasWeights } from '../../src/keras';
import { loadKerasWeights } from '../../src/node/keras';
import { mobilenetV2 } from '../../src/ham10000/mobilenet_v2';
import { tfPreprocess, vggPreprocess } from '../../src/ham10000/preprocess';
import { expectNoLeaks } from '../helpers';
import { expectClose, loadFixture, type Nested } from '../parity/golden';

/**
 * Keras-written files (scripts/golden/keras_weights.py: tf-keras 2.18 and Keras 3) load into the
 * same architecture built with tfjs-layers, and give Keras' outputs on Keras' inputs.
 */
interface Case {
  name: string;
  files: Record<string, string>;
  preprocessing: 'caffe' | 'tf';
  pixels: Nested;
  output: Nested;
}
const fixture = loadFixture<Case>('keras_weights.json') as ReturnType<typeof loadFixture<Case>> & { preprocessing: { pixels: Nested; caffe: Nested; tf: Nested } };
const DIR = path.join(__dirname, '..', 'fixtures', 'keras');
/** A whole network's float32 rounding, relative to the output's scale (see docs/parity.md). */
const TOLERANCE = 1e-4;
const caseOf = (name: string) => fixture.cases.find((c) => c.name === name)!;

/** The tfjs twin of the script's `mini_vgg`: Keras VGG16's layer names, a pooled dense top. */
function miniVgg(): tfl.LayersModel {
  const conv = (name: string, filters: number) => tfl.layers.conv2d({ name, filters, kernelSize: 3, padding: 'same', activation: 'relu' });
  return tfl.sequential({
    layers: [
      tfl.layers.inputLayer({ inputShape: [32, 32, 3] }),
      conv('block1_conv1', 8),
      conv('block1_conv2', 8),
      tfl.layers.maxPooling2d({ poolSize: 2, name: 'block1_pool' }),
      conv('block2_conv1', 16),
      tfl.layers.maxPooling2d({ poolSize: 2, name: 'block2_pool' }),
      tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }),
      tfl.layers.dense({ units: 5, activation: 'softmax', name: 'predictions' }),
    ],
  });
}

function outputOn(model: tfl.LayersModel, c: Case): tf.Tensor {
  return tf.tidy(() => {
    const pixels = tf.tensor(c.pixels as number[]) as tf.Tensor4D;
    return model.predict(c.preprocessing === 'tf' ? tfPreprocess(pixels) : vggPreprocess(pixels)) as tf.Tensor;
  });
}

describe('loadKerasWeights: Keras-written files', () => {
  const vgg = caseOf('mini_vgg');
  it.each([
    ['tf-keras save_weights .h5 (layer_names, weight_names)', 'legacyWeights', 'legacy-h5'],
    ['tf-keras full-model .h5 (model_weights)', 'legacyModel', 'legacy-h5'],
    ['Keras 3 .keras zip', 'keras', 'keras'],
    ['Keras 3 .weights.h5', 'kerasWeights', 'keras3-h5'],
  ])('%s loads by path and gives Keras outputs within 1e-4', async (_, kind, format) => {
    const model = miniVgg();
    const loaded = await loadKerasWeights(model, path.join(DIR, vgg.files[kind]));
    expect(loaded).toEqual({ format, layers: 4, weights: 8 });
    const output = outputOn(model, vgg);
    expectClose(output, vgg.output, { tolerance: TOLERANCE });
    output.dispose();
    model.dispose();
  });

  it('names the groups of a .keras from older Keras 3 (no name attributes) from its config.json', async () => {
    // Older Keras 3 (3.5, TF 2.17's) wrote no `name` on the `vars` groups: strip them from a Keras 3.15 file.
    const { unzipSync, zipSync } = await import('fflate');
    const h5 = await import('h5wasm');
    await h5.ready;
    const entries = unzipSync(new Uint8Array(fs.readFileSync(path.join(DIR, vgg.files.keras))));
    h5.FS!.writeFile('/old.weights.h5', entries['model.weights.h5']);
    const file = new h5.File('/old.weights.h5', 'a');
    const layers = file.get('layers') as InstanceType<typeof h5.Group>;
    for (const key of layers.keys()) {
      const vars = file.get(`layers/${key}/vars`) as InstanceType<typeof h5.Group>;
      if ('name' in vars.attrs) vars.delete_attribute('name');
    }
    file.close();
    entries['model.weights.h5'] = new Uint8Array(h5.FS!.readFile('/old.weights.h5') as Uint8Array);
    h5.FS!.unlink('/old.weights.h5');
    const model = miniVgg();
    expect(await loadKerasBytes(model, zipSync(entries))).toEqual({ format: 'keras', layers: 4, weights: 8 });
    const output = outputOn(model, vgg);
    expectClose(output, vgg.output, { tolerance: TOLERANCE });
    output.dispose();
    model.dispose();
  });

  it('reads bytes the same way (the isomorphic core, as a browser would)', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(DIR, vgg.files.keras)));
    const model = miniVgg();
    await loadKerasBytes(model, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const output = outputOn(model, vgg);
    expectClose(output, vgg.output, { tolerance: TOLERANCE });
    tf.dispose([output]);
    model.dispose();
  });

  it("MobileNetV2 (tf-keras Applications layout) matches Keras, with Keras' 'tf' preprocessing", async () => {
    const c = caseOf('mobilenetv2_0.1');
    const backbone = await mobilenetV2({ inputShape: [32, 32, 3], alpha: 0.1, weights: path.join(DIR, c.files.legacyWeights) });
    expect(backbone.pretrained).toBe(true);
    const output = outputOn(backbone.model, c);
    expectClose(output, c.output, { tolerance: TOLERANCE });
    output.dispose();
    backbone.model.dispose();
  });

  it("preprocessing equals Keras' preprocess_input ('caffe' and 'tf')", () => {
    const pixels = tf.tensor(fixture.preprocessing.pixels as number[]) as tf.Tensor4D;
    const [caffe, tfMode] = [vggPreprocess(pixels), tfPreprocess(pixels)];
    expectClose(caffe, fixture.preprocessing.caffe);
    expectClose(tfMode, fixture.preprocessing.tf);
    tf.dispose([pixels, caffe, tfMode]);
  });

  it('leaves no tensors behind, loaded or refused', async () => {
    const model = miniVgg();
    await expectNoLeaks(() => loadKerasWeights(model, path.join(DIR, vgg.files.legacyWeights)), () => undefined);
    const other = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2, name: 'predictions' })] });
    await expectNoLeaks(() => loadKerasWeights(other, path.join(DIR, vgg.files.legacyWeights)).catch(() => undefined), () => undefined);
    model.dispose();
    other.dispose();
  });
});

describe('loadKerasWeights: all or nothing', () => {
  it('frees every tensor when setting a layer fails midway (injected), and a base whose weights fail is freed whole', async () => {
    const model = miniVgg();
    const layer = model.getLayer('block2_conv1');
    const original = layer.setWeights.bind(layer);
    layer.setWeights = () => {
      throw new Error('injected');
    };
    await expectNoLeaks(() => expect(loadKerasWeights(model, path.join(DIR, caseOf('mini_vgg').files.keras))).rejects.toThrow('injected'), () => undefined);
    layer.setWeights = original;
    model.dispose();
    const before = tf.memory().numTensors;
    await expect(mobilenetV2({ inputShape: [32, 32, 3], alpha: 0.35, weights: path.join(DIR, caseOf('mobilenetv2_0.1').files.legacyWeights) })).rejects.toThrow(/^loadKerasWeights: .* has shape/);
    expect(tf.memory().numTensors).toBe(before);
  });

  const file = path.join(DIR, caseOf('mini_vgg').files.legacyWeights);

  it('names every missing, extra and wrongly shaped weight in one error, and changes nothing', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [32, 32, 3], filters: 8, kernelSize: 3, padding: 'same', name: 'block1_conv1' }),
        tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'block1_conv2' }),
        tfl.layers.conv2d({ filters: 4, kernelSize: 1, name: 'extra_conv' }),
      ],
    });
    const before = model.getWeights().map((weight) => weight.dataSync().slice());
    await expect(loadKerasWeights(model, file)).rejects.toThrow(
      new RegExp(
        "^loadKerasWeights: .*mini_vgg\\.tf_keras\\.weights-only\\.h5 \\(legacy-h5\\) must hold the weights of exactly the model's layers, matched by Keras layer name; " +
          "missing from the file: 'extra_conv'; in the file but not in the model: 'block2_conv1', 'predictions'; " +
          "'block1_conv2/kernel' has shape \\[3, 3, 8, 4\\] in the model and \\[3, 3, 8, 8\\] in the file; " +
          "'block1_conv2/bias' has shape \\[4\\] in the model and \\[8\\] in the file\\. Nothing was loaded\\.",
      ),
    );
    model.getWeights().forEach((weight, i) => expect(Array.from(weight.dataSync())).toEqual(Array.from(before[i])));
    model.dispose();
  });

  it('refuses bytes that are no Keras file, a truncated file and a missing path, naming them', async () => {
    await expect(readKerasWeights(new TextEncoder().encode('{"modelTopology": {}}'), 'model.json')).rejects.toThrow(
      /^readKerasWeights: model\.json must be a Keras weight file \(HDF5 \.h5 \/ \.weights\.h5, or a \.keras zip\); its first bytes are neither/,
    );
    const bytes = fs.readFileSync(file);
    await expect(readKerasWeights(new Uint8Array(bytes.subarray(0, bytes.length >> 1)), 'half.h5')).rejects.toThrow(
      /^readKerasWeights: half\.h5 must be a whole HDF5 file; HDF5 cannot read it .* The file is truncated or damaged: get it again\./,
    );
    const zip = fs.readFileSync(path.join(DIR, caseOf('mini_vgg').files.keras));
    await expect(readKerasWeights(new Uint8Array(zip.subarray(0, zip.length - 200)), 'cut.keras')).rejects.toThrow(/^readKerasWeights: cut\.keras must be a whole \.keras zip/);
    await expect(loadKerasWeights(miniVgg(), '/nonexistent/x.h5')).rejects.toThrow(/^loadKerasWeights: \/nonexistent\/x\.h5 must be a readable Keras weight file; ENOENT/);
    await expect(loadKerasBytes({} as tfl.LayersModel, new Uint8Array(4))).rejects.toThrow(/^loadKerasWeights: model must be a tfjs-layers model/);
  });

  it('refuses a Keras 3 weights file whose groups carry no layer name (older Keras 3), saying how to fix it', async () => {
    const h5 = await import('h5wasm');
    await h5.ready;
    const file = new h5.File('/unnamed.weights.h5', 'w');
    file.create_group('layers').create_group('dense').create_group('vars').create_dataset({ name: '0', data: new Float32Array(4), shape: [2, 2], dtype: '<f' });
    file.close();
    const bytes = h5.FS!.readFile('/unnamed.weights.h5') as Uint8Array;
    h5.FS!.unlink('/unnamed.weights.h5');
    await expect(readKerasWeights(bytes, 'old.weights.h5')).rejects.toThrow(
      "readKerasWeights: old.weights.h5 must name the layer of each weight group; 'layers/dense' has no name (older Keras 3 versions did not write them). Load the model's .keras file instead (its config.json names them), or save it again with a current Keras 3.",
    );
  });
});
