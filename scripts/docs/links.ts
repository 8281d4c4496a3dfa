/**
 * Dead links, for `npm run docs:check`. In the Markdown docs (README.md, docs/, examples/,
 * benchmarks/), a relative link must name a file that exists and, with `#anchor`, a heading of that
 * file (GitHub's anchors, which npm's registry page keeps). Web links are not fetched: CI has no
 * network. In code, comments and pages, a doc named by its path (docs/ and a name ending .md) must exist.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The folders scanned, relative to the root; docs/api is TypeDoc's output, checked by TypeDoc. */
const SCANNED = ['docs', 'examples', 'benchmarks'];
const SKIPPED = new Set(['node_modules', 'api', 'dist']);

/** The Markdown files checked: README.md and every .md under the scanned folders. */
export function markdownFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (SKIPPED.has(entry.name)) continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.md')) found.push(file);
    }
  };
  for (const dir of SCANNED) if (fs.existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return [path.join(root, 'README.md'), ...found.sort()];
}

/** The text outside fenced code blocks and inline code, line by line (code is not a link). */
function proseLines(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null;
      return '';
    }
    return fence === null ? line.replace(/`[^`]*`/g, '') : '';
  });
}

/** GitHub's anchor of a heading: the text lowercased, punctuation dropped, spaces made hyphens. */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/`/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Every anchor of a Markdown text; repeated headings get -1, -2, ... as on GitHub. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fence: string | null = null;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) fence = fence === null ? marker : null;
    const heading = fence === null ? /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1] : undefined;
    if (heading === undefined) continue;
    const slug = headingSlug(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  for (const match of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) result.add(match[1]);
  return result;
}

/** The link targets of a Markdown text, with their line numbers: inline links, images and reference definitions. */
export function linkTargets(markdown: string): { line: number; target: string }[] {
  const targets: { line: number; target: string }[] = [];
  proseLines(markdown).forEach((line, index) => {
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push({ line: index + 1, target: match[1] });
    const definition = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(line);
    if (definition) targets.push({ line: index + 1, target: definition[1] });
    for (const match of line.matchAll(/<(?:img|a)\s[^>]*(?:src|href)="([^"]+)"/g)) targets.push({ line: index + 1, target: match[1] });
  });
  return targets;
}

/** Why `target`, linked from `file`, is dead, or null when it resolves. */
export function deadReason(file: string, target: string, readFile: (file: string) => string | null): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // http:, https:, mailto:: not fetched
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const resolved = pathPart === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(pathPart));
  if (pathPart !== '' && !fs.existsSync(resolved)) return `${pathPart} does not exist`;
  if (anchor === undefined || anchor === '' || !resolved.endsWith('.md')) return null;
  const text = readFile(resolved);
  if (text !== null && !anchors(text).has(decodeURIComponent(anchor).toLowerCase())) return `${pathPart || path.basename(file)} has no heading #${anchor}`;
  return null;
}

/** Every dead link under `root`, one line each: `file:line: target (why)`. */
export function deadLinks(root: string): string[] {
  const cache = new Map<string, string | null>();
  const readFile = (file: string) => {
    if (!cache.has(file)) cache.set(file, fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file, 'utf8') : null);
    return cache.get(file)!;
  };
  const dead: string[] = [];
  for (const file of markdownFiles(root)) {
    for (const { line, target } of linkTargets(readFile(file) ?? '')) {
      const reason = deadReason(file, target, readFile);
      if (reason !== null) dead.push(`${path.relative(root, file)}:${line}: ${target} (${reason})`);
    }
  }
  return dead;
}

/** Where code, comments and pages name docs by path, and the kinds of file read there. */
const MENTIONS_IN = ['src', 'examples', 'scripts', 'benchmarks', 'docs'];
const MENTION_FILES = /\.(ts|mts|js|mjs|html|md|sh)$/;

/** Every path of a doc (docs/, ending .md) named in README.md and the files under MENTIONS_IN that does not exist. */
export function deadMentions(root: string): string[] {
  const files: string[] = [path.join(root, 'README.md')];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (SKIPPED.has(entry.name)) continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (MENTION_FILES.test(entry.name)) files.push(file);
    }
  };
  for (const dir of MENTIONS_IN) if (fs.existsSync(path.join(root, dir))) walk(path.join(root, dir));
  const dead: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    // Markdown links are deadLinks' (relative to their file); here only paths named in prose or code.
    (file.endsWith('.md') ? text.replace(/\]\([^)]*\)/g, ']') : text).split('\n').forEach((line, index) => {
      for (const match of line.matchAll(/(?<![\w/.-])docs\/[\w./-]+?\.md\b/g)) {
        if (!fs.existsSync(path.join(root, match[0]))) dead.push(`${path.relative(root, file)}:${index + 1}: ${match[0]} (does not exist)`);
      }
    });
  }
  return dead;
}
