/**
 * Reading the weight files Keras writes, from bytes, in Node and in browsers alike:
 *
 *  - legacy HDF5 (tf-keras, Keras 2): `save_weights('x.h5')` and the Keras Applications files
 *    (root attribute `layer_names`; each layer group's `weight_names` lists its weights in order),
 *    and full models saved as `.h5` (the same under the group `model_weights`);
 *  - Keras 3 `.weights.h5`: `layers/<class-based name>/vars/<i>`, the group `vars` carrying the
 *    layer's name in its `name` attribute (nested models nest `layers/…/layers/…`);
 *  - Keras 3 `.keras`: a zip holding `model.weights.h5` (as above) and `config.json`.
 *
 * HDF5 is read by h5wasm (the HDF5 C library compiled to WebAssembly), zips by fflate: both are
 * loaded on first use, so importing the library costs nothing for users who never read a Keras file.
 */
import { DataError } from '../errors';

/** How a file was written: which of the three Keras layouts. */
export type KerasWeightFormat = 'legacy-h5' | 'keras3-h5' | 'keras';

/** One weight as stored: its Keras name, shape and values (float32, row-major). */
export interface KerasWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** A layer's weights, in the order Keras created them (kernel before bias, gamma … moving_variance). */
export interface KerasLayerWeights {
  layer: string;
  weights: KerasWeight[];
}

/** What a Keras weight file holds: plain arrays, no tensors (nothing to dispose). */
export interface KerasWeightFile {
  format: KerasWeightFormat;
  /** Only layers that have weights, in file order. */
  layers: KerasLayerWeights[];
}

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** The weights inside a Keras 3 `.keras` zip, and the architecture beside them. */
const KERAS_ZIP_WEIGHTS = 'model.weights.h5';
const KERAS_ZIP_CONFIG = 'config.json';

type H5 = typeof import('h5wasm');
type Group = InstanceType<H5['Group']>;
let h5Module: Promise<H5> | null = null;
let fileCounter = 0;

/**
 * Reads a Keras weight file (`.h5`, `.weights.h5` or `.keras`) from its bytes; the format is
 * recognised from the content, not the name. `source` names the file in error messages.
 */
export async function readKerasWeights(bytes: Uint8Array | ArrayBuffer, source = 'the Keras file'): Promise<KerasWeightFile> {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (startsWith(data, ZIP_MAGIC)) {
    const { unzipSync } = await import('fflate');
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(data, { filter: (entry) => entry.name === KERAS_ZIP_WEIGHTS || entry.name === KERAS_ZIP_CONFIG });
    } catch (error) {
      throw new DataError(`readKerasWeights: ${source} must be a whole .keras zip; it cannot be unzipped (${(error as Error).message}). Download or save it again.`);
    }
    if (!entries[KERAS_ZIP_WEIGHTS]) {
      throw new DataError(`readKerasWeights: ${source} is a zip without ${KERAS_ZIP_WEIGHTS}; a Keras 3 .keras file holds one. Save the model with Keras 3 model.save('x.keras').`);
    }
    const config = entries[KERAS_ZIP_CONFIG] ? (JSON.parse(new TextDecoder().decode(entries[KERAS_ZIP_CONFIG])) as KerasConfig) : null;
    const inner = await readHdf5(entries[KERAS_ZIP_WEIGHTS], `${source} (${KERAS_ZIP_WEIGHTS})`, config ? layerNamesByPath(config) : new Map());
    return { format: 'keras', layers: inner.layers };
  }
  if (startsWith(data, HDF5_MAGIC)) return readHdf5(data, source);
  throw new DataError(
    `readKerasWeights: ${source} must be a Keras weight file (HDF5 .h5 / .weights.h5, or a .keras zip); its first bytes are neither. ` +
      'Give the file Keras wrote (model.save_weights or model.save), or a tfjs model folder.',
  );
}

function startsWith(data: Uint8Array, magic: number[]): boolean {
  return data.length >= magic.length && magic.every((byte, i) => data[i] === byte);
}

async function readHdf5(data: Uint8Array, source: string, names: Map<string, string> = new Map()): Promise<KerasWeightFile> {
  const h5 = await (h5Module ??= import('h5wasm').then(async (module) => {
    await module.ready;
    return module;
  }));
  // h5wasm reads from its in-memory file system: one uniquely named file per call, removed after.
  const name = `/tfjs-trust-keras-${++fileCounter}.h5`;
  h5.FS!.writeFile(name, data);
  let file: InstanceType<H5['File']> | null = null;
  try {
    file = new h5.File(name, 'r');
    return readLayout(h5, file, source, names);
  } catch (error) {
    if (error instanceof DataError) throw error;
    // HDF5 reads lazily: a truncated file may open, then fail on the first group or attribute past its end.
    throw new DataError(`readKerasWeights: ${source} must be a whole HDF5 file; HDF5 cannot read it (${(error as Error).message}). The file is truncated or damaged: get it again.`);
  } finally {
    file?.close();
    h5.FS!.unlink(name);
  }
}

function readLayout(h5: H5, root: Group, source: string, names: Map<string, string>): KerasWeightFile {
  const modelWeights = root.get('model_weights');
  if (modelWeights instanceof h5.Group) return { format: 'legacy-h5', layers: readLegacy(h5, modelWeights, source) };
  if (attribute(root, 'layer_names') !== null) return { format: 'legacy-h5', layers: readLegacy(h5, root, source) };
  const layers = root.get('layers');
  if (layers instanceof h5.Group) return { format: 'keras3-h5', layers: readKeras3(h5, layers, source, names) };
  throw new DataError(
    `readKerasWeights: ${source} must hold Keras weights (a 'layer_names' attribute, a 'model_weights' group or a 'layers' group); ` +
      `it has ${JSON.stringify(root.keys().slice(0, 5))}. Give a file written by Keras' save_weights or save.`,
  );
}

/**
 * The legacy layout (Keras' `load_weights_from_hdf5_group`): the layers in `layer_names`, each
 * with the datasets named by its `weight_names`, in that order. A group whose weights belong to
 * several layers (`block1_conv1/kernel:0`, `block2_conv1/kernel:0`) is a nested model saved as
 * one layer: its weights are split by the layer each name starts with.
 */
function readLegacy(h5: H5, group: Group, source: string): KerasLayerWeights[] {
  const layers: KerasLayerWeights[] = [];
  for (const layerName of strings(attribute(group, 'layer_names'))) {
    const layerGroup = group.get(layerName);
    if (!(layerGroup instanceof h5.Group)) {
      throw new DataError(`readKerasWeights: ${source} lists layer '${layerName}' in layer_names but has no group for it. The file is damaged: save it again.`);
    }
    const weights = strings(attribute(layerGroup, 'weight_names')).map((weightName) => readDataset(h5, layerGroup, weightName, `${layerName}/${weightName}`, source));
    if (weights.length === 0) continue;
    const owners = [...new Set(weights.map((weight) => ownerOf(weight.name, layerName)))];
    if (owners.length === 1) layers.push({ layer: layerName, weights });
    else owners.forEach((owner) => layers.push({ layer: owner, weights: weights.filter((weight) => ownerOf(weight.name, layerName) === owner) }));
  }
  return layers;
}

/** `vgg16/block1_conv1/kernel:0` → `block1_conv1`: the layer a weight name says it belongs to. */
function ownerOf(weightName: string, group: string): string {
  const parts = weightName.split('/');
  return parts.length >= 2 ? parts[parts.length - 2] : group;
}

/**
 * Keras 3: every `vars` group under `layers/…` is one layer, its weights `0`, `1`, …; the layer's
 * name is the group's `name` attribute or, in files of Keras 3 versions that wrote none, the name
 * `config.json` gives that path (`names`).
 */
function readKeras3(h5: H5, group: Group, source: string, names: Map<string, string>, prefix = 'layers'): KerasLayerWeights[] {
  const layers: KerasLayerWeights[] = [];
  for (const key of group.keys()) {
    const child = group.get(key);
    if (!(child instanceof h5.Group)) continue;
    const path = `${prefix}/${key}`;
    const vars = child.get('vars');
    if (vars instanceof h5.Group && vars.keys().length > 0) {
      const layer = attribute(vars, 'name') ?? names.get(path);
      if (typeof layer !== 'string') {
        throw new DataError(
          `readKerasWeights: ${source} must name the layer of each weight group; '${path}' has no name (older Keras 3 versions did not write them). ` +
            "Load the model's .keras file instead (its config.json names them), or save it again with a current Keras 3.",
        );
      }
      const indices = vars.keys().map(Number).sort((a, b) => a - b);
      layers.push({ layer, weights: indices.map((i) => readDataset(h5, vars, String(i), `${layer}/${i}`, source)) });
    }
    const nested = child.get('layers');
    if (nested instanceof h5.Group) layers.push(...readKeras3(h5, nested, source, names, `${path}/layers`));
  }
  return layers;
}

/** The part of a `.keras` config.json that names layers: a model's layer list, nested models within. */
interface KerasConfig {
  class_name?: string;
  config?: { name?: string; layers?: KerasConfig[] };
}

/**
 * The weight-file path Keras 3 gives each layer of `config` → the layer's name. Keras names the
 * groups after the layer classes, in order, `_1`, `_2` … for repeats (saving_lib's
 * `_save_container_state`, with `naming.to_snake_case`), not after the layers.
 */
function layerNamesByPath(config: KerasConfig, prefix = 'layers', into = new Map<string, string>()): Map<string, string> {
  const used = new Map<string, number>();
  for (const layer of config.config?.layers ?? []) {
    const base = snakeCase(layer.class_name ?? '');
    const count = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, count);
    const path = `${prefix}/${count === 0 ? base : `${base}_${count}`}`;
    if (layer.config?.name !== undefined) into.set(path, layer.config.name);
    layerNamesByPath(layer, `${path}/layers`, into);
  }
  return into;
}

/** Keras' `naming.to_snake_case`: `Conv2D` → `conv2d`, `BatchNormalization` → `batch_normalization`, `ReLU` → `re_lu`. */
function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

function readDataset(h5: H5, group: Group, path: string, name: string, source: string): KerasWeight {
  const dataset = group.get(path);
  const value = dataset instanceof h5.Dataset ? dataset.value : null;
  if (!(dataset instanceof h5.Dataset) || !ArrayBuffer.isView(value) || value instanceof BigInt64Array || value instanceof BigUint64Array) {
    throw new DataError(`readKerasWeights: weight '${name}' in ${source} must be a numeric dataset; it is missing or not numeric. The file is damaged: save it again.`);
  }
  return { name, shape: dataset.shape ?? [], values: value instanceof Float32Array ? value : Float32Array.from(value as ArrayLike<number>) };
}

function attribute(group: Group, name: string): unknown {
  return name in group.attrs ? group.attrs[name].value : null;
}

/** HDF5 string-array attributes come back as a string, an array of strings, or an empty numeric array. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map(String);
  return [];
}
