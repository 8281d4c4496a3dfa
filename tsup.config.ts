import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'node/index': 'src/node/index.ts',
    'ham10000/index': 'src/ham10000/index.ts',
    'ham10000/cli': 'src/ham10000/cli.ts',
    'backends/wasm_training': 'src/backends/wasm_training.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  // Peers, optional backends and native modules are resolved by the user's install, never bundled.
  external: [/^@tensorflow\//, 'sharp', 'commander', 'cli-progress'],
});
