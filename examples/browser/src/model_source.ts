/**
 * Where the demo's model comes from: files the user picks (model.json, its weight shards and,
 * optionally, the run.json and referral.json a `ham10000` run writes beside its model folder) or a
 * URL (`?model=/model/model.json`, as `npm run demo:browser -- --run RUN` serves it).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// Importing the library registers its layer classes, so tfl.loadLayersModel can rebuild them.
import { camCandidates, stochasticLayers } from '../../../src';
import type { Preprocessing } from './analysis';
import { fittedThresholds, placeholderThresholds, type ReadingThresholds, type ReferralFile } from './reading';

/** What the page needs to know about a model beyond its weights. */
export interface ModelInfo {
  model: tfl.LayersModel;
  classNames: string[];
  camLayer: string;
  /** The input's height and width. */
  inputSize: [number, number];
  /** The run's (run.json `preprocessing`: 'tf' for MobileNetV2, else 'vgg'); the user may change it for a model of their own. */
  preprocessing: Preprocessing;
  /** Names of the stochastic layers: none means a mutual information of zero by construction. */
  stochastic: string[];
  /** When a prediction is called confident: fitted on the run's validation split (referral.json), or placeholders that say so. */
  thresholds: ReadingThresholds;
  source: string;
}

/** The part of a HAM10000 run.json the page reads. */
interface RunJson {
  classes?: string[];
  camLayer?: string;
  /** Keras' preprocessing mode of the run's base; absent in older runs ('caffe'). */
  preprocessing?: 'caffe' | 'tf';
}

export async function loadFromFiles(files: File[]): Promise<ModelInfo> {
  const modelJson = files.find((file) => file.name.endsWith('.json') && !RUN_FILES.includes(file.name));
  if (!modelJson) throw new Error(`Pick the model's model.json together with its weight files; got ${files.map((f) => f.name).join(', ') || 'nothing'}.`);
  const weights = files.filter((file) => !file.name.endsWith('.json'));
  const read = async <T>(name: string): Promise<T | null> => {
    const file = files.find((f) => f.name === name);
    return file ? (JSON.parse(await file.text()) as T) : null;
  };
  const model = await tfl.loadLayersModel(tf.io.browserFiles([modelJson, ...weights]));
  return describeModel(model, (await read<RunJson>('run.json')) ?? {}, await read<ReferralFile>('referral.json'), files.map((f) => f.name).join(', '));
}

/** The run folder's own files, picked beside the model's. */
const RUN_FILES = ['run.json', 'referral.json'];

/** Loads `modelUrl`; a run.json and referral.json next to the model folder (the run folder's layout) are used when present. */
export async function loadFromUrl(modelUrl: string): Promise<ModelInfo> {
  const beside = async <T>(name: string): Promise<T | null> => {
    const response = await fetch(new URL(`../${name}`, new URL(modelUrl, location.href)).href).catch(() => null);
    return response?.ok ? ((await response.json()) as T) : null;
  };
  const model = await tfl.loadLayersModel(modelUrl);
  return describeModel(model, (await beside<RunJson>('run.json')) ?? {}, await beside<ReferralFile>('referral.json'), modelUrl);
}

function describeModel(model: tfl.LayersModel, run: RunJson, referral: ReferralFile | null, source: string): ModelInfo {
  const [, height, width, channels] = model.inputs[0].shape;
  if (typeof height !== 'number' || typeof width !== 'number' || channels !== 3) {
    throw new Error(`The model must take RGB images of a fixed size [batch, height, width, 3]; its input is [${model.inputs[0].shape.join(', ')}].`);
  }
  const classCount = model.outputs[0].shape[1] ?? 0;
  const candidates = camCandidates(model);
  const camLayer = run.camLayer ?? candidates[candidates.length - 1];
  if (camLayer === undefined) throw new Error('The model has no convolutional layer for Grad-CAM to explain.');
  return {
    model,
    classNames: run.classes?.length === classCount ? run.classes : Array.from({ length: classCount }, (_, i) => `class ${i}`),
    camLayer,
    inputSize: [height, width],
    preprocessing: run.preprocessing === 'tf' ? 'tf' : 'vgg',
    stochastic: stochasticLayers(model).map((layer) => layer.name),
    thresholds: referral ? fittedThresholds(referral) : placeholderThresholds(),
    source,
  };
}
