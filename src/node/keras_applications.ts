import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataError } from '../errors';
import { invalidArgument } from '../validation';

/**
 * The ImageNet weights of the Keras Applications, fetched on demand from the address Keras itself
 * uses and kept in a per-user cache under Keras' own file names (a file from ~/.keras/models can be
 * copied in). A file already in the cache is used with no network.
 */

/** Where Keras downloads its Applications weights (keras/src/applications/*.py). */
export const KERAS_APPLICATIONS_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/';
/** Moves the cache (default ~/.cache/tfjs-trust); the weights go in its `models` folder. */
export const CACHE_ENV = 'TFJS_TRUST_CACHE';
/** Replaces KERAS_APPLICATIONS_URL with a mirror holding the same folders and files. */
export const WEIGHTS_URL_ENV = 'TFJS_TRUST_WEIGHTS_URL';

/** One downloadable weight file: its Keras name, address and Keras' published MD5 (null where Keras publishes none). */
export interface WeightFileSpec {
  file: string;
  url: string;
  md5: string | null;
}

/** The architectures with ImageNet weights here, each with its Keras notop file. */
export const IMAGENET_ARCHITECTURES = ['vgg16', 'resnet50', 'mobilenetv2'] as const;
/** An architecture with ImageNet weights (see IMAGENET_ARCHITECTURES). */
export type ImagenetArchitecture = (typeof IMAGENET_ARCHITECTURES)[number];

/** Widths Keras publishes MobileNetV2 weights for (keras/src/applications/mobilenet_v2.py). */
export const MOBILENET_V2_ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4] as const;
/** Input sizes Keras publishes MobileNetV2 weights for; others take the 224 file. */
export const MOBILENET_V2_ROWS = [96, 128, 160, 192, 224] as const;

/**
 * The notop file of `arch` as Keras names, places and hashes it. MobileNetV2 has one file per
 * width and training resolution; like Keras, an image size without its own file takes the 224 one.
 */
export function imagenetWeightSpec(arch: ImagenetArchitecture, { alpha = 1.0, imageSize = 224 } = {}): WeightFileSpec {
  const base = process.env[WEIGHTS_URL_ENV] || KERAS_APPLICATIONS_URL;
  const at = (folder: string, file: string) => `${base.replace(/\/?$/, '/')}${folder}/${file}`;
  if (arch === 'vgg16') {
    const file = 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5';
    return { file, url: at('vgg16', file), md5: '6d6bbae143d832006294945121d1f1fc' };
  }
  if (arch === 'resnet50') {
    const file = 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5';
    return { file, url: at('resnet', file), md5: '4d473c1dd8becc155b73f8504c6f6626' };
  }
  if (!(MOBILENET_V2_ALPHAS as readonly number[]).includes(alpha)) {
    invalidArgument('mobilenetV2', 'alpha', `one of ${MOBILENET_V2_ALPHAS.join(', ')} with ImageNet weights (the widths Keras publishes)`, alpha, 'Use one of them, or give your own --weights file.');
  }
  const rows = (MOBILENET_V2_ROWS as readonly number[]).includes(imageSize) ? imageSize : 224;
  // Keras formats the width with Python's float(): 1.0, 0.35, 0.5.
  const width = Number.isInteger(alpha) ? alpha.toFixed(1) : String(alpha);
  const file = `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${width}_${rows}_no_top.h5`;
  return { file, url: at('mobilenet_v2', file), md5: null };
}

/** The folder of cached weight files: $TFJS_TRUST_CACHE/models, or ~/.cache/tfjs-trust/models. */
export function weightsCacheDir(): string {
  return path.join(process.env[CACHE_ENV] || path.join(os.homedir(), '.cache', 'tfjs-trust'), 'models');
}

/** Options of `cachedWeightFile`. */
export interface CachedWeightFileOptions {
  /** Default `weightsCacheDir()`. */
  cacheDir?: string;
  /** Called as bytes arrive (total null when the server does not say). Default: a progress line on stderr. */
  onProgress?: (received: number, total: number | null) => void;
}

/**
 * The path of `spec.file` in the cache, downloaded first when absent. The transfer goes to a
 * temporary file, is checked (length, MD5) and only then renamed into place, so an interrupted or
 * corrupted transfer never leaves a file where a whole one is expected.
 */
export async function cachedWeightFile(spec: WeightFileSpec, options: CachedWeightFileOptions = {}): Promise<string> {
  const dir = options.cacheDir ?? weightsCacheDir();
  const target = path.join(dir, spec.file);
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(dir, { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  try {
    await download(spec, partial, target, options.onProgress ?? stderrProgress(spec.file));
    fs.renameSync(partial, target);
    return target;
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

async function download(spec: WeightFileSpec, partial: string, target: string, onProgress: (received: number, total: number | null) => void): Promise<void> {
  const byHand = `Download it on a networked machine and put it at ${target} (or set ${CACHE_ENV}).`;
  let response: Response;
  try {
    response = await fetch(spec.url);
  } catch (error) {
    throw new DataError(`cachedWeightFile: cannot reach ${spec.url} (${causeOf(error)}). ${byHand}`);
  }
  if (!response.ok || !response.body) {
    throw new DataError(`cachedWeightFile: ${spec.url} answered HTTP ${response.status}; expected the weight file. ${byHand}`);
  }
  const header = Number(response.headers.get('content-length'));
  const total = Number.isFinite(header) && header > 0 ? header : null;
  const hash = createHash('md5');
  const out = fs.openSync(partial, 'w');
  let received = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      fs.writeSync(out, chunk);
      hash.update(chunk);
      received += chunk.byteLength;
      onProgress(received, total);
    }
    fs.fsyncSync(out);
  } catch (error) {
    throw new DataError(`cachedWeightFile: the transfer of ${spec.url} broke after ${received} bytes (${causeOf(error)}); nothing was kept. Run again, or: ${byHand}`);
  } finally {
    fs.closeSync(out);
  }
  if (total !== null && received !== total) {
    throw new DataError(`cachedWeightFile: the transfer of ${spec.url} ended after ${received} of ${total} bytes; nothing was kept. Run again, or: ${byHand}`);
  }
  const md5 = hash.digest('hex');
  if (spec.md5 !== null && md5 !== spec.md5) {
    throw new DataError(`cachedWeightFile: ${spec.url} must have Keras' MD5 ${spec.md5}; the downloaded file has ${md5}, so it was refused. Check ${WEIGHTS_URL_ENV} or the network, or: ${byHand}`);
  }
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** A progress line on stderr, redrawn on a terminal and every 10 % otherwise. */
function stderrProgress(file: string): (received: number, total: number | null) => void {
  let shown = -1;
  return (received, total) => {
    if (total === null) return;
    const megabytes = (received / 2 ** 20).toFixed(1);
    const percent = Math.floor((100 * received) / total);
    if (process.stderr.isTTY) {
      process.stderr.write(`\rdownloading ${file}: ${megabytes} of ${(total / 2 ** 20).toFixed(1)} MB (${percent} %)${received === total ? '\n' : ''}`);
    } else if (Math.floor(percent / 10) > shown) {
      shown = Math.floor(percent / 10);
      process.stderr.write(`downloading ${file}: ${percent} % of ${(total / 2 ** 20).toFixed(1)} MB\n`);
    }
  };
}
