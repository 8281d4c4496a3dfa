import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'node/index': 'src/node/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  // Peer and optional backends are resolved by the user's install, never bundled.
  external: [/^@tensorflow\//, 'sharp', 'commander', 'cli-progress'],
});
