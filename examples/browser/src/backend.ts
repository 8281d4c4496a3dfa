/**
 * Backend choice in the browser: WebGL where the browser has it, else WASM, else the plain-JS CPU
 * backend, with the reason each one before it was passed over. The WASM binaries are served next to
 * the page (the build copies them into `wasm/`), never from a CDN.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../../src/backends/wasm_training';

// The convolution gradients tfjs-backend-wasm lacks, so Grad-CAM at any layer runs on WASM.
registerWasmTrainingKernels();

export const BACKEND_ORDER = ['webgl', 'wasm', 'cpu'] as const;
export type BrowserBackend = (typeof BACKEND_ORDER)[number];

export interface BackendChoice {
  name: BrowserBackend;
  /** Why each backend tried before `name` was not used. */
  skipped: Array<{ name: BrowserBackend; reason: string }>;
}

/** Tries `order` in turn (default webgl, wasm, cpu) and keeps the first that initialises and computes. */
export async function chooseBackend(wasmFolder: string, order: readonly BrowserBackend[] = BACKEND_ORDER): Promise<BackendChoice> {
  setWasmPaths(wasmFolder);
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    const reason = await tryBackend(name);
    if (reason === null) return { name, skipped };
    skipped.push({ name, reason });
  }
  throw new Error(`No TensorFlow.js backend works in this browser: ${skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`);
}

async function tryBackend(name: BrowserBackend): Promise<string | null> {
  try {
    if (!(await tf.setBackend(name))) return 'failed to initialise';
    await tf.ready();
    // A backend can initialise and still fail at its first kernel (e.g. a WebGL context lost at once).
    const sum = tf.tidy(() => tf.sum(tf.add(tf.ones([2]), 1)));
    const value = (await sum.data())[0];
    sum.dispose();
    return value === 4 ? null : `computes 1 + 1 + 1 + 1 = ${value}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
