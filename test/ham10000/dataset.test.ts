import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { countByClass, countProblems, loadHam10000, METADATA_FILE } from '../../src/ham10000/dataset';
import { loadImages } from '../../src/ham10000/images';
import { splitByLesion } from '../../src/ham10000/split';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { DataError } from '../../src/errors';
import { cleanup, REAL_DATA, tempDir } from './data_fixtures';

const SMALL = { imagesPerClass: 3, width: 24, height: 18, seed: 5 };

describe('loadHam10000 on a generated dataset in the Kaggle layout', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir('kaggle');
    await writeSyntheticHam10000(root, SMALL);
  });
  afterAll(() => cleanup(root));

  it('reads every row, finds images in both part folders and the masks', async () => {
    const { records, problems } = await loadHam10000(root);
    expect(problems).toEqual([]);
    expect(records).toHaveLength(21);
    expect(countByClass(records)).toEqual({ akiec: 3, bcc: 3, bkl: 3, df: 3, mel: 3, nv: 3, vasc: 3 });
    const folders = new Set(records.map((record) => path.basename(path.dirname(record.imagePath))));
    expect(folders).toEqual(new Set(['HAM10000_images_part_1', 'HAM10000_images_part_2']));
    expect(records.every((record) => record.maskPath === path.join(root, 'HAM10000_segmentations_lesion_tschandl', `${record.imageId}_segmentation.png`))).toBe(true);
    expect(records.map((record) => record.line)).toEqual(records.map((_, i) => i + 2));
    expect(records[0]).toMatchObject({ dx: 'akiec', label: 0, lesionId: 'HAM_9000000', imageId: 'ISIC_9000000' });
  });

  it('reports a bad row, a missing image and a corrupt JPEG with file and line, and skips each', async () => {
    const broken = await tempDir('broken');
    try {
      await fs.cp(root, broken, { recursive: true });
      const brokenCsv = path.join(broken, METADATA_FILE);
      const lines = (await fs.readFile(brokenCsv, 'utf8')).trimEnd().split('\n');
      lines[3] = lines[3].replace('akiec', 'melanomaa'); // line 4: unknown diagnosis
      lines.push('HAM_1,ISIC_1,nv,histo'); // line 23: too few fields
      lines.push('HAM_2,ISIC_9000005,nv,histo,50.0,male,back'); // line 24: repeats line 7's image
      await fs.writeFile(brokenCsv, `${lines.join('\n')}\n`);
      const first = (await loadHam10000(broken)).records;
      await fs.rm(first[4].imagePath); // ISIC_9000005, line 7
      await fs.writeFile(first[6].imagePath, (await fs.readFile(first[6].imagePath)).subarray(0, 200)); // line 9

      const { records, problems } = await loadHam10000(broken);
      expect(problems.map(({ kind, file, line }) => ({ kind, file, line }))).toEqual([
        { kind: 'badRow', file: brokenCsv, line: 4 },
        { kind: 'missingImage', file: brokenCsv, line: 7 },
        { kind: 'badRow', file: brokenCsv, line: 23 },
        { kind: 'badRow', file: brokenCsv, line: 24 },
      ]);
      expect(problems[0].message).toBe("line 4: dx must be one of akiec, bcc, bkl, df, mel, nv, vasc; got 'melanomaa'");
      expect(problems[1].message).toMatch(/^line 7: image 'ISIC_9000005' is in none of HAM10000_images_part_1\/, HAM10000_images_part_2\/, .* \(as \.jpg, \.jpeg or \.png\)$/);
      expect(problems[2].message).toBe('line 23: has 4 fields; the header has 7');
      expect(problems[3].message).toBe("line 24: image_id 'ISIC_9000005' repeats line 7");
      expect(records).toHaveLength(19);
      expect(countProblems(problems)).toEqual({ badRow: 3, missingImage: 1, corruptImage: 0, corruptMask: 0 });

      // The corrupt JPEG is found when decoded.
      const seen: string[] = [];
      const loaded = await loadImages(records, { height: 8, width: 8, onProblem: (problem) => seen.push(problem.file) });
      expect(loaded.problems).toEqual([
        { kind: 'corruptImage', file: first[6].imagePath, line: 9, message: expect.stringMatching(/^loadImages: cannot decode .*ISIC_9000007\.jpg: .*The file is corrupt or not an image/) },
      ]);
      expect(seen).toEqual([first[6].imagePath]);
      expect(loaded.images.shape).toEqual([18, 8, 8, 3]);
      expect(loaded.records.map((record) => record.imageId)).not.toContain('ISIC_9000007');
      loaded.images.dispose();
    } finally {
      await cleanup(broken);
    }
  });

  it('reads blank or unknown ages as null, rejects words, and keeps image-less rows when images are not required', async () => {
    const dir = await tempDir('ages');
    try {
      await fs.writeFile(
        path.join(dir, METADATA_FILE),
        'lesion_id,image_id,dx,dx_type,age,sex,localization\nL1,I1,nv,histo,,male,back\nL2,I2,nv,histo,unknown,male,back\nL3,I3,nv,histo,old,male,back\n',
      );
      const { records, problems } = await loadHam10000(dir, { requireImages: false });
      expect(records.map((record) => record.age)).toEqual([null, null]);
      expect(records[0].imagePath).toBe(path.join(dir, 'HAM10000_images_part_1', 'I1.jpg'));
      expect(problems.map((problem) => problem.message)).toEqual(["line 4: age must be a number or empty; got 'old'"]);
    } finally {
      await cleanup(dir);
    }
  });

  it('fails before any work on a CSV without the needed columns, naming file, columns and fix', async () => {
    const dir = await tempDir('columns');
    try {
      const file = path.join(dir, METADATA_FILE);
      await fs.writeFile(file, 'lesion_id,image,diagnosis,age\nL1,I1,nv,40\n');
      await expect(loadHam10000(dir)).rejects.toThrow(DataError);
      await expect(loadHam10000(dir)).rejects.toThrow(
        `loadHam10000: ${file} must have the columns lesion_id, image_id, dx; got lesion_id, image, diagnosis, age (missing image_id, dx). ` +
          "Use the dataset's own metadata file, whose header is lesion_id,image_id,dx,dx_type,age,sex,localization.",
      );
    } finally {
      await cleanup(dir);
    }
  });

  it('turns a malformed CSV into one DataError naming the file, and accepts CRLF, a BOM and extra columns', async () => {
    const dir = await tempDir('malformed');
    try {
      const file = path.join(dir, METADATA_FILE);
      await fs.writeFile(file, 'lesion_id,image_id,dx\nL1,"I1,nv\n');
      await expect(loadHam10000(dir)).rejects.toThrow(new RegExp(`^loadHam10000: ${file} is not valid CSV: .+\\. Repair or re-download the file\\.$`));
      await fs.writeFile(file, '\ufeffLesion_ID,image_id,dx,note,note\r\nL1,I1,NV,a,b\r\n\r\n');
      const { records, problems } = await loadHam10000(dir, { requireImages: false });
      expect(problems).toEqual([]);
      expect(records.map(({ lesionId, imageId, dx, dxType, age, line }) => ({ lesionId, imageId, dx, dxType, age, line }))).toEqual([
        { lesionId: 'L1', imageId: 'I1', dx: 'nv', dxType: '', age: null, line: 2 },
      ]);
    } finally {
      await cleanup(dir);
    }
  });

  it('fails clearly when the folder has no metadata file', async () => {
    const dir = await tempDir('empty');
    try {
      await expect(loadHam10000(dir)).rejects.toThrow(
        `loadHam10000: root must be a folder holding HAM10000_metadata.csv; got '${dir}' (${path.join(dir, METADATA_FILE)} which is absent). ` +
          'Point it at the folder of the HAM10000 download, or write a synthetic one with writeSyntheticHam10000.',
      );
    } finally {
      await cleanup(dir);
    }
  });
});

describe('loadHam10000 on one flat folder', () => {
  it('loads HAM10000_images/ and images lying in the root, without masks', async () => {
    const root = await tempDir('flat');
    try {
      await writeSyntheticHam10000(root, { ...SMALL, imagesPerClass: { nv: 2, mel: 2 }, layout: 'flat', withMasks: false });
      const flat = await loadHam10000(root);
      expect(flat.problems).toEqual([]);
      expect(flat.records.map((record) => [record.dx, path.relative(root, record.imagePath), record.maskPath])).toEqual([
        ['mel', 'HAM10000_images/ISIC_9000000.jpg', null],
        ['mel', 'HAM10000_images/ISIC_9000001.jpg', null],
        ['nv', 'HAM10000_images/ISIC_9000002.jpg', null],
        ['nv', 'HAM10000_images/ISIC_9000003.jpg', null],
      ]);
      await fs.rename(path.join(root, 'HAM10000_images', 'ISIC_9000003.jpg'), path.join(root, 'ISIC_9000003.jpg'));
      const moved = await loadHam10000(root);
      expect(moved.records[3].imagePath).toBe(path.join(root, 'ISIC_9000003.jpg'));
    } finally {
      await cleanup(root);
    }
  });
});

const describeReal = existsSync(path.join(REAL_DATA, METADATA_FILE)) ? describe : describe.skip;
describeReal('the real HAM10000 subset (skipped where ../shared/ham10000 is absent)', () => {
  it('matches the counts of its README and splits without a lesion leak', async () => {
    const { records, problems } = await loadHam10000(REAL_DATA);
    expect(problems).toEqual([]);
    expect(records).toHaveLength(6989);
    expect(new Set(records.map((record) => record.lesionId)).size).toBe(5199);
    expect(countByClass(records)).toEqual({ akiec: 233, bcc: 348, bkl: 765, df: 80, mel: 787, nv: 4666, vasc: 110 });
    expect(records.every((record) => record.maskPath !== null)).toBe(true);

    const split = splitByLesion(records, { seed: 42 });
    const sideOf = new Map<string, string>();
    for (const side of ['train', 'validation', 'test'] as const) {
      for (const record of split[side]) {
        expect(sideOf.get(record.lesionId) ?? side).toBe(side);
        sideOf.set(record.lesionId, side);
      }
    }
    expect(split.summary.lesions.train + split.summary.lesions.validation + split.summary.lesions.test).toBe(5199);
    expect(split.test.length / records.length).toBeCloseTo(0.15, 1);
    expect(tf.memory().numTensors).toBe(0);
  });
});
