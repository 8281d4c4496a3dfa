/**
 * `npm run docs:check`: dead links in the docs (links.ts) and TypeDoc's validation (typedoc.json:
 * broken links, exported symbols without a doc comment, public types that are not exported) as a CI
 * gate. A dead link always fails. Warnings already known are listed
 * in `known-warnings.txt`, a ratchet: a new warning fails, a fixed one must leave the list
 * (`npm run docs:check -- --update` rewrites it), so the list can only shrink.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deadLinks, deadMentions } from './links';

const ROOT = path.resolve(__dirname, '..', '..');
const KNOWN = path.join(__dirname, 'known-warnings.txt');
const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex

/** TypeDoc's warnings (no output written), one line each, colours removed. */
export function typedocWarnings(): string[] {
  const typedoc = path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const result = spawnSync(process.execPath, [typedoc, '--emit', 'none', '--logLevel', 'Warn'], { cwd: ROOT, encoding: 'utf8' });
  const lines = `${result.stdout}\n${result.stderr}`.replace(ANSI, '').split('\n');
  const errors = lines.filter((line) => line.startsWith('[error]'));
  if (errors.length > 0) throw new Error(`docs:check: TypeDoc failed:\n${errors.join('\n')}`);
  return lines.filter((line) => line.startsWith('[warning]') && !/^\[warning\] Found \d+ errors/.test(line)).map((line) => line.slice('[warning] '.length));
}

function readKnown(): Set<string> {
  if (!fs.existsSync(KNOWN)) return new Set();
  return new Set(fs.readFileSync(KNOWN, 'utf8').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')));
}

function main(): number {
  const dead = [...deadLinks(ROOT), ...deadMentions(ROOT)];
  for (const link of dead) console.error(`dead link: ${link}`);
  if (dead.length > 0) {
    console.error(`docs:check: ${dead.length} dead link(s): point them at a file (and heading) that exists.`);
    return 1;
  }
  const warnings = typedocWarnings();
  if (process.argv.includes('--update')) {
    const header = '# TypeDoc warnings not fixed yet (npm run docs:check). Fix one, then: npm run docs:check -- --update\n';
    fs.writeFileSync(KNOWN, header + [...new Set(warnings)].sort().join('\n') + '\n');
    console.log(`docs:check: ${warnings.length} known warnings written to ${path.relative(ROOT, KNOWN)}`);
    return 0;
  }
  const known = readKnown();
  const fresh = warnings.filter((warning) => !known.has(warning));
  const fixed = [...known].filter((warning) => !warnings.includes(warning));
  for (const warning of fresh) console.error(`new: ${warning}`);
  for (const warning of fixed) console.error(`fixed (remove it from the list): ${warning}`);
  if (fresh.length > 0 || fixed.length > 0) {
    console.error(
      `docs:check: ${fresh.length} new warning(s), ${fixed.length} fixed but still listed. Add the doc comment or fix the link; ` +
        `when the list is out of date, run npm run docs:check -- --update.`,
    );
    return 1;
  }
  console.log(`docs:check: no new TypeDoc warnings (${known.size} known, listed in ${path.relative(ROOT, KNOWN)}).`);
  return 0;
}

if (require.main === module) process.exitCode = main();
