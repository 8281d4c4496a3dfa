import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { DataError, DenseFlipout } from '../../src';
import { loadModel, saveModel } from '../../src/node/model_io';
import { attemptAsync, fuzzParams, wrongType } from './fuzz';

/**
 * Untrusted model files, generated: a model folder is saved once, then each case edits a copy of
 * its model.json or its shard the way a hostile or broken file would, and loads it. Every case
 * ends in the original model or a DataError; never weights read from outside the folder, never a
 * large allocation, never a leaked tensor.
 */

let root: string;
let modelDir: string;
let original: number[][];
let savedJson: string;
let savedShard: Buffer;

const readJson = () => JSON.parse(savedJson);
const writeJson = (json: unknown) => fs.writeFileSync(path.join(modelDir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));

/** Loads the model folder; returns its weights as arrays, or the DataError it refused with. */
async function load(): Promise<{ weights?: number[][]; error?: DataError }> {
  const rssBefore = process.memoryUsage().rss;
  const { result, error } = await attemptAsync(
    async () => {
      const model = await loadModel(modelDir);
      const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return weights;
    },
    () => undefined,
  );
  // "Nothing large": the model is 59 values, so any growth of 256 MB is an allocation from the file.
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 2 ** 20);
  if (error) expect(error).toBeInstanceOf(DataError);
  return { weights: result, error: error as DataError | undefined };
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'untrusted-'));
  modelDir = path.join(root, 'model');
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, inputShape: [4], name: 'hidden', kernelInitializer: tfl.initializers.ones() }),
      new DenseFlipout({ units: 3, seed: 1, name: 'head' }),
    ],
  });
  await saveModel(model, modelDir);
  original = model.getWeights().map((w) => Array.from(w.dataSync()));
  model.dispose();
  savedJson = fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8');
  savedShard = fs.readFileSync(path.join(modelDir, 'weights.bin'));
  // Decoys of the right size: a load that reads one of them returns weights that are all 7.
  const decoy = Buffer.from(new Float32Array(savedShard.length / 4).fill(7).buffer);
  fs.writeFileSync(path.join(root, 'weights.bin'), decoy);
  fs.mkdirSync(path.join(modelDir, 'sub'));
  fs.copyFileSync(path.join(modelDir, 'weights.bin'), path.join(modelDir, 'sub', 'weights.bin'));
  fs.symlinkSync(path.join(modelDir, 'weights.bin'), path.join(modelDir, 'link.bin'));
  fs.symlinkSync(path.join(root, 'weights.bin'), path.join(modelDir, 'outlink.bin'));
  fs.symlinkSync(root, path.join(modelDir, 'outdir'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  writeJson(savedJson);
  fs.writeFileSync(path.join(modelDir, 'weights.bin'), savedShard);
});

describe('loadModel on generated hostile model files', () => {
  it('weight paths: loads the folder’s own weights or refuses; never reads outside the folder', async () => {
    const segment = fc.constantFrom('..', '.', 'sub', 'model', 'outdir', 'weights.bin', 'link.bin', 'outlink.bin', '', '%2e%2e');
    const prefix = fc.constantFrom('', '', '/', root + '/', 'file://', 'http://host/', 'C:\\');
    const weightPath = fc.tuple(prefix, fc.array(segment, { minLength: 1, maxLength: 4 })).map(([p, parts]) => p + parts.join('/'));
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(weightPath, async (relative) => {
        const json = readJson();
        json.weightsManifest[0].paths = [relative];
        writeJson(json);
        const { weights, error } = await load();
        if (weights) {
          loaded += 1;
          expect(weights).toEqual(original);
        } else {
          expect(error?.message).toMatch(/must lie inside the model's folder|is missing|must hold \d+ bytes|must be valid JSON|EISDIR/);
        }
      }),
      fuzzParams(120),
    );
    // The generator reaches both outcomes, so the property is not vacuous.
    expect(loaded).toBeGreaterThan(0);
  });

  it('shard sizes: any byte too many or too few is refused before decoding, naming both sizes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -savedShard.length, max: 64 }), async (delta) => {
        fc.pre(delta !== 0);
        const shard = delta < 0 ? savedShard.subarray(0, savedShard.length + delta) : Buffer.concat([savedShard, Buffer.alloc(delta)]);
        fs.writeFileSync(path.join(modelDir, 'weights.bin'), shard);
        const { error } = await load();
        expect(error?.message).toContain(`must hold ${savedShard.length} bytes as the manifest says; got ${shard.length}`);
      }),
      fuzzParams(40),
    );
  });

  it('manifest shapes: wrong, huge or malformed shapes are refused before any allocation', async () => {
    const dims = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(1e9, 2 ** 31, 2 ** 53, -1, 1.5), wrongType);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.array(dims, { maxLength: 4 }), async (index, shape) => {
        const json = readJson();
        const spec = json.weightsManifest[0].weights[index];
        fc.pre(JSON.stringify(shape) !== JSON.stringify(spec.shape));
        spec.shape = shape;
        writeJson(json);
        const { error } = await load();
        expect(error).toBeDefined();
      }),
      fuzzParams(80),
    );
  });

  it('topology sizes: a layer asking for more weights than the files hold is refused before allocating', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 2 ** 40 }), async (layer, units) => {
        const json = readJson();
        const config = json.modelTopology.config.layers[layer].config;
        fc.pre(units !== config.units);
        config.units = units;
        writeJson(json);
        const { error } = await load();
        expect(error).toBeDefined();
        expect(error?.message).toMatch(/asks for weight 'kernel(_loc)?' of shape \[(4|6), \d+\], but its weight files hold shape \[/);
      }),
      fuzzParams(40),
    );
  });

  it('layer classes: an unregistered class is refused by name, even one named like an Object member', async () => {
    const registered = serialization.SerializationMap.getMap().classNameMap;
    const className = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty', 'EvilLayer'));
    await fc.assert(
      fc.asyncProperty(className, async (name) => {
        fc.pre(!Object.prototype.hasOwnProperty.call(registered, name));
        const json = readJson();
        json.modelTopology.config.layers[1].class_name = name;
        writeJson(json);
        const { error } = await load();
        expect(error?.message).toContain(`uses unknown layer classes ['${name}']`);
      }),
      fuzzParams(40),
    );
  });

  it('damaged model.json: any truncation is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: savedJson.length - 1 }), async (length) => {
        writeJson(savedJson.slice(0, length));
        const { error } = await load();
        expect(error?.message).toMatch(/must be valid JSON|must hold a tfjs layers model/);
      }),
      fuzzParams(40),
    );
  });
});
