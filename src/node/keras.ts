import * as fs from 'node:fs';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../errors';
import { assignKerasWeights, checkModel, type KerasWeightsLoaded } from '../keras/assign';
import { readKerasWeights } from '../keras/read';

/**
 * Fills a tfjs-layers model with the weights of a Keras file given by path (`.h5` from
 * `save_weights` or the Keras Applications, full-model `.h5`, Keras 3 `.weights.h5` or `.keras`)
 * or as bytes. Layers match by Keras name; all or nothing, as the core `loadKerasWeights`.
 */
export async function loadKerasWeights(model: tfl.LayersModel, source: string | Uint8Array | ArrayBuffer): Promise<KerasWeightsLoaded> {
  checkModel(model);
  if (typeof source !== 'string') return assignKerasWeights(model, await readKerasWeights(source), 'the Keras file');
  return assignKerasWeights(model, await readKerasWeightFile(source), source);
}

/** Reads a Keras weight file from disk, with a DataError naming the path when it cannot be read. */
export async function readKerasWeightFile(file: string) {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new DataError(`loadKerasWeights: ${file} must be a readable Keras weight file; ${(error as Error).message}. Check the path.`);
  }
  return readKerasWeights(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}
