import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../errors';
import { describe } from '../validation';

/**
 * Node file IO for tfjs layers-format models (model.json + binary weight shards) without
 * tfjs-node. Model files may come from someone else, so loading trusts nothing: weight paths must
 * stay inside the model's folder, shard sizes must match the manifest before a byte is decoded,
 * and every layer class must be known. Writes are atomic (temp file, fsync, rename), so a crash
 * leaves either the old file or the new one, never half of one.
 */

export const MODEL_JSON = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

/** Bytes per element of each dtype tfjs stores in a shard; quantised weights use their own width. */
const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * Writes `data` to `file` atomically: a temp file in the same folder, flushed to disk, then renamed
 * over the target (rename is atomic within one file system).
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(temp, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
}

/** Saves `model` into folder `dir` (created if needed) as model.json + weights.bin. */
export async function saveModel(model: tfl.LayersModel, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0));
      // The shard first: model.json, written last, is what makes the new weights visible.
      writeFileAtomic(path.join(dir, WEIGHTS_FILE), new Uint8Array(weightData));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** The loads in flight, chained: `limitWeightAllocation` patches a prototype that every load shares. */
let loading: Promise<unknown> = Promise.resolve();

/**
 * Loads a layers model saved by `saveModel` or by tensorflowjs_converter from a folder or its
 * model.json. Concurrent calls are safe: they run one after the other.
 */
export function loadModel(location: string): Promise<tfl.LayersModel> {
  const result = loading.then(() => loadModelNow(location));
  loading = result.catch(() => undefined);
  return result;
}

async function loadModelNow(location: string): Promise<tfl.LayersModel> {
  const artifacts = readModelArtifacts(location);
  const { created, restore } = limitWeightAllocation(location, artifacts.weightSpecs ?? []);
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    created.forEach((variable) => variable.dispose());
    if (error instanceof DataError) throw error;
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new DataError(`loadModel: ${location} does not load (${reason}). Its topology and weights do not match: re-save the model.`);
  } finally {
    restore();
  }
}

type AddWeight = (this: tfl.layers.Layer, name: string, shape: tfl.Shape, ...rest: unknown[]) => tfl.LayerVariable;

/**
 * tfjs allocates every weight of a topology (as zeros) before it compares them with the file, so
 * a hostile `units: 1e9` would exhaust memory first, and a mismatch found later leaks tfjs's
 * decoded weights. Until `restore` is called, a layer may create neither a weight whose manifest
 * entry (`layer/weight`) has another shape, nor more values in total than the files hold;
 * `created` lists the weights made, for disposal when the load fails.
 */
function limitWeightAllocation(
  location: string,
  specs: tf.io.WeightsManifestEntry[],
): { created: tfl.LayerVariable[]; restore: () => void } {
  const size = (shape: readonly (number | null)[]) => shape.reduce((product: number, d) => product * (d ?? 1), 1);
  const values = specs.reduce((sum, spec) => sum + size(spec.shape), 0);
  const shapes = new Map(specs.map((spec) => [spec.name, JSON.stringify(spec.shape)]));
  const layerPrototype = tfl.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const addWeight = layerPrototype.addWeight;
  const created: tfl.LayerVariable[] = [];
  let left = values;
  layerPrototype.addWeight = function (name, shape, ...rest) {
    const stored = shapes.get(`${this.name}/${name}`);
    if ((stored !== undefined && stored !== JSON.stringify(shape)) || size(shape) > left) {
      throw new DataError(
        `loadModel: layer '${this.name}' of ${location} asks for weight '${name}' of shape ${describe(shape)}, ` +
          `but its weight files hold ${stored ? `shape ${stored}` : `${values} values in all`}. ` +
          'The topology does not match the weights: do not load this model.',
      );
    }
    left -= size(shape);
    const variable = addWeight.call(this, name, shape, ...rest);
    created.push(variable);
    return variable;
  };
  return { created, restore: () => (layerPrototype.addWeight = addWeight) };
}

/**
 * Reads and checks a layers-format model: topology, weight specs and the weight bytes (all shards
 * joined). Throws a DataError naming the file and the fix for anything untrustworthy.
 */
export function readModelArtifacts(location: string): tf.io.ModelArtifacts {
  const jsonPath = resolveModelJson(location);
  const dir = path.dirname(jsonPath);
  const modelJson = parseModelJson(jsonPath);
  if (modelJson.modelTopology) checkLayerClasses(jsonPath, modelJson.modelTopology);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of modelJson.weightsManifest ?? []) {
    const files = group.paths.map((relative) => resolveInside(jsonPath, dir, relative));
    checkGroupSize(jsonPath, group, files);
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
    weightSpecs.push(...group.weights);
  }
  return {
    modelTopology: modelJson.modelTopology,
    weightSpecs,
    weightData: tf.io.CompositeArrayBuffer.join(buffers),
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
  };
}

function resolveModelJson(location: string): string {
  const jsonPath = fs.existsSync(location) && fs.statSync(location).isDirectory() ? path.join(location, MODEL_JSON) : location;
  if (!fs.existsSync(jsonPath)) {
    throw new DataError(
      `readModelArtifacts: location must be a model folder or its ${MODEL_JSON}; got '${location}', where no ${MODEL_JSON} exists. ` +
        'Check the path, or train a model first.',
    );
  }
  return jsonPath;
}

function parseModelJson(jsonPath: string): tf.io.ModelJSON {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (error) {
    throw new DataError(`readModelArtifacts: ${jsonPath} must be valid JSON; got ${(error as Error).message}. Re-save the model.`);
  }
  const manifest = (parsed as { weightsManifest?: unknown })?.weightsManifest;
  const groupsOk =
    manifest === undefined ||
    (Array.isArray(manifest) &&
      manifest.every((g) => Array.isArray(g?.paths) && g.paths.every((p: unknown) => typeof p === 'string') && Array.isArray(g?.weights)));
  if (typeof parsed !== 'object' || parsed === null || !groupsOk) {
    throw new DataError(
      `readModelArtifacts: ${jsonPath} must hold a tfjs layers model (modelTopology and weightsManifest groups of paths and weights); ` +
        'got something else. Convert the model with tensorflowjs_converter --output_format tfjs_layers_model.',
    );
  }
  return parsed as tf.io.ModelJSON;
}

/** A shard path is relative, stays in the model's folder, and is not a link that leads out of it. */
function resolveInside(jsonPath: string, dir: string, relative: string): string {
  const refuse = (why: string): never => {
    throw new DataError(
      `readModelArtifacts: weight path '${relative}' in ${jsonPath} ${why}; weight files must lie inside the model's folder. ` +
        'Do not load this model, or move its shards next to model.json and fix the paths.',
    );
  };
  if (path.isAbsolute(relative) || /^[a-z][a-z0-9+.-]*:/i.test(relative)) refuse('is absolute');
  const resolved = path.resolve(dir, relative);
  if (!isInside(path.resolve(dir), resolved)) refuse('leaves the folder');
  if (!fs.existsSync(resolved)) {
    throw new DataError(`readModelArtifacts: weight file '${relative}' named in ${jsonPath} is missing. Copy the whole model folder.`);
  }
  const real = fs.realpathSync(resolved);
  if (!isInside(fs.realpathSync(dir), real)) refuse(`is a link to ${real}, outside the folder`);
  return resolved;
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return !path.isAbsolute(relative) && !relative.split(path.sep).includes('..');
}

/** Compares the bytes the manifest promises with the bytes on disk, before reading any shard. */
function checkGroupSize(jsonPath: string, group: tf.io.WeightsManifestConfig[number], files: string[]): void {
  let expected = 0;
  for (const spec of group.weights) expected += weightByteLength(jsonPath, spec);
  const actual = files.reduce((sum, file) => sum + fs.statSync(file).size, 0);
  if (actual !== expected) {
    throw new DataError(
      `readModelArtifacts: weight files ${describe(group.paths)} of ${jsonPath} must hold ${expected} bytes as the manifest says; ` +
        `got ${actual}. The files are truncated or do not belong to this model: copy them again.`,
    );
  }
}

function weightByteLength(jsonPath: string, spec: tf.io.WeightsManifestEntry): number {
  const shapeOk = Array.isArray(spec.shape) && spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  const width = BYTES_PER_ELEMENT[spec.quantization?.dtype ?? spec.dtype];
  if (!shapeOk || width === undefined) {
    throw new DataError(
      `readModelArtifacts: weight '${spec.name}' in ${jsonPath} must have a shape of non-negative integers and a numeric dtype; ` +
        `got shape ${describe(spec.shape)}, dtype ${describe(spec.dtype)}. The model file is damaged.`,
    );
  }
  const bytes = spec.shape.reduce((product, d) => product * d, 1) * width;
  if (!Number.isSafeInteger(bytes)) {
    throw new DataError(`readModelArtifacts: weight '${spec.name}' in ${jsonPath} has an impossible size (shape ${describe(spec.shape)}). The model file is damaged.`);
  }
  return bytes;
}

/** Every `class_name` of the topology must be a registered class, or tfjs would fail obscurely later. */
function checkLayerClasses(jsonPath: string, topology: object): void {
  const known = serialization.SerializationMap.getMap().classNameMap;
  const unknown = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      const config = record.config;
      const className = record.class_name;
      const isLayer = typeof className === 'string' && typeof config === 'object' && config !== null && 'name' in config;
      // Own keys only: a class named 'constructor' must not pass as Object.prototype's member.
      if (isLayer && !Object.prototype.hasOwnProperty.call(known, className)) unknown.add(className);
      Object.values(record).forEach(visit);
    }
  };
  visit((topology as { model_config?: unknown }).model_config ?? topology);
  if (unknown.size > 0) {
    throw new DataError(
      `readModelArtifacts: ${jsonPath} uses unknown layer classes ${describe([...unknown])}. ` +
        "Import the module that registers them (e.g. 'tfjs-trust' for DenseFlipout) before loading.",
    );
  }
}
