/**
 * Train/validation/test split grouped by lesion. HAM10000 holds several images of many lesions
 * (6,989 images of 5,199 lesions in the shared subset); a split by image puts near-copies of one
 * lesion on both sides and inflates test accuracy, so every image of a lesion goes to one side.
 * Within each class the lesions are dealt out so each side gets its share of that class's images
 * (stratification), in an order drawn from the seed.
 */
import { checkNumber, checkOptions, invalidArgument, optionKeys } from '../validation';
import { CLASSES, countByClass, type ClassName, type LesionRecord } from './dataset';
import { Rng } from '../random';

/** The sides of a split, in order. */
export const SPLITS = ['train', 'validation', 'test'] as const;
/** One side of a split: 'train', 'validation' or 'test'. */
export type SplitName = (typeof SPLITS)[number];

/** Options of `splitByLesion`: the shares of the validation and test sides, and the seed. */
export interface SplitOptions {
  /** Share of each class's images for validation. Default 0.15. */
  validation?: number;
  /** Share of each class's images for test. Default 0.15. */
  test?: number;
  /** Default 0. The same seed and records give the same split, whatever the records' order. */
  seed?: number;
}

/** What a split holds, per side, stored in the run so it can be checked and reported. */
export interface SplitSummary {
  /** Images per class on each side. */
  counts: Record<SplitName, Record<ClassName, number>>;
  /** Distinct lesions on each side. */
  lesions: Record<SplitName, number>;
  /** By construction: the split assigns a side per lesion id, never per image. */
  lesionLeak: false;
  seed: number;
}

/** What `splitByLesion` returns: the records of each side and their summary. */
export interface LesionSplit {
  train: LesionRecord[];
  validation: LesionRecord[];
  test: LesionRecord[];
  summary: SplitSummary;
}

/** Splits records by lesion, stratified by class and seeded; each side keeps the records' order. */
export function splitByLesion(records: readonly LesionRecord[], options: SplitOptions = {}): LesionSplit {
  const who = 'splitByLesion';
  checkOptions(who, options, optionKeys<SplitOptions>({ validation: true, test: true, seed: true }));
  const validation = checkNumber(who, 'options.validation', options.validation ?? 0.15, { min: 0, max: 1 });
  const test = checkNumber(who, 'options.test', options.test ?? 0.15, { min: 0, max: 1 });
  const seed = checkNumber(who, 'options.seed', options.seed ?? 0, { integer: true });
  if (validation + test >= 1) {
    invalidArgument(who, 'options.validation + options.test', '< 1 so training keeps some images', validation + test);
  }
  const shares: Record<SplitName, number> = { train: 1 - validation - test, validation, test };

  const sideOf = new Map<string, SplitName>();
  for (const [dx, lesions] of lesionsByClass(records)) {
    const rng = new Rng(seed, 'splitByLesion', dx);
    // Sorting first makes the outcome independent of the input order; the seed alone shuffles.
    const order = rng.shuffle([...lesions.keys()].sort());
    dealLesions(order, lesions, shares, sideOf);
  }

  const split = { train: [] as LesionRecord[], validation: [] as LesionRecord[], test: [] as LesionRecord[] };
  for (const record of records) split[sideOf.get(record.lesionId)!].push(record);
  return { ...split, summary: summarize(split, seed) };
}

/**
 * Per class, the lesions (id to image count). A lesion is filed under its first record's class;
 * HAM10000 gives one diagnosis per lesion, and a lesion is never divided whatever its labels.
 */
function lesionsByClass(records: readonly LesionRecord[]): Map<ClassName, Map<string, number>> {
  const classOf = new Map<string, ClassName>();
  const byClass = new Map<ClassName, Map<string, number>>(CLASSES.map((dx) => [dx, new Map()]));
  for (const record of records) {
    const dx = classOf.get(record.lesionId) ?? record.dx;
    classOf.set(record.lesionId, dx);
    const lesions = byClass.get(dx)!;
    lesions.set(record.lesionId, (lesions.get(record.lesionId) ?? 0) + 1);
  }
  return byClass;
}

/**
 * Greedy dealing: each lesion goes to the side furthest below its target image count (target =
 * share × the class's images), so image counts track the shares even though lesions hold 1 to
 * 6+ images. Ties go to the earlier side in SPLITS, so training is served first; a side whose
 * share is 0 gets nothing.
 */
function dealLesions(
  order: readonly string[],
  imageCounts: Map<string, number>,
  shares: Record<SplitName, number>,
  sideOf: Map<string, SplitName>,
): void {
  let total = 0;
  for (const count of imageCounts.values()) total += count;
  const filled: Record<SplitName, number> = { train: 0, validation: 0, test: 0 };
  for (const lesionId of order) {
    let best: SplitName = 'train';
    for (const side of SPLITS) {
      const deficit = shares[side] * total - filled[side];
      if (shares[side] > 0 && deficit > shares[best] * total - filled[best]) best = side;
    }
    sideOf.set(lesionId, best);
    filled[best] += imageCounts.get(lesionId)!;
  }
}

function summarize(split: Record<SplitName, LesionRecord[]>, seed: number): SplitSummary {
  const lesions = (side: SplitName): number => new Set(split[side].map((record) => record.lesionId)).size;
  return {
    counts: { train: countByClass(split.train), validation: countByClass(split.validation), test: countByClass(split.test) },
    lesions: { train: lesions('train'), validation: lesions('validation'), test: lesions('test') },
    lesionLeak: false,
    seed,
  };
}
