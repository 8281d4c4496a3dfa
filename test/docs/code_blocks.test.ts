/**
 * Every TypeScript block of the README, getting started and the guides is type-checked and run
 * against the source (scripts/docs/code_blocks.ts), one program per page, in a temp folder.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { documentedPages, programOf, ROOT, typeErrors, typescriptBlocks } from '../../scripts/docs/code_blocks';

const run = promisify(execFile);
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

const pages = documentedPages()
  .map((page) => ({ page, name: path.relative(ROOT, page), blocks: typescriptBlocks(fs.readFileSync(page, 'utf8')) }))
  .filter(({ blocks }) => blocks.length > 0);

describe('code blocks of the docs', () => {
  let work: string;
  const programs = new Map<string, string>();

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-trust-docs-'));
    // Packages the blocks import (tfjs, sharp…) resolve from the repository's node_modules.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
    for (const { page, name, blocks } of pages) {
      const file = path.join(work, `${name.replace(/[/.]/g, '_')}.ts`);
      fs.writeFileSync(file, programOf(blocks, page));
      programs.set(name, file);
    }
  });

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('finds blocks in the README, getting started and the guides', () => {
    const names = pages.map(({ name }) => name);
    expect(names).toEqual(expect.arrayContaining(['README.md', 'docs/getting-started.md']));
    expect(names.filter((name) => name.startsWith('docs/guides/')).length).toBeGreaterThanOrEqual(5);
  });

  it('type-checks every block against the source', () => {
    expect(typeErrors([...programs.values()])).toEqual([]);
  });

  it.each(pages.map(({ name }) => name))('runs the blocks of %s', async (name) => {
    const file = programs.get(name)!;
    const { stderr } = await run(process.execPath, [TSX, file], { cwd: work, env: { ...process.env, TFJS_TRUST_BACKEND: 'cpu' }, timeout: 60_000 }).catch(
      (error: { stderr?: string; message: string }) => {
        throw new Error(`${name} failed:\n${error.stderr ?? error.message}\n--- program ---\n${fs.readFileSync(file, 'utf8')}`);
      },
    );
    expect(stderr).not.toMatch(/Error/);
  });
});
