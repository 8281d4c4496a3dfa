import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { anchors, deadLinks, deadMentions, headingSlug, linkTargets } from '../../scripts/docs/links';

describe('the dead-link check of docs:check', () => {
  it("makes GitHub's heading anchors", () => {
    expect(headingSlug('Two commands')).toBe('two-commands');
    expect(headingSlug('`selectBackend()` and the [WASM](x.md) backend!')).toBe('selectbackend-and-the-wasm-backend');
    expect(headingSlug('KL weight: 1 / N (Blundell et al. 2015, eq. 8)')).toBe('kl-weight-1--n-blundell-et-al-2015-eq-8');
    expect([...anchors('# A\n## A\n```sh\n# not a heading\n```\n### A b\n')]).toEqual(['a', 'a-1', 'a-b']);
  });

  it('reads links outside code only', () => {
    const text = 'See [a](a.md#x) and ![img](i.png "t").\n```ts\n// [b](b.md)\n```\n`[c](c.md)` <img src="d.svg">\n[ref]: e.md\n';
    expect(linkTargets(text)).toEqual([
      { line: 1, target: 'a.md#x' },
      { line: 1, target: 'i.png' },
      { line: 5, target: 'd.svg' },
      { line: 6, target: 'e.md' },
    ]);
  });

  it('finds missing files, missing headings and missing docs named in code; passes the rest', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'links-'));
    try {
      fs.mkdirSync(path.join(root, 'docs', 'guides'), { recursive: true });
      fs.mkdirSync(path.join(root, 'src'));
      fs.writeFileSync(path.join(root, 'docs', 'a.md'), '# Title\n## The part\n');
      fs.writeFileSync(
        path.join(root, 'README.md'),
        '[ok](docs/a.md) [ok](docs/a.md#the-part) [web](https://example.org/x.md) [self](#readme)\n# Readme\n[gone](docs/b.md)\n[bad anchor](docs/a.md#nope)\n',
      );
      fs.writeFileSync(path.join(root, 'docs', 'guides', 'g.md'), '[up](../a.md#title) [wrong](a.md)\n');
      const missing = ['docs', 'guides', 'missing.md'].join('/');
      fs.writeFileSync(path.join(root, 'src', 'x.ts'), `/** See docs/a.md and ${missing}. */\n`);
      expect(deadLinks(root)).toEqual([
        'README.md:3: docs/b.md (docs/b.md does not exist)',
        'README.md:4: docs/a.md#nope (docs/a.md has no heading #nope)',
        'docs/guides/g.md:1: a.md (a.md does not exist)',
      ]);
      expect(deadMentions(root)).toEqual([`src/x.ts:1: ${missing} (does not exist)`]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('finds none in this repository', () => {
    const root = path.join(__dirname, '..', '..');
    expect([...deadLinks(root), ...deadMentions(root)]).toEqual([]);
  });
});
