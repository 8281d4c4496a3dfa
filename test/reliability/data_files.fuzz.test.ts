import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { CLASSES, METADATA_FILE, loadHam10000, readImage, splitByLesion, type LesionRecord } from '../../src/ham10000/data';
import { attempt, attemptAsync, fuzzParams, wrongType } from './fuzz';

/**
 * Untrusted data files, generated: HAM10000 metadata CSVs with missing or shuffled columns, bad
 * classes, empty fields, stray quotes, CRLF, a BOM and binary garbage; image files that are cut
 * short or not images; split options of every kind. Each ends in a usable result (bad rows
 * reported with their line) or the library's own error; never a TypeError, never a leaked tensor.
 */

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-data-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const HEADER = ['lesion_id', 'image_id', 'dx', 'dx_type', 'age', 'sex', 'localization'];
const field = fc.oneof(
  { arbitrary: fc.constantFrom('HAM_0001', 'HAM_0002', 'ISIC_0001', 'ISIC_0002', ...CLASSES, 'histo', '45', 'male', 'back'), weight: 6 },
  fc.constantFrom('', '"', '""', '"a,b"', 'NaN', '-1', 'MEL', ' nv', 'nv ', '\u0000'),
  fc.string({ maxLength: 6 }),
);
const row = fc.array(field, { minLength: 0, maxLength: 9 });
const csvArb = fc
  .record({
    header: fc.oneof({ arbitrary: fc.constant(HEADER), weight: 4 }, fc.shuffledSubarray(HEADER), fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 })),
    rows: fc.array(row, { maxLength: 8 }),
    lineEnd: fc.constantFrom('\n', '\r\n'),
    bom: fc.boolean(),
    garbage: fc.oneof({ arbitrary: fc.constant(null), weight: 8 }, fc.uint8Array({ maxLength: 64 })),
  })
  .map(({ header, rows, lineEnd, bom, garbage }) =>
    garbage ? Buffer.from(garbage) : Buffer.from((bom ? '\ufeff' : '') + [header, ...rows].map((r) => r.join(',')).join(lineEnd)),
  );

describe('loadHam10000 on generated metadata files', () => {
  it('keeps only well-formed rows, reports the others with their line, or refuses the file', async () => {
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(csvArb, async (csv) => {
        const root = fs.mkdtempSync(path.join(dir, 'csv-'));
        fs.writeFileSync(path.join(root, METADATA_FILE), csv);
        const { result, error } = await attemptAsync(() => loadHam10000(root, { requireImages: false }), () => undefined);
        fs.rmSync(root, { recursive: true, force: true });
        if (error) return expect(error.name).toBe('DataError');
        loaded += 1;
        const dataLines = csv.toString('utf8').split(/\r?\n/).length;
        result!.records.forEach((record: LesionRecord) => {
          expect(CLASSES[record.label]).toBe(record.dx);
          expect(record.imageId.length).toBeGreaterThan(0);
          expect(record.line).toBeGreaterThan(1);
          expect(record.line).toBeLessThanOrEqual(dataLines);
        });
        result!.problems.forEach((problem) => expect(problem.message).toMatch(/^line \d+: /));
      }),
      fuzzParams(80),
    );
    expect(loaded).toBeGreaterThan(0);
  });
});

describe('readImage on generated broken files', () => {
  /** A real 8 × 6 PNG, made with sharp. */
  let png: Buffer;
  beforeAll(async () => {
    const sharp = (await import('sharp')).default;
    png = await sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 200, g: 90, b: 40 } } }).png().toBuffer();
  });

  it('decodes a whole image to [height, width, 3], and refuses a cut or foreign one with a DataError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.nat(), fc.constant(-1)), fc.uint8Array({ maxLength: 32 }), async (cut, noise) => {
        const whole = cut === -1;
        const bytes = whole ? png : Buffer.concat([png.subarray(0, cut % png.length), Buffer.from(noise)]);
        const file = path.join(dir, 'image.png');
        fs.writeFileSync(file, bytes);
        const { result, error } = await attemptAsync(() => readImage(file, { height: 4, width: 5 }));
        if (whole) expect(error).toBeUndefined();
        if (error) return expect(error.message).toMatch(/^readImage: /);
        // attemptAsync disposed the tensor after the call; its shape stays readable.
        expect(result!.shape).toEqual([4, 5, 3]);
      }),
      fuzzParams(40),
    );
  });
});

describe('splitByLesion under generated records and options', () => {
  const records = fc.array(fc.record({ lesion: fc.integer({ min: 0, max: 9 }), label: fc.integer({ min: 0, max: CLASSES.length - 1 }) }), { maxLength: 40 }).map((rows) =>
    rows.map(({ lesion, label }, i) => ({ lesionId: `HAM_${lesion}`, imageId: `ISIC_${i}`, dx: CLASSES[label], label, line: i + 2 }) as LesionRecord),
  );
  const share = fc.oneof({ arbitrary: fc.double({ min: 0, max: 0.45, noNaN: true }), weight: 4 }, wrongType);

  it('puts every image on exactly one side and every lesion on one side only, or names a wrong option', () => {
    fc.assert(
      fc.property(records, share, share, fc.oneof(fc.integer(), wrongType), (rows, validation, test, seed) => {
        const { result, error } = attempt(() => splitByLesion(rows, { validation: validation as number, test: test as number, seed: seed as number }), () => undefined);
        if (error) return expect(error.message).toMatch(/^splitByLesion: (options\.)?(validation|test|seed|records)/);
        const sides = [result!.train, result!.validation, result!.test];
        expect(sides.flat().map((r) => r.imageId).sort()).toEqual(rows.map((r) => r.imageId).sort());
        const sideOf = new Map<string, number>();
        sides.forEach((side, index) =>
          side.forEach((record) => {
            expect(sideOf.get(record.lesionId) ?? index).toBe(index);
            sideOf.set(record.lesionId, index);
          }),
        );
      }),
      fuzzParams(80),
    );
  });
});
