/**
 * A generated stand-in for HAM10000 in the dataset's own layout: the demo's default data and the
 * tests' fixtures, since the real images may not be redistributed with the library.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { checkNumber, checkOneOf, invalidArgument } from '../validation';
import { CLASSES, MASK_FOLDER, MASK_SUFFIX, METADATA_COLUMNS, METADATA_FILE, type ClassName } from './dataset';
import { Rng } from '../random';
import { paintLesion, sampleLesion, type Lesion } from './synthetic_lesion';

/** 'kaggle' writes HAM10000_images_part_1/ and _part_2/; 'flat' writes one HAM10000_images/. */
export const SYNTHETIC_LAYOUTS = ['kaggle', 'flat'] as const;

/** Options of `writeSyntheticHam10000`: how many images, their size, layout and seed. */
export interface SyntheticHam10000Options {
  /** Images of every class, or per class (a class left out gets none). Default 24 each. */
  imagesPerClass?: number | Partial<Record<ClassName, number>>;
  /** Default 200 × 150, the shared real subset's size (the original download is 600 × 450). */
  width?: number;
  height?: number;
  /** Default 0; the same seed and options write byte-identical files. */
  seed?: number;
  /** Write lesion masks in HAM10000_segmentations_lesion_tschandl/. Default true. */
  withMasks?: boolean;
  /** Inclusive range of images per lesion. Default [1, 3]. */
  imagesPerLesion?: [number, number];
  /** Default 'kaggle'. */
  layout?: (typeof SYNTHETIC_LAYOUTS)[number];
}

/** What `writeSyntheticHam10000` wrote. */
export interface SyntheticHam10000 {
  root: string;
  /** Images written. */
  count: number;
  /** Distinct lesion ids written. */
  lesions: number;
}

/** Typical age, confirmation method and sites per class, so the metadata looks like the real one. */
const META: Record<ClassName, { age: number; dxType: string }> = {
  akiec: { age: 67, dxType: 'histo' },
  bcc: { age: 66, dxType: 'histo' },
  bkl: { age: 59, dxType: 'histo' },
  df: { age: 52, dxType: 'consensus' },
  mel: { age: 61, dxType: 'histo' },
  nv: { age: 42, dxType: 'follow_up' },
  vasc: { age: 50, dxType: 'consensus' },
};
const SITES = ['back', 'lower extremity', 'trunk', 'upper extremity', 'abdomen', 'face', 'chest', 'scalp'];
const JPEG_QUALITY = 90;
const WRITES_IN_FLIGHT = 4;
/** Synthetic ids start with 9 so they never collide with real ISIC/HAM ids. */
const ID_BASE = 9_000_000;

/**
 * Writes a synthetic dataset into `dir` (created if needed): HAM10000_metadata.csv, the JPEGs and,
 * if asked, the masks. Several images per lesion, each a new view (shift, rotation, light, hairs).
 */
export async function writeSyntheticHam10000(dir: string, options: SyntheticHam10000Options = {}): Promise<SyntheticHam10000> {
  const settings = checkOptions(options);
  const folders = settings.layout === 'kaggle' ? ['HAM10000_images_part_1', 'HAM10000_images_part_2'] : ['HAM10000_images'];
  for (const folder of [...folders, ...(settings.withMasks ? [MASK_FOLDER] : [])]) {
    await fs.mkdir(path.join(dir, folder), { recursive: true });
  }

  const rows: string[] = [METADATA_COLUMNS.join(',')];
  // Painting runs here while sharp encodes earlier views on its own threads; a few writes in flight is enough.
  const writes = new Set<Promise<void>>();
  let imageNumber = 0;
  let lesionNumber = 0;
  try {
    for (const dx of CLASSES) {
      for (let left = settings.counts[dx]; left > 0; lesionNumber++) {
        const rng = new Rng(settings.seed, 'lesion', lesionNumber);
        const lesion = sampleLesion(dx, rng);
        const views = Math.min(left, rng.int(...settings.imagesPerLesion));
        const meta = lesionMetadata(dx, rng);
        for (let view = 0; view < views; view++, imageNumber++) {
          const imageId = `ISIC_${ID_BASE + imageNumber}`;
          rows.push([`HAM_${ID_BASE + lesionNumber}`, imageId, dx, ...meta].join(','));
          const write = writeView(lesion, new Rng(settings.seed, 'image', imageNumber), {
            ...settings,
            imageFile: path.join(dir, folders[imageNumber % folders.length], `${imageId}.jpg`),
            maskFile: path.join(dir, MASK_FOLDER, `${imageId}${MASK_SUFFIX}`),
          }).finally(() => writes.delete(write));
          writes.add(write);
          if (writes.size >= WRITES_IN_FLIGHT) await Promise.race(writes);
        }
        left -= views;
      }
    }
    await Promise.all(writes);
  } finally {
    await Promise.allSettled(writes);
  }
  await fs.writeFile(path.join(dir, METADATA_FILE), `${rows.join('\n')}\n`);
  return { root: dir, count: imageNumber, lesions: lesionNumber };
}

/** dx_type, age, sex, localization for one lesion. */
function lesionMetadata(dx: ClassName, rng: Rng): string[] {
  const age = Math.round((META[dx].age + 14 * rng.normal()) / 5) * 5;
  const dxType = rng.next() < 0.8 ? META[dx].dxType : rng.pick(['histo', 'follow_up', 'consensus', 'confocal']);
  return [dxType, `${Math.min(85, Math.max(5, age))}.0`, rng.pick(['male', 'female']), rng.pick(SITES)];
}

async function writeView(
  lesion: Lesion,
  rng: Rng,
  target: { width: number; height: number; withMasks: boolean; imageFile: string; maskFile: string },
): Promise<void> {
  const { width, height } = target;
  const { rgb, mask } = paintLesion(lesion, { width, height }, rng);
  // A slight blur stands in for optics: painted edges are sharper than any photograph's.
  await sharp(rgb, { raw: { width, height, channels: 3 } }).blur(0.6).jpeg({ quality: JPEG_QUALITY }).toFile(target.imageFile);
  if (target.withMasks) await sharp(mask, { raw: { width, height, channels: 1 } }).png().toFile(target.maskFile);
}

function checkOptions(options: SyntheticHam10000Options) {
  const who = 'writeSyntheticHam10000';
  const perClass = options.imagesPerClass ?? 24;
  const counts = Object.fromEntries(
    CLASSES.map((dx) => {
      const count = typeof perClass === 'number' ? perClass : (perClass[dx] ?? 0);
      return [dx, checkNumber(who, `options.imagesPerClass${typeof perClass === 'number' ? '' : `.${dx}`}`, count, { min: 0, integer: true })];
    }),
  ) as Record<ClassName, number>;
  if (typeof perClass === 'object') {
    const unknown = Object.keys(perClass).filter((key) => !(CLASSES as readonly string[]).includes(key));
    if (unknown.length > 0) invalidArgument(who, 'options.imagesPerClass', `keyed by ${CLASSES.join(', ')}`, unknown[0]);
  }
  const [fewest, most] = options.imagesPerLesion ?? [1, 3];
  checkNumber(who, 'options.imagesPerLesion[0]', fewest, { min: 1, integer: true });
  checkNumber(who, 'options.imagesPerLesion[1]', most, { min: fewest, integer: true });
  return {
    counts,
    width: checkNumber(who, 'options.width', options.width ?? 200, { min: 8, integer: true }),
    height: checkNumber(who, 'options.height', options.height ?? 150, { min: 8, integer: true }),
    seed: checkNumber(who, 'options.seed', options.seed ?? 0, { integer: true }),
    withMasks: options.withMasks ?? true,
    imagesPerLesion: [fewest, most] as [number, number],
    layout: checkOneOf(who, 'options.layout', options.layout ?? 'kaggle', SYNTHETIC_LAYOUTS),
  };
}
