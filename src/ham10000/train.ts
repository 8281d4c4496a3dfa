import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../errors';
import { checkNumber, checkOneOf, checkOptions, invalidArgument, optionKeys } from '../validation';
import { negativeElboTerms, withSampling } from '../layers';
import { SeedStream } from '../random';
import { McPredictor } from '../uncertainty';
import { saveModel } from '../node/model_io';
import { balancedSampler, classWeights } from './class_balance';
import { CLASSES, loadHam10000, type DataProblem, type LesionRecord } from './dataset';
import { buildFeatureCache, type FeatureCache } from './feature_cache';
import { ARCHITECTURES, buildClassifier, defaultPooling, HEADS, splitClassifier, type Architecture, type Head, type Pooling } from './model';
import { augment } from './preprocess';
import {
  BALANCES,
  latestCheckpoint,
  LR_SCHEDULES,
  readRunConfig,
  recordsOfSplit,
  restoreCheckpoint,
  RUN_DEFAULTS,
  runDefaults,
  runPaths,
  writeCheckpoint,
  writeRunConfig,
  type Balance,
  type EpochRecord,
  type LrSchedule,
  type RunConfig,
  type TrainState,
} from './run';
import { splitByLesion } from './split';

/** Options of `train`: data, run folder, network, optimisation and class balance. Defaults: `runDefaults(arch)` (RUN_DEFAULTS, and the recipe of a network trained from scratch). */
export interface TrainOptions {
  /** Dataset folder in the HAM10000 layout. */
  data: string;
  /** Run folder: model, checkpoints, cache (see run.ts). */
  out: string;
  /** Default 10 (compact 30). With `resume`, the total to reach (so a finished run can be extended). */
  epochs?: number;
  /** Default 224 (compact 48, resnet-small 64). */
  imageSize?: number;
  /** Default 'vgg16'. */
  arch?: Architecture;
  /** Pretrained base: 'imagenet', a Keras .h5/.keras file or a tfjs model folder (see ClassifierOptions.weights). */
  weights?: string;
  /** MobileNetV2's width multiplier (arch 'mobilenetv2'). Default 1. */
  alpha?: number;
  /** Default 42. */
  seed?: number;
  /** Continue the run in `out` from its last checkpoint; its settings and split are kept. */
  resume?: boolean;
  /** Default 32. */
  batchSize?: number;
  /** Adam's step size (the first epoch's, under a schedule). Default 1e-3 (compact and resnet-small 3e-3). */
  learningRate?: number;
  /** 'constant' (default; compact and resnet-small 'cosine') or 'cosine' decay over `epochs` (see LR_SCHEDULES). */
  lrSchedule?: LrSchedule;
  trainableLayers?: number;
  pooling?: Pooling;
  /** 'flipout' (default) or 'dense' (the same network without the Bayesian head). */
  head?: Head;
  denseUnits?: number;
  /** The dense layer of the head is Bayesian too (see ClassifierOptions.bayesianHidden). Default false. */
  bayesianHidden?: boolean;
  /** Monte Carlo samples per validation image (see RunConfig.validationSamples); 0 scores the posterior-mean network. Default 0. */
  validationSamples?: number;
  /** Class imbalance: loss weights per class (default), class-balanced epochs, or nothing (compact and resnet-small: left to the decision rule). */
  balance?: Balance;
  /** Random flips and quarter turns each epoch. Only when nothing is frozen (the cache holds the images). Default false (compact and resnet-small true). */
  augment?: boolean;
  /** Stop when the validation loss has not improved for this many epochs; 0 (default) never stops early. */
  patience?: number;
  /** Shares of the lesion-grouped split. Default 0.15 each. */
  validation?: number;
  test?: number;
  /** Where the frozen features live: 'auto' (default) puts more than 1 GB on disk. */
  cache?: 'memory' | 'disk' | 'auto';
  /** Use at most this many images per split (the first ones of each), for quick trials. */
  limit?: number;
  /** Progress for a caller that shows it (the CLI's bar); the library itself prints nothing. */
  onEvent?: (event: TrainEvent) => void;
}

/** Progress events of `train`, for a caller that shows them (the CLI's bars and log lines). */
export type TrainEvent =
  | { type: 'start'; config: RunConfig; startEpoch: number; problems: DataProblem[] }
  | { type: 'cache'; split: 'train' | 'validation'; done: number; total: number }
  | { type: 'step'; epoch: number; epochs: number; step: number; steps: number; loss: number; kl: number; accuracy: number }
  | { type: 'epoch'; record: EpochRecord; checkpoint: string; improved: boolean }
  | { type: 'stop'; reason: 'completed' | 'early stopping'; state: TrainState };

/** What `train` returns: the run folder, its settings, its final state and the skipped data. */
export interface TrainResult {
  run: string;
  config: RunConfig;
  state: TrainState;
  problems: DataProblem[];
}

const TRAIN_OPTIONS = optionKeys<TrainOptions>({
  data: true, out: true, epochs: true, imageSize: true, arch: true, weights: true, alpha: true, seed: true, resume: true, batchSize: true,
  learningRate: true, lrSchedule: true, trainableLayers: true, pooling: true, head: true, denseUnits: true, bayesianHidden: true,
  validationSamples: true, balance: true, augment: true, patience: true, validation: true, test: true, cache: true, limit: true, onEvent: true,
});
const CACHE_IN_MEMORY_LIMIT = 2 ** 30;
/** Keeps log(p) finite in the loss. */
const EPSILON = 1e-7;

/**
 * Trains the Bayesian classifier on a HAM10000-layout folder, seeded throughout: the split, the
 * initialisation, every epoch's order and every step's weight noise derive from `seed` and the
 * epoch and step numbers alone, and each checkpoint holds the optimizer state, so `resume`
 * continues exactly where an uninterrupted run would be (bit for bit on the cpu backend).
 */
export async function train(given: TrainOptions): Promise<TrainResult> {
  const options = checkOptions('train', given, TRAIN_OPTIONS);
  const emit = options.onEvent ?? (() => undefined);
  const dataset = await loadHam10000(options.data);
  if (dataset.records.length === 0) {
    throw new DataError(`train: data folder '${options.data}' must hold usable images; found none (${dataset.problems.length} problems). Check the path and the layout.`);
  }
  const checkpoint = options.resume ? latestCheckpoint(options.out) : null;
  const settings = options.resume && checkpoint ? resumeConfig(options) : newSettings(options, dataset.records);
  const sides = recordsOfSplit(dataset.records, settings);
  const classifier = await buildClassifier({
    arch: settings.arch,
    imageSize: settings.imageSize,
    seed: settings.seed,
    pooling: settings.pooling,
    head: settings.head,
    denseUnits: settings.denseUnits,
    numClasses: settings.classes.length,
    trainingExamples: sides.train.length,
    trainableLayers: settings.trainableLayers ?? undefined,
    weights: settings.weights ?? undefined,
    ...(settings.alpha === undefined ? {} : { alpha: settings.alpha }),
    bayesianHidden: settings.bayesianHidden ?? false,
  });
  // What only the built network knows completes the run's settings.
  const config: RunConfig = {
    ...settings,
    // A recipe's flips and turns need the images, so they yield to a frozen base (--trainable-layers); asked for, they are refused below.
    augment: settings.augment && (options.augment !== undefined || classifier.frozenLayerCount === 0),
    frozenLayerCount: classifier.frozenLayerCount,
    camLayer: classifier.camLayer,
    preprocessing: classifier.preprocessing,
    pretrained: classifier.pretrained,
    warnings: classifier.warnings,
  };
  const optimizer = tf.train.adam(config.learningRate);
  const { frozen, trainable } = splitClassifier(classifier.model, classifier.frozenLayerCount);
  let caches: Caches | null = null;
  try {
    if (config.augment && frozen) {
      invalidArgument('train', 'augment', 'used only when no layer is frozen (the cache then holds images)', true, 'Drop --augment or train every layer.');
    }
    writeRunConfig(options.out, config);
    let state: TrainState = { epoch: 0, history: [], bestValLoss: null, bestEpoch: null, stoppedEarly: false };
    if (checkpoint) {
      await restoreCheckpoint(checkpoint.dir, classifier.model, optimizer);
      state = checkpoint.state;
    }
    emit({ type: 'start', config, startEpoch: state.epoch, problems: dataset.problems });
    caches = await buildCaches(options, config, frozen, sides, emit);
    state = await trainEpochs({ config, run: options.out, model: classifier.model, trainable, optimizer, caches, state, emit });
    return { run: options.out, config, state, problems: [...dataset.problems, ...caches.problems] };
  } finally {
    caches?.train.dispose();
    caches?.validation?.dispose();
    optimizer.dispose();
    // A layer counts the times it was applied: the trainable half's layers were applied twice.
    trainable.dispose();
    classifier.model.dispose();
  }
}

/** The parts of a run's settings that the built network fills in. */
type NetworkFacts = 'frozenLayerCount' | 'camLayer' | 'pretrained' | 'warnings';

/** A new run's settings from the options and the network's defaults (`runDefaults`), and its seeded lesion split. */
function newSettings(options: TrainOptions, records: LesionRecord[]): Omit<RunConfig, NetworkFacts> {
  const who = 'train';
  if (fs.existsSync(runPaths(options.out).latest) && !options.resume) {
    invalidArgument(who, 'out', 'a folder without a previous run', options.out, 'Add --resume to continue it, or choose another --out.');
  }
  const seed = checkNumber(who, 'seed', options.seed ?? RUN_DEFAULTS.seed, { integer: true });
  const split = splitByLesion(records, { validation: options.validation, test: options.test, seed });
  const limit = options.limit === undefined ? Infinity : checkNumber(who, 'limit', options.limit, { min: 1, integer: true });
  const ids = (side: LesionRecord[]) => side.slice(0, limit).map((record) => record.imageId);
  const arch = checkOneOf(who, 'arch', options.arch ?? RUN_DEFAULTS.arch, ARCHITECTURES);
  const defaults = runDefaults(arch);
  return {
    version: 1,
    classes: [...CLASSES],
    arch,
    imageSize: checkNumber(who, 'imageSize', options.imageSize ?? defaults.imageSize, { min: 8, integer: true }),
    seed,
    epochs: checkNumber(who, 'epochs', options.epochs ?? defaults.epochs, { min: 1, integer: true }),
    batchSize: checkNumber(who, 'batchSize', options.batchSize ?? defaults.batchSize, { min: 1, integer: true }),
    learningRate: checkNumber(who, 'learningRate', options.learningRate ?? defaults.learningRate, { min: 0, exclusiveMin: true }),
    lrSchedule: checkOneOf(who, 'lrSchedule', options.lrSchedule ?? defaults.lrSchedule, LR_SCHEDULES),
    trainableLayers: options.trainableLayers ?? null,
    pooling: options.pooling ?? defaultPooling(arch),
    head: checkOneOf(who, 'head', options.head ?? defaults.head, HEADS),
    denseUnits: options.denseUnits ?? defaults.denseUnits,
    bayesianHidden: options.bayesianHidden ?? defaults.bayesianHidden,
    validationSamples: checkNumber(who, 'validationSamples', options.validationSamples ?? defaults.validationSamples, { min: 0, integer: true }),
    balance: checkOneOf(who, 'balance', options.balance ?? defaults.balance, BALANCES),
    augment: options.augment ?? defaults.augment,
    patience: checkNumber(who, 'patience', options.patience ?? defaults.patience, { min: 0, integer: true }),
    ...(options.alpha === undefined ? {} : { alpha: options.alpha }),
    weights: options.weights === undefined || options.weights === 'imagenet' ? (options.weights ?? null) : path.resolve(options.weights),
    data: path.resolve(options.data),
    split: { train: ids(split.train), validation: ids(split.validation), test: ids(split.test) },
    summary: split.summary,
  };
}

/** A resumed run keeps its settings and split; only the number of epochs may grow. */
function resumeConfig(options: TrainOptions): RunConfig {
  const config = readRunConfig(options.out);
  if (options.epochs !== undefined) config.epochs = checkNumber('train', 'epochs', options.epochs, { min: 1, integer: true });
  return config;
}

interface Caches {
  train: FeatureCache;
  validation: FeatureCache | null;
  problems: DataProblem[];
}

async function buildCaches(
  options: TrainOptions,
  config: RunConfig,
  frozen: tfl.LayersModel | null,
  sides: Record<'train' | 'validation', LesionRecord[]>,
  emit: (event: TrainEvent) => void,
): Promise<Caches> {
  const rowBytes = frozen ? (frozen.outputs[0].shape.slice(1) as number[]).reduce((a, b) => a * b, 4) : config.imageSize ** 2 * 12;
  const onDisk = options.cache === 'disk' || (options.cache !== 'memory' && rowBytes * sides.train.length > CACHE_IN_MEMORY_LIMIT);
  if (onDisk) fs.mkdirSync(runPaths(options.out).cache, { recursive: true });
  const build = async (split: 'train' | 'validation') => {
    const file = onDisk ? path.join(runPaths(options.out).cache, `${split}.f32`) : undefined;
    const onProgress = (done: number, total: number) => emit({ type: 'cache', split, done, total });
    return buildFeatureCache({ records: sides[split], frozen, imageSize: config.imageSize, preprocessing: config.preprocessing, file, onProgress });
  };
  const train = await build('train');
  const validation = sides.validation.length > 0 ? await build('validation') : null;
  return { train: train.cache, validation: validation?.cache ?? null, problems: [...train.problems, ...(validation?.problems ?? [])] };
}

interface EpochLoop {
  config: RunConfig;
  run: string;
  model: tfl.LayersModel;
  trainable: tfl.LayersModel;
  optimizer: tf.Optimizer;
  caches: Caches;
  state: TrainState;
  emit: (event: TrainEvent) => void;
}

async function trainEpochs(loop: EpochLoop): Promise<TrainState> {
  const { config, caches, emit } = loop;
  let state = loop.state;
  const order = epochOrder(config, caches.train);
  const weights = config.balance === 'weights' ? classWeights(caches.train.records) : null;
  while (state.epoch < config.epochs && !state.stoppedEarly) {
    const epoch = state.epoch;
    const started = Date.now();
    setLearningRate(loop.optimizer, learningRateAt(config, epoch));
    const indices = order(epoch);
    const steps = Math.ceil(indices.length / config.batchSize);
    const seeds = new SeedStream(config.seed, `train:epoch:${epoch}`);
    const totals = { loss: 0, kl: 0, correct: 0 };
    for (let step = 0; step < steps; step++) {
      const batch = indices.slice(step * config.batchSize, (step + 1) * config.batchSize);
      const stats = trainStep(loop, batch, weights, seeds);
      totals.loss += stats.loss * batch.length;
      totals.kl += stats.kl;
      totals.correct += stats.correct;
      emit({ type: 'step', epoch: epoch + 1, epochs: config.epochs, step: step + 1, steps, loss: stats.loss, kl: stats.kl, accuracy: stats.correct / batch.length });
      await new Promise((resolve) => setImmediate(resolve));
    }
    const validation = caches.validation ? validate(loop.trainable, caches.validation, config) : null;
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: totals.loss / indices.length,
      kl: totals.kl / steps,
      accuracy: totals.correct / indices.length,
      valLoss: validation?.loss ?? null,
      valAccuracy: validation?.accuracy ?? null,
      seconds: (Date.now() - started) / 1000,
    };
    const improved = record.valLoss === null || state.bestValLoss === null || record.valLoss < state.bestValLoss;
    state = nextState(state, record, improved, config.patience);
    if (improved) await saveModel(loop.model, runPaths(loop.run).model);
    const checkpoint = await writeCheckpoint(loop.run, loop.model, loop.optimizer, state);
    emit({ type: 'epoch', record, checkpoint, improved });
  }
  emit({ type: 'stop', reason: state.stoppedEarly ? 'early stopping' : 'completed', state });
  return state;
}

/**
 * The step size of a (0-based) epoch: constant, or cosine-decayed from `learningRate` towards 0
 * over `epochs` (the last epoch still steps). A function of the epoch alone, so --resume follows it.
 */
export function learningRateAt(config: Pick<RunConfig, 'learningRate' | 'lrSchedule' | 'epochs'>, epoch: number): number {
  if ((config.lrSchedule ?? 'constant') === 'constant') return config.learningRate;
  return (config.learningRate * (1 + Math.cos((Math.PI * epoch) / config.epochs))) / 2;
}

/** tfjs optimizers read their step size on every step but expose no setter. */
function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
}

function nextState(state: TrainState, record: EpochRecord, improved: boolean, patience: number): TrainState {
  const bestEpoch = improved ? record.epoch : state.bestEpoch;
  return {
    epoch: record.epoch,
    history: [...state.history, record],
    bestValLoss: improved ? record.valLoss : state.bestValLoss,
    bestEpoch,
    stoppedEarly: patience > 0 && bestEpoch !== null && record.epoch - bestEpoch >= patience,
  };
}

/** Each epoch's order of cache rows: a seeded shuffle, or a class-balanced draw; a function of the epoch alone. */
function epochOrder(config: RunConfig, cache: FeatureCache): (epoch: number) => number[] {
  if (config.balance === 'sampling') {
    const rowOf = new Map(cache.records.map((record, index) => [record.imageId, index]));
    const sampler = balancedSampler(cache.records, { seed: config.seed });
    return (epoch) => sampler(epoch).map((record) => rowOf.get(record.imageId)!);
  }
  return (epoch) => {
    const seeds = new SeedStream(config.seed, `shuffle:${epoch}`);
    const order = Array.from({ length: cache.count }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = seeds.next()! % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  };
}

/**
 * One Adam step on the negative ELBO: the (class-weighted) mean cross-entropy plus the head's KL
 * term, already scaled by klWeight = 1/N (Blundell et al. 2015, eq. 8 spread over the examples).
 */
function trainStep(loop: EpochLoop, batch: number[], weights: Record<number, number> | null, seeds: SeedStream) {
  const { trainable, optimizer, caches, config } = loop;
  const labels = batch.map((index) => caches.train.records[index].label);
  const variables = trainable.trainableWeights.map((weight) => weight.read() as tf.Variable);
  return tf.tidy(() => {
    let x = caches.train.batch(batch);
    if (config.augment) x = augment(x as tf.Tensor4D, { seed: seeds.next()! });
    const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), config.classes.length);
    const exampleWeights = tf.tensor1d(labels.map((label) => weights?.[label] ?? 1));
    let kl: tf.Scalar | null = null;
    let correct: tf.Scalar | null = null;
    const loss = withSampling(trainable, { seed: seeds.next() }, () =>
      optimizer.minimize(
        () => {
          const probs = trainable.apply(x, { training: true }) as tf.Tensor;
          const elbo = negativeElboTerms(trainable, probs, oneHot, exampleWeights);
          kl = tf.keep(elbo.kl);
          correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(oneHot, -1)), 'float32'))) as tf.Scalar;
          return elbo.loss;
        },
        true,
        variables,
      ),
    )!;
    // One read from the backend a step, not three: each read waits for the step to finish.
    const [lossValue, klValue, correctValue] = tf.stack([loss, kl!, correct!]).dataSync();
    const stats = { loss: lossValue, kl: klValue, correct: correctValue };
    // Kept tensors outlive every tidy: free them here.
    tf.dispose([kl!, correct!]);
    return stats;
  });
}

/**
 * Validation loss (mean cross-entropy) and accuracy of the Monte Carlo predictive with
 * `validationSamples` samples, or of the posterior-mean network when that is 0. The same seeds
 * every epoch, so epochs are compared under the same weight noise.
 */
function validate(trainable: tfl.LayersModel, cache: FeatureCache, config: RunConfig): { loss: number; accuracy: number } {
  const samples = config.validationSamples ?? 0;
  const seeds = new SeedStream(config.seed, 'validation');
  const predictor = samples > 0 ? new McPredictor(trainable, { samples, quantiles: [0.5] }) : null;
  let loss = 0;
  let correct = 0;
  try {
    for (let start = 0; start < cache.count; start += config.batchSize) {
      const rows = Array.from({ length: Math.min(config.batchSize, cache.count - start) }, (_, i) => start + i);
      const labels = rows.map((row) => cache.records[row].label);
      const seed = seeds.next()!;
      const [batchLoss, batchCorrect] = tf.tidy(() => {
        const probs = predictor ? predictiveMean(predictor, cache.batch(rows), seed) : withSampling(trainable, { mode: 'mean' }, () => trainable.predict(cache.batch(rows)) as tf.Tensor2D);
        const picked = tf.sum(tf.mul(probs, tf.oneHot(tf.tensor1d(labels, 'int32'), probs.shape[1])), -1);
        const hits = tf.equal(tf.argMax(probs, -1), tf.tensor1d(labels, 'int32'));
        return [tf.sum(tf.neg(tf.log(tf.clipByValue(picked, EPSILON, 1)))).dataSync()[0], tf.sum(tf.cast(hits, 'float32')).dataSync()[0]];
      });
      loss += batchLoss;
      correct += batchCorrect;
    }
  } finally {
    predictor?.dispose();
  }
  return { loss: loss / cache.count, accuracy: correct / cache.count };
}

/** The MC predictive mean of a batch, the prediction's other tensors freed. */
function predictiveMean(predictor: McPredictor, images: tf.Tensor, seed: number): tf.Tensor2D {
  const prediction = predictor.predict(images, { seed });
  const mean = tf.clone(prediction.mean);
  prediction.dispose();
  return mean;
}
