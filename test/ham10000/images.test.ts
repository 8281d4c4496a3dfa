import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { LesionRecord } from '../../src/ham10000/dataset';
import { loadImages, readImage, readMask } from '../../src/ham10000/images';
import { expectNoLeaks } from '../helpers';
import { cleanup, fakeRecords, tempDir } from './data_fixtures';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('images');
});
afterAll(() => cleanup(dir));

/** Writes raw pixels as a lossless PNG and returns its path. */
async function png(name: string, pixels: number[], width: number, height: number, channels: 1 | 3 | 4): Promise<string> {
  const file = path.join(dir, name);
  await sharp(Buffer.from(pixels), { raw: { width, height, channels } }).png().toFile(file);
  return file;
}

/** A solid-colour image of the given size. */
function solid(rgb: number[], width: number, height: number): number[] {
  return Array.from({ length: width * height }, () => rgb).flat();
}

describe('readImage', () => {
  it('returns the exact RGB values of a lossless file, as float32 [height, width, 3]', async () => {
    const pixels = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90];
    const file = await png('exact.png', pixels, 3, 2, 3);
    await expectNoLeaks(async () => {
      const image = await readImage(file, { height: 2, width: 3 });
      expect(image.shape).toEqual([2, 3, 3]);
      expect(image.dtype).toBe('float32');
      expect(Array.from(image.dataSync())).toEqual(pixels);
      return image;
    });
  });

  it('resizes, and turns greyscale and RGBA files into RGB', async () => {
    const colour = await png('colour.png', solid([200, 100, 50], 40, 30), 40, 30, 3);
    const grey = await png('grey.png', solid([77], 5, 5), 5, 5, 1);
    const rgba = await png('rgba.png', solid([1, 2, 3, 128], 4, 4), 4, 4, 4);
    const resized = await readImage(colour, { height: 8, width: 6 });
    expect(resized.shape).toEqual([8, 6, 3]);
    expect(Array.from(resized.dataSync())).toEqual(solid([200, 100, 50], 6, 8));
    const fromGrey = await readImage(grey, { height: 5, width: 5 });
    expect(Array.from(fromGrey.dataSync())).toEqual(solid([77, 77, 77], 5, 5));
    const fromRgba = await readImage(rgba, { height: 4, width: 4 });
    expect(Array.from(fromRgba.dataSync())).toEqual(solid([1, 2, 3], 4, 4));
    tf.dispose([resized, fromGrey, fromRgba]);
  });

  it("stretches with fit 'fill' and crops the centre with 'cover'", async () => {
    // 40×20: a red band in the left quarter, blue elsewhere. A centred 20×20 crop has no red.
    const pixels = Array.from({ length: 20 }, () => Array.from({ length: 40 }, (_, x) => (x < 10 ? [255, 0, 0] : [0, 0, 255]))).flat(2);
    const file = await png('band.png', pixels, 40, 20, 3);
    const filled = await readImage(file, { height: 20, width: 20 });
    const covered = await readImage(file, { height: 20, width: 20, fit: 'cover' });
    const maxRed = (image: tf.Tensor3D): number => tf.tidy(() => tf.max(tf.slice(image, [0, 0, 0], [-1, -1, 1])).dataSync()[0]);
    expect(maxRed(filled)).toBe(255);
    expect(maxRed(covered)).toBe(0);
    tf.dispose([filled, covered]);
  });

  it('throws a DataError naming the file for a corrupt or a missing file', async () => {
    const corrupt = path.join(dir, 'corrupt.jpg');
    await fs.writeFile(corrupt, 'not a jpeg at all');
    await expect(readImage(corrupt, { height: 4, width: 4 })).rejects.toThrow(
      new RegExp(`^readImage: cannot decode ${corrupt}: .+\\. The file is corrupt or not an image; re-download it or drop its row from the metadata\\.$`),
    );
    const missing = path.join(dir, 'missing.jpg');
    await expect(readImage(missing, { height: 4, width: 4 })).rejects.toThrow(
      `readImage: cannot read ${missing} (ENOENT). Restore the file or drop its row from the metadata.`,
    );
  });

  it('rejects sizes that are not positive integers', async () => {
    await expect(readImage('x.jpg', { height: 0, width: 4 })).rejects.toThrow('readImage: options.height must be an integer >= 1; got 0.');
    await expect(readImage('x.jpg', { height: 4, width: 4, fit: 'contain' as 'fill' })).rejects.toThrow(
      "readImage: options.fit must be one of 'fill', 'cover'; got 'contain'.",
    );
  });
});

describe('readMask', () => {
  it('reads 0/255 as 0/1 and stays binary when resized', async () => {
    const pixels = [0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 255, 255, 255, 255];
    const file = await png('mask.png', pixels, 4, 4, 1);
    await expectNoLeaks(async () => {
      const mask = await readMask(file, { height: 4, width: 4 });
      expect(mask.shape).toEqual([4, 4]);
      expect(Array.from(mask.dataSync())).toEqual(pixels.map((value) => value / 255));
      return mask;
    });
    const small = await readMask(file, { height: 3, width: 3 });
    expect(new Set(small.dataSync())).toEqual(new Set([0, 1]));
    small.dispose();
  });
});

describe('loadImages', () => {
  /** One solid-colour PNG per record, colour = (label·30, index, 200), so the batch can be checked pixel by pixel. */
  async function colouredRecords(count: number): Promise<LesionRecord[]> {
    const records = fakeRecords({ mel: Math.ceil(count / 2), nv: Math.floor(count / 2) }, 1);
    for (const [index, record] of records.entries()) {
      record.imagePath = await png(`r${index}.png`, solid([record.label * 30, index, 200], 6, 4), 6, 4, 3);
    }
    return records;
  }

  it('stacks images aligned with labels and records, the same at any concurrency, without leaks', async () => {
    const records = await colouredRecords(10);
    const serial = await loadImages(records, { height: 4, width: 6, concurrency: 1 });
    await expectNoLeaks(async () => {
      const parallel = await loadImages(records, { height: 2, width: 3, concurrency: 8 });
      expect(parallel.images.shape).toEqual([10, 2, 3, 3]);
      expect(parallel.labels).toEqual(records.map((record) => record.label));
      expect(parallel.records).toEqual(records);
      const firstPixels = tf.tidy(() => tf.slice(parallel.images, [0, 0, 0, 0], [-1, 1, 1, -1]).dataSync());
      expect(Array.from(firstPixels)).toEqual(records.flatMap((record, index) => [record.label * 30, index, 200]));
      return parallel.images;
    });
    expect(serial.labels).toEqual(records.map((record) => record.label));
    expect(serial.images.shape).toEqual([10, 4, 6, 3]);
    serial.images.dispose();
  });

  it('skips missing and corrupt files, reporting each with file and line, and keeps the rest in order', async () => {
    const records = await colouredRecords(6);
    records[1] = { ...records[1], imagePath: path.join(dir, 'gone.jpg') };
    await fs.writeFile(path.join(dir, 'bad.png'), Buffer.alloc(64, 7));
    records[4] = { ...records[4], imagePath: path.join(dir, 'bad.png') };
    const loaded = await loadImages(records, { height: 2, width: 2 });
    expect(loaded.problems.map(({ kind, file, line }) => ({ kind, file, line }))).toEqual([
      { kind: 'missingImage', file: path.join(dir, 'gone.jpg'), line: records[1].line },
      { kind: 'corruptImage', file: path.join(dir, 'bad.png'), line: records[4].line },
    ]);
    expect(loaded.records).toEqual([records[0], records[2], records[3], records[5]]);
    const green = tf.tidy(() => tf.slice(loaded.images, [0, 0, 0, 1], [-1, 1, 1, 1]).dataSync());
    expect(Array.from(green)).toEqual([0, 2, 3, 5]);
    loaded.images.dispose();
  });

  it('returns an empty batch for no records', async () => {
    const loaded = await loadImages([], { height: 3, width: 3 });
    expect(loaded.images.shape).toEqual([0, 3, 3, 3]);
    loaded.images.dispose();
  });
});
