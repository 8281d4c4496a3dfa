import { CLASSES, type LesionRecord } from '../../src/ham10000/dataset';
import { splitByLesion, SPLITS } from '../../src/ham10000/split';
import { Rng } from '../../src/random';
import { fakeRecords } from './data_fixtures';

/** About HAM10000's proportions, a tenth of the size, lesions of 1 to 4 images. */
const RECORDS = fakeRecords({ akiec: 20, bcc: 30, bkl: 60, df: 8, mel: 60, nv: 330, vasc: 10 }, 4);
const ids = (records: LesionRecord[]): string[] => records.map((record) => record.imageId);

describe('splitByLesion', () => {
  it('never puts one lesion on two sides, and loses no record', () => {
    const split = splitByLesion(RECORDS, { seed: 3 });
    const sideOf = new Map<string, string>();
    for (const side of SPLITS) {
      for (const record of split[side]) {
        expect(sideOf.get(record.lesionId) ?? side).toBe(side);
        sideOf.set(record.lesionId, side);
      }
    }
    expect(ids([...split.train, ...split.validation, ...split.test]).sort()).toEqual(ids(RECORDS).sort());
    expect(split.summary.lesionLeak).toBe(false);
  });

  it('stratifies: each class is split in the asked shares, to within one lesion', () => {
    const { summary } = splitByLesion(RECORDS, { validation: 0.2, test: 0.1, seed: 1 });
    for (const dx of CLASSES) {
      const total = RECORDS.filter((record) => record.dx === dx).length;
      // Greedy dealing stays within one lesion (at most 4 images) of each target.
      expect(Math.abs(summary.counts.validation[dx] - 0.2 * total)).toBeLessThanOrEqual(4);
      expect(Math.abs(summary.counts.test[dx] - 0.1 * total)).toBeLessThanOrEqual(4);
      expect(summary.counts.train[dx] + summary.counts.validation[dx] + summary.counts.test[dx]).toBe(total);
    }
  });

  it('summarises counts per class and distinct lesions per side', () => {
    const split = splitByLesion(RECORDS, { seed: 2 });
    for (const side of SPLITS) {
      expect(split.summary.lesions[side]).toBe(new Set(split[side].map((record) => record.lesionId)).size);
      for (const dx of CLASSES) expect(split.summary.counts[side][dx]).toBe(split[side].filter((record) => record.dx === dx).length);
    }
    expect(split.summary.seed).toBe(2);
  });

  it('is reproducible: same seed, same split, whatever the order of the records', () => {
    const a = splitByLesion(RECORDS, { seed: 7 });
    const shuffled = new Rng(99).shuffle(RECORDS);
    const b = splitByLesion(shuffled, { seed: 7 });
    for (const side of SPLITS) expect(ids(b[side]).sort()).toEqual(ids(a[side]).sort());
    // Each side keeps the input order.
    expect(ids(a.test)).toEqual(ids(RECORDS.filter((record) => a.test.includes(record))));
  });

  it('a different seed gives a different split', () => {
    const a = splitByLesion(RECORDS, { seed: 7 });
    const b = splitByLesion(RECORDS, { seed: 8 });
    expect(ids(b.test)).not.toEqual(ids(a.test));
  });

  it('gives a side with share 0 nothing', () => {
    const split = splitByLesion(RECORDS, { validation: 0, test: 0.3 });
    expect(split.validation).toEqual([]);
    expect(split.test.length).toBeGreaterThan(0);
  });

  it('rejects shares that leave no training data, or are out of range', () => {
    expect(() => splitByLesion(RECORDS, { validation: 0.5, test: 0.5 })).toThrow(
      'splitByLesion: options.validation + options.test must be < 1 so training keeps some images; got 1.',
    );
    expect(() => splitByLesion(RECORDS, { test: -0.1 })).toThrow('splitByLesion: options.test must be a number >= 0 and <= 1; got -0.1.');
    expect(() => splitByLesion(RECORDS, { seed: 1.5 })).toThrow('splitByLesion: options.seed must be an integer; got 1.5.');
  });
});
