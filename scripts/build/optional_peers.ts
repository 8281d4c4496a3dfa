/**
 * An esbuild plugin (used by tsup.config.ts) that turns the Node pipeline's optional peer
 * dependencies into one clear error. The browser core installs none of them (docs/packaging.md);
 * an entry that needs them checks that they resolve and otherwise fails with ONE line naming the
 * exact `npm install` to run (the CLI prints it and exits 1).
 *
 * Static imports cannot do that in ESM: a missing package fails at link time, before any code of
 * the entry runs, with Node's multi-line ERR_MODULE_NOT_FOUND. So each import of an optional peer
 * becomes a require through `createRequire` (the same files `import` gets for these packages: their
 * `require` conditions or `main`). An absent peer is a stub that throws the one-line error when
 * used; the entry's check, which runs once the shared chunks are evaluated, lists every absent one.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Plugin } from 'esbuild';

/** One entry point of the package, and the optional peers it needs. */
export interface PeerEntry {
  /** Its source file, relative to the project root. */
  source: string;
  /** The import path users see, for the message (`tfjs-trust/ham10000`). */
  label: string;
  /** The optional peers the entry imports (package names). */
  peers: string[];
  /** For an executable: the export of `source` to call once the check passed (which then prints and exits 1 instead of throwing). */
  main?: string;
}

/** Options of `optionalPeers`. */
export interface OptionalPeersOptions {
  /** Optional peer name → version range (package.json's peerDependencies). */
  ranges: Record<string, string>;
  /** tsup entry name (`ham10000/index`) → the entry. */
  entries: Record<string, PeerEntry>;
  /** The project root (where src/ is). */
  root: string;
}

const LOADER = 'tfjs-trust-optional-peers:loader';
const ENTRY = 'tfjs-trust-optional-peers:entry/';
const NS = 'tfjs-trust-optional-peers';

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * tsup's `entry` map: each entry that needs peers is a generated module that re-exports the source and then runs
 * the entry's check. Only the entry runs it, never the modules other entries share: a check inside
 * `wasm_training.ts` would fire, with its shorter list, when `tfjs-trust/ham10000` imports it.
 */
export function peerEntries(entries: Record<string, PeerEntry>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, entry.peers.length > 0 ? `${ENTRY}${name}` : entry.source]));
}

/** The plugin; give esbuild `entryPoints: peerEntries(entries)` and tsup `noExternal: [peerPattern(ranges)]` (so tsup does not externalise the peers first). */
export function optionalPeers(options: OptionalPeersOptions): Plugin {
  const pattern = peerPattern(options.ranges);
  const errors = path.resolve(options.root, 'src', 'errors.ts');
  return {
    name: 'tfjs-trust-optional-peers',
    setup(build) {
      const format = JSON.parse(String(build.initialOptions.define?.TSUP_FORMAT ?? '"esm"')) as string;
      build.onResolve({ filter: pattern }, (args) => ({ path: args.path, namespace: NS }));
      build.onResolve({ filter: new RegExp(`^${escape(LOADER)}$|^${escape(ENTRY)}`) }, (args) => ({ path: args.path, namespace: NS }));
      build.onLoad({ filter: /.*/, namespace: NS }, (args) => {
        if (args.path === LOADER) return { contents: loaderSource(format, options.ranges, errors), loader: 'js', resolveDir: options.root };
        if (args.path.startsWith(ENTRY)) return { contents: entrySource(options.root, options.entries[args.path.slice(ENTRY.length)]), loader: 'js', resolveDir: options.root };
        return { contents: wrapperSource(args.path, exportNames(options.root, args.path)), loader: 'js' };
      });
    },
  };
}

/** An entry: the source's exports, then the check (it runs after the shared chunks, where absent peers are stubs). */
function entrySource(root: string, entry: PeerEntry): string {
  const source = JSON.stringify(path.resolve(root, entry.source));
  const check = `checkPeers(${JSON.stringify(entry.label)}, ${JSON.stringify(entry.peers)}, ${entry.main !== undefined});\n`;
  const head = `import { checkPeers } from '${LOADER}';\n`;
  if (entry.main === undefined) return `${head}export * from ${source};\n${check}`;
  return `#!/usr/bin/env node\n${head}import { ${entry.main} } from ${source};\n${check}${entry.main}();\n`;
}

/**
 * The names a peer exports, read from the installed devDependency at build time: an ES module
 * re-exporting a required CommonJS one must list them (a CommonJS wrapper would make esbuild wrap
 * every module of the graph in lazy initialisers, which browser bundlers cannot tree-shake).
 */
function exportNames(root: string, id: string): string[] {
  const exported = createRequire(path.join(root, 'package.json'))(id) as Record<string, unknown>;
  return Object.keys(exported).filter((name) => name !== 'default' && name !== '__esModule' && /^[A-Za-z_$][\w$]*$/.test(name));
}

/**
 * An ES module standing for peer `id`: its default and named exports, or, when the peer is not
 * installed, stubs that throw the one-line error if used before the entry's check reports it.
 */
function wrapperSource(id: string, names: string[]): string {
  const bindings = names.map((name, i) => `const n${i} = stub ?? m[${JSON.stringify(name)}];`).join('\n');
  const list = names.map((name, i) => `n${i} as ${name}`).join(', ');
  return (
    `import { loadPeer } from '${LOADER}';\nconst { module: m, stub } = loadPeer(${JSON.stringify(id)});\n` +
    `export default stub ?? (m.__esModule ? m.default : m);\n${bindings}\nexport { ${list} };\n`
  );
}

/** Matches an import of any of the peers or of a subpath (`csv-parse/sync`). */
export function peerPattern(ranges: Record<string, string>): RegExp {
  return new RegExp(`^(${Object.keys(ranges).map(escape).join('|')})(/.*)?$`);
}

/** The runtime: resolves and loads peers next to the built file, and words the one-line error. */
function loaderSource(format: string, ranges: Record<string, string>, errors: string): string {
  const here = format === 'cjs' ? '__filename' : 'import.meta.url';
  return `import { createRequire } from 'node:module';
import { TrustError } from ${JSON.stringify(errors)};
const load = createRequire(${here});
const RANGES = ${JSON.stringify(ranges)};
const packageOf = (id) => id.split('/').slice(0, id.startsWith('@') ? 2 : 1).join('/');
function absent(names) {
  return names.filter((name) => {
    try { load.resolve(name); return false; } catch (error) { return error && error.code === 'MODULE_NOT_FOUND'; }
  });
}
function message(who, names) {
  return who + ' needs ' + names.join(', ') + ' (optional peer dependenc' + (names.length > 1 ? 'ies' : 'y') + ' of tfjs-trust, not installed). ' +
    'Fix: npm install ' + names.map((name) => name + '@' + RANGES[name]).join(' ');
}
export function checkPeers(who, names, exit) {
  const missing = absent(names);
  if (missing.length === 0) return;
  if (!exit) throw new TrustError(message(who, missing));
  process.stderr.write('ham10000: error: ' + message(who, missing) + '\\n');
  process.exit(1);
}
export function loadPeer(id) {
  const name = packageOf(id);
  if (absent([name]).length === 0) return { module: load(id), stub: null };
  const fail = () => { throw new TrustError(message('tfjs-trust', [name])); };
  return { module: null, stub: new Proxy(function () {}, { get: fail, apply: fail, construct: fail, has: fail, set: fail }) };
}
`;
}
