import * as fs from 'node:fs';
import { defineConfig } from 'tsup';
import { optionalPeers, peerEntries, peerPattern, type PeerEntry } from './scripts/build/optional_peers';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
// The Node pipeline's optional peers that src/ imports statically (tfjs-node is only probed at run time).
const PROBED_ONLY = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];
const ranges = Object.fromEntries(
  Object.entries(pkg.peerDependencies).filter(([name]) => pkg.peerDependenciesMeta[name]?.optional && !PROBED_ONLY.includes(name)),
);
const NODE = ['sharp', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'];
const PIPELINE = [...NODE, 'commander', 'cli-progress', 'csv-parse'];

// Every entry point, and the optional peers it needs (the core: none).
const entries: Record<string, PeerEntry> = {
  index: { source: 'src/index.ts', label: 'tfjs-trust', peers: [] },
  'node/index': { source: 'src/node/index.ts', label: 'tfjs-trust/node', peers: NODE },
  'ham10000/index': { source: 'src/ham10000/index.ts', label: 'tfjs-trust/ham10000', peers: PIPELINE },
  // The `ham10000` executable (package.json bin).
  'ham10000/cli': { source: 'src/ham10000/cli.ts', label: 'the ham10000 command', peers: PIPELINE, main: 'runAsProgram' },
  'backends/wasm_training': { source: 'src/backends/wasm_training.ts', label: 'tfjs-trust/wasm-training', peers: ['@tensorflow/tfjs-backend-wasm'] },
};

export default defineConfig({
  // tsup (and its type declarations) reads the sources; esbuild builds the generated entries that check peers.
  entry: Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, entry.source])),
  esbuildOptions(options) {
    options.entryPoints = peerEntries(entries);
  },
  format: ['esm', 'cjs'],
  // One copy of each module (and so of each class) shared by every entry, in CJS as in ESM.
  splitting: true,
  dts: !process.env.NO_DTS,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  // Peers and optional backends are resolved by the user's install, never bundled.
  external: [/^@tensorflow\//],
  // ...except the optional peers, which optionalPeers() loads behind a one-line install hint.
  noExternal: [peerPattern(ranges)],
  esbuildPlugins: [optionalPeers({ root: __dirname, ranges, entries })],
});
