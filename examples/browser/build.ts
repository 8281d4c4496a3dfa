/**
 * Builds the demo into a static folder: index.html, demo.js (one esbuild bundle) and wasm/ (the
 * tfjs WASM binaries, served by the page itself, never from a CDN).
 *
 *     npx tsx examples/browser/build.ts [outDir]      (default examples/browser/dist)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';

export const DEMO_SOURCE = __dirname;
export const DEFAULT_OUT_DIR = path.join(__dirname, 'dist');

const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

export async function buildDemo(outDir: string = DEFAULT_OUT_DIR, options: { minify?: boolean } = {}): Promise<void> {
  fs.mkdirSync(path.join(outDir, 'wasm'), { recursive: true });
  await build({
    entryPoints: [path.join(DEMO_SOURCE, 'src', 'main.ts')],
    outfile: path.join(outDir, 'demo.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: options.minify ?? true,
    sourcemap: true,
    // package.json's "sideEffects" names only the dist entries, so esbuild would drop the source
    // modules' registrations (layer classes for loadLayersModel, the WASM gradient kernels).
    ignoreAnnotations: true,
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(DEMO_SOURCE, 'index.html'), path.join(outDir, 'index.html'));
  const wasmDist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  for (const file of WASM_BINARIES) fs.copyFileSync(path.join(wasmDist, file), path.join(outDir, 'wasm', file));
}

if (require.main === module) {
  const outDir = path.resolve(process.argv[2] ?? DEFAULT_OUT_DIR);
  buildDemo(outDir).then(
    () => console.log(`Built the browser demo into ${outDir}`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
