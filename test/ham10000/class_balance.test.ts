import { balancedSampler, classWeights } from '../../src/ham10000/class_balance';
import type { LesionRecord } from '../../src/ham10000/dataset';
import { fakeRecords } from './data_fixtures';

/** 1, 2 or 3 images per lesion: akiec 5 lesions → 9 records, df 2 → 3, nv 40 → 79. */
const RECORDS = fakeRecords({ akiec: 5, df: 2, nv: 40 });
const count = (records: LesionRecord[], label: number): number => records.filter((record) => record.label === label).length;

describe('classWeights', () => {
  it('gives each present class the same total weight N/K, so the mean weight per record is 1', () => {
    const weights = classWeights(RECORDS);
    expect(Object.keys(weights).map(Number)).toEqual([0, 3, 5]); // absent classes get no entry
    for (const label of [0, 3, 5]) expect(count(RECORDS, label) * weights[label]).toBeCloseTo(RECORDS.length / 3, 10);
    const mean = RECORDS.reduce((sum, record) => sum + weights[record.label], 0) / RECORDS.length;
    expect(mean).toBeCloseTo(1, 12);
    expect(weights[3]).toBeCloseTo(91 / (3 * 3), 12);
  });

  it('is 1 for every class of a balanced set', () => {
    expect(classWeights(fakeRecords({ bcc: 4, mel: 4 }))).toEqual({ 1: 1, 4: 1 });
  });

  it('refuses an empty list', () => {
    expect(() => classWeights([])).toThrow('classWeights: records must be non-empty; got []. Load the dataset first and check its problems.');
  });
});

describe('balancedSampler', () => {
  it('gives each class epochSize/K places (±1), epochSize in all', () => {
    const sample = balancedSampler(RECORDS, { seed: 1 });
    for (const epoch of [0, 1, 2]) {
      const drawn = sample(epoch);
      expect(drawn).toHaveLength(RECORDS.length);
      const counts = [0, 3, 5].map((label) => count(drawn, label));
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    expect(balancedSampler(RECORDS, { seed: 1, epochSize: 10 })(0)).toHaveLength(10);
  });

  it('uses every record of a class equally often over epochs (to within one)', () => {
    const sample = balancedSampler(RECORDS, { seed: 2 });
    const uses = new Map<string, number>();
    for (let epoch = 0; epoch < 6; epoch++) for (const record of sample(epoch)) uses.set(record.imageId, (uses.get(record.imageId) ?? 0) + 1);
    for (const label of [0, 3, 5]) {
      const counts = RECORDS.filter((record) => record.label === label).map((record) => uses.get(record.imageId) ?? 0);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expect(Math.min(...counts)).toBeGreaterThan(0);
    }
  });

  it('depends only on seed and epoch: epochs can be drawn in any order, and they differ', () => {
    const ids = (records: LesionRecord[]): string[] => records.map((record) => record.imageId);
    const a = balancedSampler(RECORDS, { seed: 3 });
    const b = balancedSampler(RECORDS, { seed: 3 });
    const late = ids(b(5));
    expect(ids(a(0))).toEqual(ids(b(0)));
    expect(ids(a(5))).toEqual(late);
    expect(ids(a(1))).not.toEqual(ids(a(0)));
    expect(ids(balancedSampler(RECORDS, { seed: 4 })(0))).not.toEqual(ids(a(0)));
  });

  it('checks its arguments', () => {
    expect(() => balancedSampler(RECORDS, { seed: 1, epochSize: 0 })).toThrow('balancedSampler: options.epochSize must be an integer >= 1; got 0.');
    expect(() => balancedSampler(RECORDS, { seed: 1 })(-1)).toThrow('balancedSampler: epoch must be an integer >= 0; got -1.');
    expect(() => balancedSampler([], { seed: 1 })).toThrow(/^balancedSampler: records must be non-empty/);
  });
});
