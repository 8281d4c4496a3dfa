import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CLASSES, countByClass, loadHam10000 } from '../../src/ham10000/dataset';
import { loadImages, readMask } from '../../src/ham10000/images';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { cleanup, tempDir } from './data_fixtures';

const TINY = { imagesPerClass: 2, width: 32, height: 24 };

/** Every file under `dir`, relative path to contents. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath, entry.name);
      files.set(path.relative(dir, file), await fs.readFile(file));
    }
  }
  return files;
}

let dirs: string[] = [];
async function generate(options: Parameters<typeof writeSyntheticHam10000>[1]): Promise<string> {
  const dir = await tempDir('synthetic');
  dirs.push(dir);
  await writeSyntheticHam10000(dir, options);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.map(cleanup));
  dirs = [];
});

describe('writeSyntheticHam10000', () => {
  it('is reproducible by seed: byte-identical files for the same seed, different images for another', async () => {
    const [a, b, c] = await Promise.all([generate({ ...TINY, seed: 9 }), generate({ ...TINY, seed: 9 }), generate({ ...TINY, seed: 10 })]);
    const [first, second, other] = await Promise.all([snapshot(a), snapshot(b), snapshot(c)]);
    expect(first.size).toBe(1 + 14 + 14);
    expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
    for (const [file, bytes] of first) expect(second.get(file)!.equals(bytes)).toBe(true);
    const image = 'HAM10000_images_part_1/ISIC_9000000.jpg';
    expect(other.get(image)!.equals(first.get(image)!)).toBe(false);
  });

  it('writes the Kaggle layout with the asked images per class and per lesion', async () => {
    const dir = await generate({ ...TINY, imagesPerClass: { bcc: 4, nv: 6 }, imagesPerLesion: [2, 2] });
    const { records, problems } = await loadHam10000(dir);
    expect(problems).toEqual([]);
    expect(countByClass(records)).toEqual({ akiec: 0, bcc: 4, bkl: 0, df: 0, mel: 0, nv: 6, vasc: 0 });
    const perLesion = new Map<string, number>();
    for (const record of records) perLesion.set(record.lesionId, (perLesion.get(record.lesionId) ?? 0) + 1);
    expect([...perLesion.values()]).toEqual([2, 2, 2, 2, 2]);
    expect(records.filter((record) => record.imagePath.includes('part_2'))).toHaveLength(5);
    expect(records.every((record) => record.maskPath !== null && ['histo', 'follow_up', 'consensus', 'confocal'].includes(record.dxType))).toBe(true);
    const header = (await fs.readFile(path.join(dir, 'HAM10000_metadata.csv'), 'utf8')).split('\n')[0];
    expect(header).toBe('lesion_id,image_id,dx,dx_type,age,sex,localization');
  });

  it('draws masks that outline the lesion: inside is darker than the skin around it', async () => {
    const dir = await generate({ ...TINY, imagesPerClass: { nv: 3, mel: 3 }, width: 48, height: 36, seed: 2 });
    const { records } = await loadHam10000(dir);
    const { images } = await loadImages(records, { height: 36, width: 48 });
    for (const [index, record] of records.entries()) {
      const mask = await readMask(record.maskPath!, { height: 36, width: 48 });
      const [inside, outside, area] = tf.tidy(() => {
        const image = tf.mean(tf.squeeze(tf.slice(images, [index, 0, 0, 0], [1, -1, -1, -1]), [0]), -1);
        const lesion = tf.sum(mask).dataSync()[0];
        const sumIn = tf.sum(tf.mul(image, mask)).dataSync()[0];
        const sumOut = tf.sum(tf.mul(image, tf.sub(1, mask))).dataSync()[0];
        return [sumIn / lesion, sumOut / (36 * 48 - lesion), lesion / (36 * 48)];
      });
      expect(area).toBeGreaterThan(0.02);
      expect(area).toBeLessThan(0.8);
      expect(inside).toBeLessThan(outside - 20);
      mask.dispose();
    }
    images.dispose();
  });

  it('is class-dependent but not trivially: mean lesion colour separates the classes only in part', async () => {
    const dir = await generate({ imagesPerClass: 10, width: 48, height: 36, seed: 3 });
    const { records } = await loadHam10000(dir);
    const { images } = await loadImages(records, { height: 36, width: 48 });
    const colours: number[][] = [];
    for (const [index, record] of records.entries()) {
      const mask = await readMask(record.maskPath!, { height: 36, width: 48 });
      colours.push(
        tf.tidy(() => {
          const image = tf.squeeze(tf.slice(images, [index, 0, 0, 0], [1, -1, -1, -1]), [0]);
          return Array.from(tf.div(tf.sum(tf.mul(image, tf.expandDims(mask, -1)), [0, 1]), tf.sum(mask)).dataSync());
        }),
      );
      mask.dispose();
    }
    images.dispose();
    const centroids = CLASSES.map((_, label) => {
      const own = colours.filter((_, i) => records[i].label === label);
      return [0, 1, 2].map((channel) => own.reduce((sum, colour) => sum + colour[channel], 0) / own.length);
    });
    const brightness = centroids.map((rgb) => rgb[0] + rgb[1] + rgb[2]);
    const redness = centroids.map((rgb) => rgb[0] - rgb[1]);
    expect(brightness.indexOf(Math.min(...brightness))).toBe(CLASSES.indexOf('mel'));
    expect(redness.indexOf(Math.max(...redness))).toBe(CLASSES.indexOf('vasc'));
    const nearest = (colour: number[]): number => {
      const distances = centroids.map((centre) => centre.reduce((sum, value, k) => sum + (value - colour[k]) ** 2, 0));
      return distances.indexOf(Math.min(...distances));
    };
    const accuracy = colours.filter((colour, i) => nearest(colour) === records[i].label).length / colours.length;
    expect(accuracy).toBeGreaterThan(0.4); // chance is 1/7
    expect(accuracy).toBeLessThan(0.95); // colour alone does not solve it
  });

  it('checks its options', async () => {
    const dir = await tempDir('synthetic-options');
    dirs.push(dir);
    await expect(writeSyntheticHam10000(dir, { imagesPerClass: { melanoma: 2 } as never })).rejects.toThrow(
      "writeSyntheticHam10000: options.imagesPerClass must be keyed by akiec, bcc, bkl, df, mel, nv, vasc; got 'melanoma'.",
    );
    await expect(writeSyntheticHam10000(dir, { imagesPerLesion: [3, 1] })).rejects.toThrow(
      'writeSyntheticHam10000: options.imagesPerLesion[1] must be an integer >= 3; got 1.',
    );
    await expect(writeSyntheticHam10000(dir, { imagesPerClass: -1 })).rejects.toThrow(
      'writeSyntheticHam10000: options.imagesPerClass must be an integer >= 0; got -1.',
    );
  });
});
