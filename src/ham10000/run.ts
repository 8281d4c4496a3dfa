import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../errors';
import { loadModel, readModelArtifacts, saveModel, writeFileAtomic } from '../node/model_io';
import { checkOneOf } from '../validation';
import type { CamMethod } from '../explain';
import type { LesionRecord } from './dataset';
import type { SplitSummary } from './split';
import type { Architecture, Head, Pooling } from './model';
import type { Preprocessing } from './preprocess';

/**
 * A run folder: everything a training run needs to be resumed, evaluated and explained.
 *
 *     RUN/run.json                      settings, class list, split (image ids), warnings
 *     RUN/model/                        the best model so far (lowest validation loss)
 *     RUN/checkpoints/latest.json       which checkpoint is the last complete one
 *     RUN/checkpoints/epoch-0003/       model + optimizer state + training state after epoch 3
 *     RUN/cache/                        the frozen part's features, reused by --resume
 *     RUN/referral.json                 when to call a prediction confident, fitted on validation by evaluate
 */
export interface RunConfig {
  version: 1;
  classes: string[];
  arch: Architecture;
  imageSize: number;
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** How the step size changes over the epochs (see LR_SCHEDULES); absent in runs made before it existed: constant. */
  lrSchedule?: LrSchedule;
  /** Base layers trained; null for the architecture's default. */
  trainableLayers: number | null;
  frozenLayerCount: number;
  pooling: Pooling;
  head: Head;
  denseUnits: number;
  /** The head's dense layer is a DenseFlipout too; absent in runs made before it existed: false. */
  bayesianHidden?: boolean;
  /**
   * Monte Carlo samples per validation image: the validation loss (which picks the best model and
   * drives early stopping) is that of the MC predictive, the distribution evaluate scores; 0 scores
   * the posterior-mean network instead. Absent in runs made before it existed: 0.
   */
  validationSamples?: number;
  camLayer: string;
  /** How pixels become the model's input (the base's Keras preprocessing); absent in runs made before it existed: 'caffe'. */
  preprocessing?: Preprocessing;
  balance: Balance;
  augment: boolean;
  /** Early stopping patience in epochs; 0 trains every epoch. */
  patience: number;
  pretrained: boolean;
  weights: string | null;
  /** MobileNetV2's width multiplier; absent for the other bases and in runs made before it existed. */
  alpha?: number;
  data: string;
  /** Image ids on each side of the lesion-grouped split. */
  split: { train: string[]; validation: string[]; test: string[] };
  summary: SplitSummary;
  warnings: string[];
}

/** The settings of a run that have a default. */
export type DefaultedSetting =
  | 'arch' | 'imageSize' | 'seed' | 'epochs' | 'batchSize' | 'learningRate' | 'lrSchedule' | 'head'
  | 'denseUnits' | 'bayesianHidden' | 'validationSamples' | 'balance' | 'augment' | 'patience';

/**
 * The settings a new run takes when `train` (or the CLI) is not given them: declared here only.
 * The pooling's default depends on the architecture (see `defaultPooling` in model.ts), and the
 * base layers trained on it too (`DEFAULT_TRAINABLE_LAYERS`).
 */
export const RUN_DEFAULTS: Readonly<Required<Pick<RunConfig, DefaultedSetting>>> = {
  arch: 'vgg16',
  imageSize: 224,
  seed: 42,
  epochs: 10,
  batchSize: 32,
  learningRate: 1e-3,
  lrSchedule: 'constant',
  head: 'flipout',
  denseUnits: 0,
  bayesianHidden: false,
  validationSamples: 0,
  balance: 'weights',
  augment: false,
  patience: 0,
};

/** The settings a recipe of docs/ham10000.md fixes for a network trained from scratch. */
export type RecipeSetting = 'imageSize' | 'epochs' | 'learningRate' | 'lrSchedule' | 'balance' | 'augment';

/**
 * The measured recipes of docs/ham10000.md as the defaults of the networks trained from scratch,
 * so that naming the network is enough to get the settings behind its published figures: recipe 1
 * for the compact CNN, recipe 3 for resnet-small (both at a small image size with flips and turns,
 * a cosine schedule, and class imbalance left to the decision rule at evaluation). Pretrained
 * bases keep RUN_DEFAULTS, the article's transfer-learning settings.
 */
export const ARCH_DEFAULTS: Readonly<Partial<Record<Architecture, Readonly<Pick<RunConfig, RecipeSetting>>>>> = {
  compact: { imageSize: 48, epochs: 30, learningRate: 0.003, lrSchedule: 'cosine', balance: 'none', augment: true },
  'resnet-small': { imageSize: 64, epochs: 20, learningRate: 0.003, lrSchedule: 'cosine', balance: 'none', augment: true },
};

/** The defaults of a new run of `arch`: RUN_DEFAULTS with the network's recipe (ARCH_DEFAULTS) over them. */
export function runDefaults(arch: Architecture): Readonly<Required<Pick<RunConfig, DefaultedSetting>>> {
  return { ...RUN_DEFAULTS, ...ARCH_DEFAULTS[arch], arch };
}

/** Monte Carlo samples per image when a run is evaluated (evaluate, report): thousands of images, so fewer than one image's `DEFAULT_SAMPLES`. */
export const EVALUATION_SAMPLES = 30;
/** Networks drawn per Bayesian Grad-CAM map in predict, localize and report: a map per image over a whole split. */
export const CAM_SAMPLES = 8;

/** A map the pipeline draws: the CAM method, the layer it explains, and whether it is averaged over the 8 flips and turns. */
export interface Explanation {
  method: CamMethod;
  layer: string;
  augSmooth: boolean;
}

/**
 * Per architecture, the map that finds the lesion where Grad-CAM at the last layer does not,
 * chosen on the validation split's lesion masks (docs/ham10000.md, recipe 3). resnet-small's last
 * stage is 8×8 at 64 px, too coarse to outline a lesion; LayerCAM (one weight per position, not
 * per channel) at its first stage, averaged over the flips and turns, puts more of its energy on
 * the lesion than a centred blob and peaks on it. Every other network: Grad-CAM at its last
 * convolution, the article's map.
 */
export const ARCH_EXPLANATIONS: Readonly<Partial<Record<Architecture, Explanation>>> = {
  'resnet-small': { method: 'layercam', layer: 'stage1_out', augSmooth: true },
};

/** The map `localize`, `report` and `predict` draw for a run, with any part the caller gives in place of the default's. */
export function runExplanation(config: Pick<RunConfig, 'arch' | 'camLayer'>, given: Partial<Explanation> = {}): Explanation {
  const fallback = ARCH_EXPLANATIONS[config.arch] ?? { method: 'gradcam', layer: config.camLayer, augSmooth: false };
  return { method: given.method ?? fallback.method, layer: given.layer ?? fallback.layer, augSmooth: given.augSmooth ?? fallback.augSmooth };
}

/** The file `localize` writes in the run folder for a map on a split (its first `limit` images when given). */
export function localizationFile(split: EvaluationSplit, { method, layer, augSmooth }: Explanation, limit?: number): string {
  return `localization-${split}-${method}-${layer}${augSmooth ? '-augsmooth' : ''}${limit ? `-first${limit}` : ''}.json`;
}

/** How the pipeline names a map in labels and reports: 'Grad-CAM at block5_conv3', 'layercam at stage1_out, aug-smoothed'. */
export function explanationName(explanation: Explanation): string {
  return `${explanation.method === 'gradcam' ? 'Grad-CAM' : explanation.method} at ${explanation.layer}${explanation.augSmooth ? ', aug-smoothed' : ''}`;
}

/** The answers to class imbalance `train` offers: loss weights per class, class-balanced epochs, or none. */
export const BALANCES = ['weights', 'sampling', 'none'] as const;
/** How training counters class imbalance (see BALANCES and class_balance.ts). */
export type Balance = (typeof BALANCES)[number];

/**
 * How Adam's step size changes with the epoch: 'constant', or 'cosine' (Loshchilov & Hutter 2017,
 * without restarts), which takes large steps early and ever smaller ones late, so the last epochs
 * settle into a minimum instead of bouncing around it.
 */
export const LR_SCHEDULES = ['constant', 'cosine'] as const;
/** A step-size schedule (see LR_SCHEDULES). */
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/** One epoch of a run's history, as kept in its checkpoints and reported to the CLI. */
export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch: NLL plus the weighted KL term. */
  loss: number;
  /** The weighted KL term, mean over the epoch's steps (with a scale-mixture prior each step's is one Monte Carlo draw). */
  kl: number;
  accuracy: number;
  /** Mean cross-entropy on the validation split (see RunConfig.validationSamples); null without one. */
  valLoss: number | null;
  valAccuracy: number | null;
  /** Wall-clock duration of the epoch. */
  seconds: number;
}

/** What a checkpoint holds beside the weights: enough to continue as if never stopped. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  history: EpochRecord[];
  bestValLoss: number | null;
  bestEpoch: number | null;
  stoppedEarly: boolean;
}

/**
 * What the commands that read a trained run evaluate on: the run's test split, its validation
 * split (where settings such as the explanation layer are chosen, so the test split stays unseen),
 * or every image of a folder.
 */
export const EVALUATION_SPLITS = ['test', 'validation', 'all'] as const;
/** An evaluation split (see EVALUATION_SPLITS). */
export type EvaluationSplit = (typeof EVALUATION_SPLITS)[number];

/** The records of each side of a run's split (by image id); images no longer in the folder are left out. */
export function recordsOfSplit(records: readonly LesionRecord[], config: Pick<RunConfig, 'split'>): Record<'train' | 'validation' | 'test', LesionRecord[]> {
  const byId = new Map(records.map((record) => [record.imageId, record]));
  const pick = (ids: string[]) => ids.map((id) => byId.get(id)).filter((record): record is LesionRecord => record !== undefined);
  return { train: pick(config.split.train), validation: pick(config.split.validation), test: pick(config.split.test) };
}

/** The records an evaluation split selects: the run's test or validation side, or all of them. */
export function evaluationRecords(records: readonly LesionRecord[], config: Pick<RunConfig, 'split'>, split: EvaluationSplit): LesionRecord[] {
  return split === 'all' ? [...records] : recordsOfSplit(records, config)[split];
}

/** A trained run, loaded: the model (image → probabilities) and its settings. Call `dispose()`. */
export interface LoadedRun {
  model: tfl.LayersModel;
  config: RunConfig;
  /** Frees the model's weights. */
  dispose(): void;
}

/** Which model of a run: the best so far (lowest validation loss, `RUN/model/`) or the last checkpoint's. */
export const RUN_MODELS = ['best', 'last'] as const;
/** A model of a run (see RUN_MODELS). */
export type RunModel = (typeof RUN_MODELS)[number];

/** Loads a run's best model (default) or its last checkpoint's, with its settings. */
export async function loadRun(run: string, which: RunModel = 'best'): Promise<LoadedRun> {
  const config = readRunConfig(run);
  const dir = checkOneOf('loadRun', 'which', which, RUN_MODELS) === 'best' ? runPaths(run).model : latestCheckpoint(run)?.dir;
  if (dir === undefined || !fs.existsSync(dir)) {
    throw new DataError(`loadRun: run '${run}' has no trained model yet (no ${which === 'best' ? 'model/ folder' : 'checkpoint'}). Let 'ham10000 train' finish an epoch, or --resume it.`);
  }
  const model = await loadModel(dir);
  return { model, config, dispose: () => model.dispose() };
}

/** The paths inside a run folder, in one place so train, evaluate and predict agree on the layout. */
export function runPaths(run: string) {
  return {
    config: path.join(run, 'run.json'),
    model: path.join(run, 'model'),
    checkpoints: path.join(run, 'checkpoints'),
    latest: path.join(run, 'checkpoints', 'latest.json'),
    cache: path.join(run, 'cache'),
    /** The referral thresholds `evaluate` fitted on the validation split, for the browser page. */
    referral: path.join(run, 'referral.json'),
  };
}

export function writeRunConfig(run: string, config: RunConfig): void {
  fs.mkdirSync(run, { recursive: true });
  writeFileAtomic(runPaths(run).config, JSON.stringify(config, null, 2));
}

/** Reads a run's settings (run.json); a DataError, with the fix, when the folder holds no run. */
export function readRunConfig(run: string): RunConfig {
  const file = runPaths(run).config;
  if (!fs.existsSync(file)) {
    throw new DataError(`readRunConfig: run folder '${run}' must hold run.json; it does not. Give the --out folder of a 'ham10000 train' run.`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as RunConfig;
}

/**
 * Writes a checkpoint atomically: everything goes into a fresh folder, which is renamed into
 * place, and only then does latest.json point at it. A crash at any moment leaves latest.json on
 * the previous complete checkpoint. Older checkpoints are removed afterwards.
 */
export async function writeCheckpoint(run: string, model: tfl.LayersModel, optimizer: tf.Optimizer, state: TrainState): Promise<string> {
  const { checkpoints, latest } = runPaths(run);
  const name = `epoch-${String(state.epoch).padStart(4, '0')}`;
  const staging = path.join(checkpoints, `.${name}.${process.pid}.tmp`);
  fs.rmSync(staging, { recursive: true, force: true });
  await saveModel(model, staging);
  const optimizerWeights = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(optimizerWeights);
  // The moments are the optimizer's own variables; only the iteration count is a fresh tensor.
  tf.dispose(optimizerWeights.map((weight) => weight.tensor).filter((tensor) => !(tensor instanceof tf.Variable)));
  writeFileAtomic(path.join(staging, 'optimizer.bin'), new Uint8Array(data as ArrayBuffer));
  writeFileAtomic(path.join(staging, 'state.json'), JSON.stringify({ ...state, optimizer: specs }, null, 2));
  const final = path.join(checkpoints, name);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(staging, final);
  writeFileAtomic(latest, JSON.stringify({ checkpoint: name }));
  for (const entry of fs.readdirSync(checkpoints)) {
    if (entry !== name && entry !== 'latest.json') fs.rmSync(path.join(checkpoints, entry), { recursive: true, force: true });
  }
  return final;
}

/** The last complete checkpoint's folder and state, or null when the run has none. */
export function latestCheckpoint(run: string): { dir: string; state: TrainState } | null {
  const { latest, checkpoints } = runPaths(run);
  if (!fs.existsSync(latest)) return null;
  const dir = path.join(checkpoints, (JSON.parse(fs.readFileSync(latest, 'utf8')) as { checkpoint: string }).checkpoint);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as TrainState;
  return { dir, state };
}

/** Puts a checkpoint's weights (matched by name) and optimizer state back into a freshly built model and optimizer. */
export async function restoreCheckpoint(dir: string, model: tfl.LayersModel, optimizer: tf.Optimizer): Promise<void> {
  const artifacts = readModelArtifacts(dir);
  const saved = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs ?? []);
  try {
    const missing = model.weights.filter((weight) => !saved[weight.originalName]).map((weight) => weight.originalName);
    if (missing.length > 0) {
      throw new DataError(`restoreCheckpoint: checkpoint ${dir} must hold every weight of the model; missing ${missing.join(', ')}. Start a new run instead of --resume.`);
    }
    model.setWeights(model.weights.map((weight) => saved[weight.originalName]));
  } finally {
    tf.dispose(Object.values(saved));
  }
  const { optimizer: specs } = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { optimizer: tf.io.WeightsManifestEntry[] };
  const bytes = fs.readFileSync(path.join(dir, 'optimizer.bin'));
  const named = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, specs);
  // setWeights keeps the tensors as the optimizer's own variables' values; it copies them into variables.
  await optimizer.setWeights(specs.map((spec) => ({ name: spec.name, tensor: named[spec.name] })));
  tf.dispose(Object.values(named));
}
