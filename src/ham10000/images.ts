/**
 * Image decoding for the HAM10000 pipeline: files to RGB tensors and masks, with sharp (libvips),
 * which decodes and resizes a 600×450 dermoscopy JPEG in a few milliseconds off the main thread.
 */
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import sharp, { type Sharp } from 'sharp';
import { DataError } from '../errors';
import { checkNumber, checkOneOf, checkOptions, optionKeys } from '../validation';
import type { DataProblem, LesionRecord } from './dataset';

/** How an image meets the target size: 'fill' stretches (as Keras' image loaders do), 'cover' crops the centre. */
export const FITS = ['fill', 'cover'] as const;

/** The size images are brought to, and how (see FITS). */
export interface ImageSize {
  height: number;
  width: number;
  /** Default 'fill'. */
  fit?: (typeof FITS)[number];
}

const RGB = 3;
const MASK_THRESHOLD = 127;

/** Decodes an image to RGB float32 values in 0..255, shape [height, width, 3]; DataError naming the file if unusable. */
export async function readImage(path: string, options: ImageSize): Promise<tf.Tensor3D> {
  const { height, width } = checkSize('readImage', options);
  return tf.tensor3d(Float32Array.from(await decodeRgb('readImage', path, options)), [height, width, RGB], 'float32');
}

/** Decodes a segmentation mask to 0/1 float32 values, shape [height, width] (nearest-neighbour resize keeps it binary). */
export async function readMask(path: string, options: ImageSize): Promise<tf.Tensor2D> {
  const { height, width, fit } = checkSize('readMask', options);
  const pixels = await decode('readMask', path, (image) =>
    image.toColourspace('b-w').resize(width, height, { fit, kernel: 'nearest' }),
  );
  return tf.tensor2d(Float32Array.from(pixels, (value) => (value > MASK_THRESHOLD ? 1 : 0)), [height, width], 'float32');
}

/** Options of `loadImages`: the target size, problem reporting and how many images decode at once. */
export interface LoadImagesOptions extends ImageSize {
  /** Called for each image that fails, as it fails (for progress output). */
  onProblem?: (problem: DataProblem) => void;
  /** Images decoded at once. Default 8: sharp decodes on libuv's thread pool, so a few in flight keep the cores busy. */
  concurrency?: number;
}

/** What `loadImages` returns: one batch of the images that decoded, and the problems of the rest. */
export interface LoadedImages {
  /** [loaded, height, width, 3], RGB float32 in 0..255. The caller disposes it. */
  images: tf.Tensor4D;
  /** The class index of each loaded image. */
  labels: number[];
  /** The records whose image loaded, in the given order (aligned with `images` and `labels`). */
  records: LesionRecord[];
  /** One per image that was missing or could not be decoded; those records are left out. */
  problems: DataProblem[];
}

/**
 * Decodes the records' images into one batch tensor. A missing or corrupt file is reported (with
 * the file and the CSV line) and skipped, never fatal. Pixels are written straight into the
 * batch's buffer: all 6,989 shared images at 128×128 take 1.4 GB as float32, twice that if each
 * image were a tensor first.
 */
export async function loadImages(records: readonly LesionRecord[], options: LoadImagesOptions): Promise<LoadedImages> {
  const { height, width } = checkSize('loadImages', options, LOAD_IMAGES_OPTIONS);
  const concurrency = checkNumber('loadImages', 'options.concurrency', options.concurrency ?? 8, { min: 1, integer: true });
  const pixelsPerImage = height * width * RGB;
  const buffer = new Float32Array(records.length * pixelsPerImage);
  const loaded = new Array<boolean>(records.length).fill(false);
  const problems: DataProblem[] = [];

  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < records.length; index = next++) {
      const record = records[index];
      try {
        buffer.set(await decodeRgb('loadImages', record.imagePath, options), index * pixelsPerImage);
        loaded[index] = true;
      } catch (error) {
        const problem = toProblem(error, record);
        problems.push(problem);
        options.onProblem?.(problem);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, records.length) }, worker));

  const keep = records.map((_, index) => index).filter((index) => loaded[index]);
  let packed = 0;
  for (const index of keep) {
    if (index !== packed) buffer.copyWithin(packed * pixelsPerImage, index * pixelsPerImage, (index + 1) * pixelsPerImage);
    packed += 1;
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return {
    images: tf.tensor4d(buffer.subarray(0, keep.length * pixelsPerImage), [keep.length, height, width, RGB], 'float32'),
    labels: keep.map((index) => records[index].label),
    records: keep.map((index) => records[index]),
    problems,
  };
}

/** Raised for a file that does not exist, so loadImages can tell missing from corrupt. */
class MissingFileError extends DataError {}

function toProblem(error: unknown, record: LesionRecord): DataProblem {
  const kind = error instanceof MissingFileError ? 'missingImage' : 'corruptImage';
  const message = error instanceof Error ? error.message : String(error);
  return { kind, file: record.imagePath, line: record.line, message };
}

const IMAGE_SIZE_KEYS = { height: true, width: true, fit: true } as const;
const IMAGE_SIZE_OPTIONS = optionKeys<ImageSize>(IMAGE_SIZE_KEYS);
const LOAD_IMAGES_OPTIONS = optionKeys<LoadImagesOptions>({ ...IMAGE_SIZE_KEYS, onProblem: true, concurrency: true });

/** Checks the size options (and refuses unknown keys among `known`, by default those of ImageSize). */
function checkSize(who: string, options: ImageSize, known: readonly string[] = IMAGE_SIZE_OPTIONS): Required<ImageSize> {
  if (options !== undefined) checkOptions(who, options, known);
  return {
    height: checkNumber(who, 'options.height', options?.height, { min: 1, integer: true }),
    width: checkNumber(who, 'options.width', options?.width, { min: 1, integer: true }),
    fit: checkOneOf(who, 'options.fit', options?.fit ?? 'fill', FITS),
  };
}

function decodeRgb(who: string, path: string, size: ImageSize): Promise<Uint8Array> {
  const { height, width, fit = 'fill' } = size;
  // Greyscale or CMYK files and PNGs with alpha all come out as 3-channel sRGB.
  return decode(who, path, (image) => image.removeAlpha().toColourspace('srgb').resize(width, height, { fit }));
}

/** Reads a file and runs a sharp pipeline to raw 8-bit pixels; every failure becomes a DataError naming the file. */
async function decode(who: string, path: string, pipeline: (image: Sharp) => Sharp): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const Error = code === 'ENOENT' ? MissingFileError : DataError;
    throw new Error(`${who}: cannot read ${path} (${code ?? (error as Error).message}). Restore the file or drop its row from the metadata.`);
  }
  try {
    // failOn 'truncated': a half-written JPEG is an error, not an image with a grey bottom.
    const { data } = await pipeline(sharp(bytes, { failOn: 'truncated' })).raw().toBuffer({ resolveWithObject: true });
    return data;
  } catch (error) {
    throw new DataError(
      `${who}: cannot decode ${path}: ${(error as Error).message.split('\n')[0]}. The file is corrupt or not an image; re-download it or drop its row from the metadata.`,
    );
  }
}
