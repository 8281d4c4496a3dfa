/** Shared fixtures for the data-layer tests: temporary folders, in-memory records, tiny images. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASSES, type ClassName, type LesionRecord } from '../../src/ham10000/dataset';

/** The real subset, resolved as `../shared/ham10000` from the project root; tests using it skip where it is absent. */
export const REAL_DATA = path.resolve(__dirname, '../../../shared/ham10000');

/** A fresh temporary folder, removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `tfjs-trust-${prefix}-`));
}

export async function cleanup(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * Records without files: `lesions[dx]` lesions of class dx, lesion i holding 1 + (i % maxImages)
 * images, so lesion sizes vary as in HAM10000.
 */
export function fakeRecords(lesions: Partial<Record<ClassName, number>>, maxImages = 3): LesionRecord[] {
  const records: LesionRecord[] = [];
  for (const dx of CLASSES) {
    for (let lesion = 0; lesion < (lesions[dx] ?? 0); lesion++) {
      for (let image = 0; image <= lesion % maxImages; image++) {
        const imageId = `ISIC_${records.length}`;
        records.push({
          lesionId: `HAM_${dx}_${lesion}`,
          imageId,
          dx,
          label: CLASSES.indexOf(dx),
          dxType: 'histo',
          age: 50,
          sex: 'female',
          localization: 'back',
          imagePath: `/nowhere/${imageId}.jpg`,
          maskPath: null,
          line: records.length + 2,
        });
      }
    }
  }
  return records;
}
