import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout } from '../../src/layers';
import { loadModel, readModelArtifacts, saveModel, writeFileAtomic } from '../../src/node/model_io';
import { maxAbsDiff } from '../helpers';

function tinyModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: 3, inputShape: [4], name: 'hidden', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  model.add(new DenseFlipout({ units: 2, activation: 'softmax', seed: 2, name: 'head' }));
  return model;
}

describe('model_io', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-io-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const manifest = () => JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const rewriteManifest = (edit: (json: { weightsManifest: { paths: string[] }[] }) => void) => {
    const json = manifest();
    edit(json);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  };

  it('round-trips a model with a DenseFlipout head, weights identical, no leaked tensors', async () => {
    const model = tinyModel();
    await saveModel(model, dir);
    const before = tf.memory().numTensors;
    const loaded = await loadModel(dir);
    const original = model.getWeights();
    const restored = loaded.getWeights();
    expect(restored.map((w) => w.shape)).toEqual(original.map((w) => w.shape));
    original.forEach((w, i) => expect(maxAbsDiff(w, restored[i])).toBe(0));
    expect(loaded.getLayer('head')).toBeInstanceOf(DenseFlipout);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('loads models concurrently, each with its own weights, and loads again afterwards', async () => {
    const models = [tinyModel(), tinyModel()];
    models[1].setWeights(models[1].getWeights().map((w) => tf.mul(w, 2)));
    const dirs = ['a', 'b'].map((name) => path.join(dir, name));
    await Promise.all(models.map((model, i) => saveModel(model, dirs[i])));
    const weights = (model: tfl.LayersModel) => model.getWeights().flatMap((w) => Array.from(w.dataSync()));
    const loaded = await Promise.all([loadModel(dirs[0]), loadModel(dirs[1]), loadModel(path.join(dir, 'missing'))].map((p) => p.catch((e: Error) => e)));
    expect(loaded[2]).toBeInstanceOf(Error);
    [0, 1].forEach((i) => expect(weights(loaded[i] as tfl.LayersModel)).toEqual(weights(models[i])));
    const again = await loadModel(dirs[1]);
    expect(weights(again)).toEqual(weights(models[1]));
    [...loaded.slice(0, 2), again, ...models].forEach((model) => (model as tfl.LayersModel).dispose());
  });

  it('leaves no temp files and replaces files atomically', async () => {
    const model = tinyModel();
    await saveModel(model, dir);
    await saveModel(model, dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const file = path.join(dir, 'note.txt');
    writeFileAtomic(file, 'first');
    writeFileAtomic(file, new Uint8Array([65, 66]));
    expect(fs.readFileSync(file, 'utf8')).toBe('AB');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    model.dispose();
  });

  it('refuses weight paths that leave the folder, absolute paths and links outside', async () => {
    await saveModel(tinyModel(), dir);
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'));
    fs.copyFileSync(path.join(dir, 'weights.bin'), path.join(outside, 'weights.bin'));
    rewriteManifest((json) => (json.weightsManifest[0].paths = ['../' + path.basename(outside) + '/weights.bin']));
    expect(() => readModelArtifacts(dir)).toThrow(/weight path '\.\.\/outside-.*' .* leaves the folder; weight files must lie inside/);
    rewriteManifest((json) => (json.weightsManifest[0].paths = [path.join(outside, 'weights.bin')]));
    expect(() => readModelArtifacts(dir)).toThrow(/weight path '.*' .* is absolute/);
    fs.symlinkSync(path.join(outside, 'weights.bin'), path.join(dir, 'link.bin'));
    rewriteManifest((json) => (json.weightsManifest[0].paths = ['link.bin']));
    expect(() => readModelArtifacts(dir)).toThrow(/weight path 'link.bin' .* is a link to .*outside-.*, outside the folder/);
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('refuses shards whose size does not match the manifest, before decoding', async () => {
    await saveModel(tinyModel(), dir);
    const weights = path.join(dir, 'weights.bin');
    const size = fs.statSync(weights).size;
    fs.truncateSync(weights, size - 4);
    expect(() => readModelArtifacts(dir)).toThrow(new RegExp(`must hold ${size} bytes as the manifest says; got ${size - 4}\\. The files are truncated`));
  });

  it('refuses unknown layer classes by name, missing folders and damaged JSON', async () => {
    await saveModel(tinyModel(), dir);
    const json = fs.readFileSync(path.join(dir, 'model.json'), 'utf8');
    fs.writeFileSync(path.join(dir, 'model.json'), json.replace('"DenseFlipout"', '"EvilLayer"'));
    expect(() => readModelArtifacts(dir)).toThrow(/uses unknown layer classes \['EvilLayer'\]/);
    fs.writeFileSync(path.join(dir, 'model.json'), '{ nope');
    expect(() => readModelArtifacts(dir)).toThrow(/model\.json must be valid JSON/);
    expect(() => readModelArtifacts(path.join(dir, 'absent'))).toThrow(/must be a model folder or its model\.json; got '.*absent'/);
  });

  it('refuses impossible weight shapes before allocating', async () => {
    await saveModel(tinyModel(), dir);
    const setShape = (shape: number[]) => {
      const json = manifest();
      json.weightsManifest[0].weights[0].shape = shape;
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    };
    setShape([1e9, 1e9]);
    expect(() => readModelArtifacts(dir)).toThrow(/weight 'hidden\/kernel' .* has an impossible size \(shape \[1000000000, 1000000000\]\)/);
    setShape([1000, 1000]);
    expect(() => readModelArtifacts(dir)).toThrow(/must hold 400\d{4} bytes as the manifest says; got \d+/);
  });
});
