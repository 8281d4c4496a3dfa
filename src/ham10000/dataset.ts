/**
 * Reads the HAM10000 dataset as downloaded (Tschandl et al., Sci. Data 5, 180161, 2018): the
 * metadata CSV, the images in the Kaggle layout (two part folders) or one flat folder, and the
 * optional lesion masks. Only the CSV is parsed and the folders listed; images are decoded later,
 * by `loadImages`, so loading the metadata of all 10,015 images takes a moment.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse, type InfoRecord } from 'csv-parse/sync';
import { DataError } from '../errors';
import { checkOptions, describe } from '../validation';

/** The seven diagnoses, in the order of the class ids (the index is the label). */
export const CLASSES = ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc'] as const;
/** A diagnosis abbreviation, as in the metadata's `dx` column. */
export type ClassName = (typeof CLASSES)[number];

/** What each abbreviation stands for (the dataset paper's names), for reports. */
export const CLASS_NAMES: Record<ClassName, string> = {
  akiec: 'actinic keratosis / intraepithelial carcinoma',
  bcc: 'basal cell carcinoma',
  bkl: 'benign keratosis',
  df: 'dermatofibroma',
  mel: 'melanoma',
  nv: 'melanocytic nevus',
  vasc: 'vascular lesion',
};

/** The metadata CSV at the dataset root, as the Kaggle download names it. */
export const METADATA_FILE = 'HAM10000_metadata.csv';
/** Where images are looked for, in this order: the Kaggle part folders, one flat folder, the root. */
export const IMAGE_FOLDERS = ['HAM10000_images_part_1', 'HAM10000_images_part_2', 'HAM10000_images', '.'] as const;
/** Folder of the lesion segmentation masks (Tschandl et al. 2020), optional: used to score Grad-CAM localisation. */
export const MASK_FOLDER = 'HAM10000_segmentations_lesion_tschandl';
/** A mask's file name is the image id followed by this suffix. */
export const MASK_SUFFIX = '_segmentation.png';
/** The columns the loader cannot do without; dx_type, age, sex and localization are read when present. */
export const REQUIRED_COLUMNS = ['lesion_id', 'image_id', 'dx'] as const;
/** Every column of the original metadata CSV, in its order (the synthetic writer's header). */
export const METADATA_COLUMNS = [...REQUIRED_COLUMNS, 'dx_type', 'age', 'sex', 'localization'] as const;

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];
/** Image ids become file names: nothing that could climb out of the dataset folder. */
const SAFE_ID = /^[A-Za-z0-9_.-]+$/;

/** One image of the metadata, validated, with the paths of its image and mask. */
export interface LesionRecord {
  /** The lesion photographed: several images may share it, so splits group by it. */
  lesionId: string;
  imageId: string;
  dx: ClassName;
  /** Index of `dx` in CLASSES. */
  label: number;
  /** How the diagnosis was confirmed: histo, follow_up, consensus or confocal. */
  dxType: string;
  /** Age in years; null where the CSV leaves it blank or unknown. */
  age: number | null;
  sex: string;
  localization: string;
  /** Where the image file is (or, with `requireImages: false`, where it was expected). */
  imagePath: string;
  /** The lesion mask's file; null when the dataset has none for this image. */
  maskPath: string | null;
  /** 1-based line of the CSV the record came from. */
  line: number;
}

/** A row or image that was skipped, with where and why, so the user can fix the data. */
export interface DataProblem {
  /** What went wrong: an invalid CSV row, an absent image file, an image that does not decode, or a lesion mask that cannot be read. */
  kind: 'badRow' | 'missingImage' | 'corruptImage' | 'corruptMask';
  /** The file at fault: the CSV for a bad row, the image or mask otherwise. */
  file: string;
  /** The CSV line of the record, when known. */
  line?: number;
  message: string;
}

/** What `loadHam10000` returns: the usable records and what was skipped. */
export interface Ham10000Dataset {
  /** The dataset folder. */
  root: string;
  /** The usable records, in CSV order. */
  records: LesionRecord[];
  /** Everything skipped, and why. */
  problems: DataProblem[];
}

/** Options of `loadHam10000`. */
export interface LoadHam10000Options {
  /**
   * Skip (and report) records whose image file is absent. Default true. With false every valid
   * row is kept and a missing image keeps the path where it was expected, for metadata-only work.
   */
  requireImages?: boolean;
}

/**
 * Loads the metadata and locates every image and mask. A missing CSV or missing columns throw a
 * DataError before anything else is read; bad rows and missing images are skipped and reported
 * in `problems` with the file and line.
 */
export async function loadHam10000(root: string, options: LoadHam10000Options = {}): Promise<Ham10000Dataset> {
  const { requireImages = true } = checkOptions('loadHam10000', options, ['requireImages']);
  const csvPath = path.join(root, METADATA_FILE);
  const rows = parseMetadata(await readMetadata(root, csvPath), csvPath);
  const columns = headerIndex(rows[0]?.fields ?? [], csvPath);
  const [images, masks] = await Promise.all([indexImages(root), indexMasks(root)]);
  const fallbackFolder = path.join(root, images.firstFolder ?? IMAGE_FOLDERS[0]);

  const records: LesionRecord[] = [];
  const problems: DataProblem[] = [];
  const firstLineOf = new Map<string, number>();
  for (const row of rows.slice(1)) {
    const parsed = parseRow(row, columns, firstLineOf);
    if (typeof parsed === 'string') {
      problems.push({ kind: 'badRow', file: csvPath, line: row.line, message: `line ${row.line}: ${parsed}` });
      continue;
    }
    firstLineOf.set(parsed.imageId, row.line);
    const imagePath = images.paths.get(parsed.imageId);
    if (imagePath === undefined && requireImages) {
      problems.push({
        kind: 'missingImage',
        file: csvPath,
        line: row.line,
        message: `line ${row.line}: image '${parsed.imageId}' is in none of ${images.searched.join(', ')} (as .jpg, .jpeg or .png)`,
      });
      continue;
    }
    records.push({
      ...parsed,
      imagePath: imagePath ?? path.join(fallbackFolder, `${parsed.imageId}.jpg`),
      maskPath: masks.get(parsed.imageId) ?? null,
      line: row.line,
    });
  }
  return { root, records, problems };
}

/** Number of records of each class (every class present, zero when absent). */
export function countByClass(records: readonly LesionRecord[]): Record<ClassName, number> {
  const counts = Object.fromEntries(CLASSES.map((name) => [name, 0])) as Record<ClassName, number>;
  for (const record of records) counts[record.dx] += 1;
  return counts;
}

/** Number of problems of each kind, for summaries. */
export function countProblems(problems: readonly DataProblem[]): Record<DataProblem['kind'], number> {
  const counts = { badRow: 0, missingImage: 0, corruptImage: 0, corruptMask: 0 };
  for (const problem of problems) counts[problem.kind] += 1;
  return counts;
}

interface CsvRow {
  fields: string[];
  line: number;
}

async function readMetadata(root: string, csvPath: string): Promise<string> {
  try {
    return await fs.readFile(csvPath, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'which is absent' : `unreadable: ${(error as Error).message}`;
    throw new DataError(
      `loadHam10000: root must be a folder holding ${METADATA_FILE}; got ${describe(root)} (${csvPath} ${reason}). ` +
        'Point it at the folder of the HAM10000 download, or write a synthetic one with writeSyntheticHam10000.',
    );
  }
}

/** Splits the CSV into rows of raw fields with their line numbers; a malformed file is one DataError. */
function parseMetadata(text: string, csvPath: string): CsvRow[] {
  try {
    // With `info`, csv-parse returns each record beside its position; its typings do not say so.
    const options = { bom: true, info: true, relax_column_count: true, skip_empty_lines: true, trim: true };
    const parsed = parse(text, options) as unknown as { record: string[]; info: InfoRecord }[];
    return parsed.map(({ record, info }) => ({ fields: record, line: info.lines }));
  } catch (error) {
    throw new DataError(`loadHam10000: ${csvPath} is not valid CSV: ${(error as Error).message}. Repair or re-download the file.`);
  }
}

/** Where each column is (the first of a repeated name), and how many fields a row must have. */
interface Columns {
  index: Map<string, number>;
  width: number;
}

/** Column positions by name, after checking that every required column is there. */
function headerIndex(header: string[], csvPath: string): Columns {
  const index = new Map<string, number>();
  header.forEach((name, position) => {
    if (!index.has(name.toLowerCase())) index.set(name.toLowerCase(), position);
  });
  const missing = REQUIRED_COLUMNS.filter((name) => !index.has(name));
  if (missing.length > 0) {
    throw new DataError(
      `loadHam10000: ${csvPath} must have the columns ${REQUIRED_COLUMNS.join(', ')}; ` +
        `got ${header.length > 0 ? header.join(', ') : 'an empty file'} (missing ${missing.join(', ')}). ` +
        `Use the dataset's own metadata file, whose header is ${METADATA_COLUMNS.join(',')}.`,
    );
  }
  return { index, width: header.length };
}

/** A record without its paths, or the reason the row is unusable. */
function parseRow(
  row: CsvRow,
  columns: Columns,
  firstLineOf: Map<string, number>,
): Omit<LesionRecord, 'imagePath' | 'maskPath' | 'line'> | string {
  if (row.fields.length !== columns.width) return `has ${row.fields.length} fields; the header has ${columns.width}`;
  const field = (name: string): string => row.fields[columns.index.get(name) ?? -1] ?? '';
  const lesionId = field('lesion_id');
  const imageId = field('image_id');
  const dx = field('dx').toLowerCase();
  if (!SAFE_ID.test(lesionId)) return `lesion_id must be a non-empty id of letters, digits, '_', '.' or '-'; got ${describe(lesionId)}`;
  if (!SAFE_ID.test(imageId)) return `image_id must be a non-empty id of letters, digits, '_', '.' or '-'; got ${describe(imageId)}`;
  const label = (CLASSES as readonly string[]).indexOf(dx);
  if (label < 0) return `dx must be one of ${CLASSES.join(', ')}; got ${describe(field('dx'))}`;
  const previous = firstLineOf.get(imageId);
  if (previous !== undefined) return `image_id '${imageId}' repeats line ${previous}`;
  const age = parseAge(field('age'));
  if (Number.isNaN(age)) return `age must be a number or empty; got ${describe(field('age'))}`;
  return {
    lesionId,
    imageId,
    dx: dx as ClassName,
    label,
    dxType: field('dx_type'),
    age,
    sex: field('sex'),
    localization: field('localization'),
  };
}

/** Empty (the dataset leaves some ages blank), 'unknown' or 'nan' is null; anything else must be a number. */
function parseAge(text: string): number | null {
  if (text === '' || text.toLowerCase() === 'unknown' || text.toLowerCase() === 'nan') return null;
  const age = Number(text);
  return Number.isFinite(age) && age >= 0 ? age : NaN;
}

/** Maps image id to file over the image folders that exist; the first folder holding an id wins. */
async function indexImages(root: string): Promise<{ paths: Map<string, string>; searched: string[]; firstFolder?: string }> {
  const paths = new Map<string, string>();
  const searched: string[] = [];
  let firstFolder: string | undefined;
  for (const folder of IMAGE_FOLDERS) {
    const names = await listFolder(path.join(root, folder));
    if (names === null) continue;
    searched.push(folder === '.' ? root : `${folder}/`);
    for (const name of names) {
      const extension = path.extname(name).toLowerCase();
      if (!IMAGE_EXTENSIONS.includes(extension)) continue;
      const id = name.slice(0, -extension.length);
      if (!paths.has(id)) paths.set(id, path.join(root, folder, name));
      if (folder !== '.') firstFolder ??= folder;
    }
  }
  return { paths, searched, firstFolder };
}

async function indexMasks(root: string): Promise<Map<string, string>> {
  const masks = new Map<string, string>();
  for (const name of (await listFolder(path.join(root, MASK_FOLDER))) ?? []) {
    if (name.endsWith(MASK_SUFFIX)) masks.set(name.slice(0, -MASK_SUFFIX.length), path.join(root, MASK_FOLDER, name));
  }
  return masks;
}

/** File names in a folder, or null when the folder does not exist. */
async function listFolder(folder: string): Promise<string[] | null> {
  try {
    return (await fs.readdir(folder, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw new DataError(`loadHam10000: cannot list ${folder}: ${(error as Error).message}. Check its permissions.`);
  }
}
