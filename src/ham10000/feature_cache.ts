import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { writeFileAtomic } from '../node/model_io';
import type { DataProblem, LesionRecord } from './dataset';
import { loadImages } from './images';
import { preprocessImages, type Preprocessing } from './preprocess';
import { checkOptions, optionKeys } from '../validation';

/**
 * The frozen part of the network, computed once per image. A frozen layer never changes, so its
 * output for an image is the same every epoch: caching it makes each epoch after the first cost
 * only the trainable layers. Rows live in memory or, for big sets (VGG16 block4 features are
 * 1.6 MB an image at 224 px), in a file on disk that a later run (or `--resume`) reuses.
 */
export class FeatureCache {
  private constructor(
    /** Shape of one row (one image's features). */
    readonly featureShape: number[],
    /** The images that loaded, aligned with the rows. */
    readonly records: LesionRecord[],
    private readonly readRow: (index: number, into: Float32Array, offset: number) => void,
    private readonly close: () => void,
  ) {}

  get count(): number {
    return this.records.length;
  }

  get labels(): number[] {
    return this.records.map((record) => record.label);
  }

  /** The rows `indices` as one tensor [indices.length, ...featureShape]; the caller disposes it. */
  batch(indices: readonly number[]): tf.Tensor {
    const rowSize = sizeOf(this.featureShape);
    const values = new Float32Array(indices.length * rowSize);
    indices.forEach((index, position) => this.readRow(index, values, position * rowSize));
    return tf.tensor(values, [indices.length, ...this.featureShape], 'float32');
  }

  /** Releases the rows' storage (closes the file of an on-disk cache). */
  dispose(): void {
    this.close();
  }

  /** A cache over rows held in memory. */
  static inMemory(featureShape: number[], records: LesionRecord[], rows: Float32Array[]): FeatureCache {
    return new FeatureCache(featureShape, records, (index, into, offset) => into.set(rows[index], offset), () => undefined);
  }

  /** A cache over a file of float32 rows, read row by row. */
  static onDisk(featureShape: number[], records: LesionRecord[], file: string): FeatureCache {
    const fd = fs.openSync(file, 'r');
    const rowBytes = sizeOf(featureShape) * Float32Array.BYTES_PER_ELEMENT;
    const read = (index: number, into: Float32Array, offset: number): void => {
      fs.readSync(fd, new Uint8Array(into.buffer, into.byteOffset + offset * 4, rowBytes), 0, rowBytes, index * rowBytes);
    };
    return new FeatureCache(featureShape, records, read, () => fs.closeSync(fd));
  }
}

/** Options of `buildFeatureCache`: which images, through which frozen part, stored where. */
export interface BuildFeatureCacheOptions {
  /** The images to cache; those that fail to load are left out and reported. */
  records: readonly LesionRecord[];
  /** Image → features; null when nothing is frozen (the cache then holds the preprocessed images). */
  frozen: tfl.LayersModel | null;
  /** Side of the square input image in pixels. */
  imageSize: number;
  /** How pixels become the model's input (the base's). Default 'caffe'. */
  preprocessing?: Preprocessing;
  /** Store the rows in this file (and reuse it when it was written for the same images); memory when absent. */
  file?: string;
  /** Images decoded and passed through the frozen part at once. Default 32. */
  chunkSize?: number;
  /** Called after each chunk with the images processed so far (for a progress bar). */
  onProgress?: (done: number, total: number) => void;
  /** Called for each image that fails, as it fails. */
  onProblem?: (problem: DataProblem) => void;
}

const BUILD_FEATURE_CACHE_OPTIONS = optionKeys<BuildFeatureCacheOptions>({
  records: true, frozen: true, imageSize: true, preprocessing: true, file: true, chunkSize: true, onProgress: true, onProblem: true,
});

/** Runs every image through the frozen part once, in chunks, and keeps the rows (memory or disk). */
export async function buildFeatureCache(given: BuildFeatureCacheOptions): Promise<{ cache: FeatureCache; problems: DataProblem[] }> {
  const options = checkOptions('buildFeatureCache', given, BUILD_FEATURE_CACHE_OPTIONS);
  const { records, frozen, imageSize, file, chunkSize = 32 } = options;
  const key = records.map((record) => record.imageId).join(',');
  const reused = file ? reuseDiskCache(file, key, records) : null;
  if (reused) return { cache: reused, problems: [] };

  const kept: LesionRecord[] = [];
  const rows: Float32Array[] = [];
  const problems: DataProblem[] = [];
  const out = file ? fs.openSync(`${file}.partial`, 'w') : null;
  let featureShape: number[] = [];
  try {
    for (let start = 0; start < records.length; start += chunkSize) {
      const chunk = records.slice(start, start + chunkSize);
      const loaded = await loadImages(chunk, { height: imageSize, width: imageSize, onProblem: options.onProblem });
      problems.push(...loaded.problems);
      const features = tf.tidy(() => {
        const input = preprocessImages(loaded.images, options.preprocessing ?? 'caffe');
        return frozen ? (frozen.predict(input) as tf.Tensor) : input;
      });
      loaded.images.dispose();
      featureShape = features.shape.slice(1);
      const values = features.dataSync() as Float32Array;
      features.dispose();
      if (out !== null) fs.writeSync(out, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      else loaded.records.forEach((_, i) => rows.push(values.slice(i * sizeOf(featureShape), (i + 1) * sizeOf(featureShape))));
      kept.push(...loaded.records);
      options.onProgress?.(Math.min(start + chunkSize, records.length), records.length);
    }
  } finally {
    if (out !== null) fs.closeSync(out);
  }
  if (!file) return { cache: FeatureCache.inMemory(featureShape, kept, rows), problems };
  // The rows file is complete before its description exists: a crash leaves no usable half-cache.
  fs.renameSync(`${file}.partial`, file);
  writeFileAtomic(`${file}.json`, JSON.stringify({ key, featureShape, kept: kept.map((record) => record.imageId) }));
  return { cache: FeatureCache.onDisk(featureShape, kept, file), problems };
}

function reuseDiskCache(file: string, key: string, records: readonly LesionRecord[]): FeatureCache | null {
  if (!fs.existsSync(file) || !fs.existsSync(`${file}.json`)) return null;
  const meta = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as { key: string; featureShape: number[]; kept: string[] };
  const byId = new Map(records.map((record) => [record.imageId, record]));
  const kept = meta.kept.map((id) => byId.get(id));
  const expectedBytes = meta.kept.length * sizeOf(meta.featureShape) * Float32Array.BYTES_PER_ELEMENT;
  if (meta.key !== key || kept.some((record) => !record) || fs.statSync(file).size !== expectedBytes) return null;
  return FeatureCache.onDisk(meta.featureShape, kept as LesionRecord[], file);
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((product, d) => product * d, 1);
}
