import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../errors';
import type { LaplaceStructure } from '../layers';
import { checkNumber, checkOneOf, checkOptions, invalidArgument, optionKeys } from '../validation';
import {
  DEFAULT_LAPLACE_STRUCTURE,
  dihedralViews,
  accuracy,
  accuracyCoverage,
  balancedAccuracy,
  brierScore,
  calibration,
  calibrationNoise,
  ConformalClassifier,
  confusionMatrix,
  decisionMetrics,
  fitClassWeights,
  McPredictor,
  negativeLogLikelihood,
  priorShiftWeights,
  rocAuc,
  setMetrics,
  weightedDecisions,
  fitReferral,
  referralOutcome,
  type CalibrationBin,
  type CalibrationNoise,
  type ReferralOutcome,
  type ReferralThresholds,
} from '../uncertainty';
import { loadHam10000, type DataProblem, type LesionRecord } from './dataset';
import { loadImages } from './images';
import { POSTHOC_METHODS, posthocLaplace, type PosthocMethod, type PosthocSummary } from './posthoc';
import { preprocessImages, type Preprocessing } from './preprocess';
import {
  EVALUATION_SAMPLES,
  evaluationRecords,
  EVALUATION_SPLITS,
  loadRun,
  recordsOfSplit,
  type EvaluationSplit,
  type RunConfig,
  type RunModel,
} from './run';

const DEFAULT_BATCH_SIZE = 32;
const PREDICT_RECORDS_OPTIONS = optionKeys<PredictRecordsOptions>({ imageSize: true, preprocessing: true, samples: true, seed: true, batchSize: true, tta: true, onProgress: true });

/** Options of `predictRecords`: the run's image size, the Monte Carlo settings and the batch size. */
export interface PredictRecordsOptions {
  /** Side of the model's square input in pixels (the run's `imageSize`). */
  imageSize: number;
  /** How pixels become the model's input (the run's `preprocessing`). Default 'caffe'. */
  preprocessing?: Preprocessing;
  /** Monte Carlo samples per image. Default `EVALUATION_SAMPLES` (30). */
  samples?: number;
  /** Default 0. */
  seed?: number;
  /** Images decoded and predicted at once. Default 32. */
  batchSize?: number;
  /** Test-time augmentation: the samples go round the 8 flips and quarter turns of each image (see dihedralViews). Default false. */
  tta?: boolean;
  /** Called after each batch with the images processed so far (for a progress bar). */
  onProgress?: (done: number, total: number) => void;
}

/** Monte Carlo predictions of many images, as plain arrays aligned with `records` (those that loaded). */
export interface RecordPredictions {
  records: LesionRecord[];
  labels: number[];
  /** Mean class probabilities [image][class]. */
  probs: number[][];
  predictiveEntropy: number[];
  mutualInformation: number[];
  problems: DataProblem[];
}

/** Decodes the images in batches and samples each with one Monte Carlo predictor, seeded per batch. */
export async function predictRecords(model: tfl.LayersModel, records: readonly LesionRecord[], given: PredictRecordsOptions): Promise<RecordPredictions> {
  const options = checkOptions('predictRecords', given, PREDICT_RECORDS_OPTIONS);
  const samples = checkNumber('predictRecords', 'samples', options.samples ?? EVALUATION_SAMPLES, { min: 1, integer: true });
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const out: RecordPredictions = { records: [], labels: [], probs: [], predictiveEntropy: [], mutualInformation: [], problems: [] };
  const predictor = new McPredictor(model, { samples, views: options.tta ? dihedralViews() : undefined });
  try {
    for (let start = 0; start < records.length; start += batchSize) {
      const loaded = await loadImages(records.slice(start, start + batchSize), { height: options.imageSize, width: options.imageSize });
      try {
        out.problems.push(...loaded.problems);
        if (loaded.records.length > 0) {
          const input = preprocessImages(loaded.images, options.preprocessing ?? 'caffe');
          const prediction = predictor.predict(input, { seed: (options.seed ?? 0) + start });
          input.dispose();
          const [probs, entropy, information] = await Promise.all([
            prediction.mean.array(),
            prediction.predictiveEntropy.array(),
            prediction.mutualInformation.array(),
          ]).finally(() => prediction.dispose());
          out.probs.push(...probs);
          out.predictiveEntropy.push(...entropy);
          out.mutualInformation.push(...information);
        }
      } finally {
        loaded.images.dispose();
      }
      out.records.push(...loaded.records);
      out.labels.push(...loaded.labels);
      options.onProgress?.(Math.min(start + batchSize, records.length), records.length);
    }
  } finally {
    predictor.dispose();
  }
  return out;
}

/** Options of `evaluateRun` (and of the report, which evaluates first). */
export interface EvaluateOptions {
  /** Run folder of a trained model. */
  model: string;
  /** Dataset folder (HAM10000 layout). */
  data: string;
  /**
   * 'test': the run's test split; 'validation': its validation split (for choosing settings; the
   * fitted decision rule and conformal sets are then calibrated on the images they are scored on);
   * 'all': every image of `data` (a dataset the model never saw). Default 'test'.
   */
  split?: EvaluationSplit;
  /** Monte Carlo samples per image. Default `EVALUATION_SAMPLES` (30). */
  samples?: number;
  /** Default 0. */
  seed?: number;
  /** Conformal error rate α. Default 0.1. */
  alpha?: number;
  /** Test-time augmentation over the 8 flips and quarter turns (see PredictRecordsOptions.tta). Default false. */
  tta?: boolean;
  /** The run's best model (default) or its last checkpoint's (e.g. to compare runs after the same number of epochs). */
  checkpoint?: RunModel;
  /**
   * The recall floor of the fitted decision rule (see `Evaluation.operatingPoints`), checked on the
   * validation split where the rule is fitted; null fits balanced accuracy alone. Default
   * DEFAULT_MIN_RECALL (melanoma 0.75).
   */
  minRecall?: MinRecall | null;
  /** Uncertainty added without retraining: 'laplace' fits a last-layer Laplace posterior to a dense-head run first (see `posthocLaplace`). Default none. */
  posthoc?: PosthocMethod;
  /** The Laplace posterior's structure (see `fitLastLayerLaplace`). Default `DEFAULT_LAPLACE_STRUCTURE` ('kron'). */
  laplaceStructure?: LaplaceStructure;
  /** Called as the evaluated images are predicted, with how many are done (for a progress bar). */
  onProgress?: (done: number, total: number) => void;
}

/** A recall one class must reach, by class name (e.g. `{ class: 'mel', recall: 0.75 }`). */
export interface MinRecall {
  class: string;
  recall: number;
}

/** The fitted rule's default floor: a melanoma missed costs most, so its recall comes first (issue 20's goal). */
export const DEFAULT_MIN_RECALL: MinRecall = { class: 'mel', recall: 0.75 };

/** The decision rules an evaluation reports, all on the same predicted probabilities (see `OperatingPoint`). */
export const DECISION_RULES = ['argmax', 'prior-shift', 'fitted'] as const;
/** A decision rule (see DECISION_RULES). */
export type DecisionRule = (typeof DECISION_RULES)[number];

/**
 * One operating point: a decision rule on the predictive distribution and its hard-decision
 * metrics. 'argmax': the most probable class (best accuracy when calibrated). 'prior-shift':
 * argmax_k p_k / π_k with π the class prior the network learned (the training split's frequencies
 * with `balance: 'none'`; uniform, so the same as argmax, when loss weights or balanced epochs
 * already aimed it at balanced accuracy), the Bayes decision for balanced accuracy when the
 * probabilities are calibrated (Saerens et al. 2002), nothing fitted.
 * 'fitted': class weights started at the prior shift and fitted on the run's validation split to
 * maximise balanced accuracy with `minRecall` met there (`fitClassWeights`).
 */
export interface OperatingPoint {
  rule: DecisionRule;
  /** Decide argmax_k weights[k] · p_k (ones for 'argmax'). Equivalently: missing class k costs weights[k]. */
  weights: number[];
  /** The floor the fitted rule was fitted for, and whether it was met on the validation split; null for the others. */
  minRecall: (MinRecall & { metOnValidation: boolean }) | null;
  accuracy: number;
  balancedAccuracy: number;
  /** Per class, in `classes` order; null where the class is absent. */
  recall: (number | null)[];
  precision: (number | null)[];
}

/** The option names of `evaluateRun`, which `writeReport` extends. */
export const EVALUATE_OPTIONS = optionKeys<EvaluateOptions>({
  model: true, data: true, split: true, samples: true, seed: true, alpha: true, tta: true, checkpoint: true, posthoc: true, laplaceStructure: true, minRecall: true, onProgress: true,
});

/** One class's row of an evaluation; a ratio is null where its denominator is 0. */
export interface PerClassMetrics {
  class: string;
  /** Images of the class in the evaluated set. */
  support: number;
  precision: number | null;
  recall: number | null;
  auc: number | null;
}

/** What `evaluateRun` returns: every metric of the evaluated set, as plain JSON. */
export interface Evaluation {
  split: EvaluationSplit;
  count: number;
  samples: number;
  /** Whether the samples went round the 8 flips and quarter turns of each image. */
  tta: boolean;
  /** Which model of the run was evaluated. */
  checkpoint: RunModel;
  /** The post-hoc posterior the predictions sampled, or null for the run's own model. */
  posthoc: PosthocSummary | null;
  classes: string[];
  accuracy: number;
  balancedAccuracy: number;
  macroAuc: number;
  nll: number;
  brier: number;
  ece: number;
  /** The ECE these confidences would show if they were perfectly calibrated (see `calibrationNoise`): an ECE below `upper` is within noise. */
  eceIfCalibrated: CalibrationNoise;
  /** Area under the accuracy-coverage curve, examples ordered by predictive entropy. */
  accuracyCoverageArea: number;
  /**
   * The argmax and the decision rules on the same probabilities (see OperatingPoint): the accuracy
   * operating point and the balanced ones. Without the validation split only argmax and prior-shift.
   */
  operatingPoints: OperatingPoint[];
  /**
   * When a prediction may be called confident: thresholds fitted on the run's validation split
   * (see `fitReferral`), and what they do on the evaluated images; null without a validation split.
   */
  referral: (ReferralThresholds & { evaluated: ReferralOutcome }) | null;
  /** Split conformal sets calibrated on the run's validation split; null when it is not available. */
  conformal: { alpha: number; coverage: number; meanSetSize: number; calibrationImages: number } | null;
  perClass: PerClassMetrics[];
  /** [true class][predicted class]. */
  confusionMatrix: number[][];
  reliability: CalibrationBin[];
  accuracyCoverage: { coverage: number[]; accuracy: number[] };
  /** Per image: its id, true class and mean predicted probabilities, for paired comparisons (`compareEvaluationFiles`) and your own analyses. */
  predictions: ImagePredictionRecord[];
  problems: DataProblem[];
}

/** One image of an evaluation: what the model predicted for it. */
export interface ImagePredictionRecord {
  imageId: string;
  label: number;
  /** Mean class probabilities over the Monte Carlo samples (and views, with TTA). */
  probs: number[];
}

/** Evaluates a run on its test split or on a whole folder: the metrics of issue 5, as plain JSON. */
export async function evaluateRun(given: EvaluateOptions): Promise<Evaluation> {
  const options = checkOptions('evaluateRun', given, EVALUATE_OPTIONS);
  const split = checkOneOf('evaluateRun', 'split', options.split ?? 'test', EVALUATION_SPLITS);
  const alpha = checkNumber('evaluateRun', 'alpha', options.alpha ?? 0.1, { min: 0, max: 1, exclusiveMin: true });
  if (options.posthoc !== undefined) checkOneOf('evaluateRun', 'posthoc', options.posthoc, POSTHOC_METHODS);
  const run = await loadRun(options.model, options.checkpoint);
  let posthoc: Awaited<ReturnType<typeof posthocLaplace>> | null = null;
  try {
    const { config } = run;
    const dataset = await loadHam10000(options.data);
    const records = evaluationRecords(dataset.records, config, split);
    if (records.length === 0) {
      throw new DataError(`evaluateRun: data '${options.data}' must hold images of the ${split} split; found none. ${split === 'all' ? 'Check the path.' : 'Give the --data folder the run was trained on, or --split all.'}`);
    }
    if (options.posthoc === 'laplace') posthoc = await posthocLaplace(run.model, config, options.laplaceStructure ?? DEFAULT_LAPLACE_STRUCTURE);
    const model = posthoc?.laplace.model ?? run.model;
    const predictOptions = { imageSize: config.imageSize, preprocessing: config.preprocessing, samples: options.samples, seed: options.seed, tta: options.tta };
    const predictions = await predictRecords(model, records, { ...predictOptions, onProgress: options.onProgress });
    const calibrationSet = await conformalCalibration(model, config, options.data, dataset.records, predictOptions);
    const minRecall = options.minRecall === undefined ? DEFAULT_MIN_RECALL : options.minRecall;
    return {
      split,
      ...metricsOf(predictions, config.classes, alpha, calibrationSet),
      operatingPoints: operatingPoints(predictions, calibrationSet, config, minRecall),
      samples: options.samples ?? EVALUATION_SAMPLES,
      tta: options.tta ?? false,
      checkpoint: options.checkpoint ?? 'best',
      posthoc: posthoc?.summary ?? null,
      problems: [...dataset.problems, ...predictions.problems],
    };
  } finally {
    posthoc?.laplace.dispose();
    run.dispose();
  }
}

/**
 * The operating points of `predictions` (see OperatingPoint): the prior-shift weights come from
 * the run's training split, the fitted ones from its validation predictions, never from the
 * evaluated images.
 */
export function operatingPoints(
  predictions: Pick<RecordPredictions, 'probs' | 'labels'>,
  validation: Pick<RecordPredictions, 'probs' | 'labels'> | null,
  config: Pick<RunConfig, 'classes' | 'summary' | 'balance'>,
  minRecall: MinRecall | null,
): OperatingPoint[] {
  const { classes } = config;
  const floorIdx = minRecall === null ? -1 : classes.indexOf(minRecall.class);
  if (minRecall !== null && floorIdx < 0) {
    invalidArgument('evaluateRun', 'minRecall.class', `one of the run's classes (${classes.join(', ')})`, minRecall.class, `Use e.g. { class: 'mel', recall: 0.75 }.`);
  }
  // The prior the network learned: the training split's, unless loss weights or balanced epochs made it uniform (their
  // point), where shifting by the training frequencies again would count the imbalance twice.
  const learnedUniform = config.balance !== 'none';
  const prior = priorShiftWeights(classes.map((name) => (learnedUniform ? 1 : Math.max(config.summary.counts.train[name as keyof typeof config.summary.counts.train] ?? 0, 1))));
  const point = (rule: DecisionRule, weights: number[], floor: OperatingPoint['minRecall']): OperatingPoint => {
    const metrics = decisionMetrics(weightedDecisions(predictions.probs, weights), predictions.labels, classes.length);
    return { rule, weights, minRecall: floor, accuracy: metrics.accuracy, balancedAccuracy: metrics.balancedAccuracy, recall: metrics.recall, precision: metrics.precision };
  };
  const points = [point('argmax', classes.map(() => 1), null), point('prior-shift', prior, null)];
  if (validation && validation.probs.length > 0) {
    const usable = minRecall !== null && validation.labels.includes(floorIdx);
    const fit = fitClassWeights(validation.probs, validation.labels, { initial: prior, ...(usable ? { minRecall: { classIdx: floorIdx, recall: minRecall.recall } } : {}) });
    points.push(point('fitted', fit.weights, minRecall === null ? null : { ...minRecall, metOnValidation: usable && fit.floorMet }));
  }
  return points;
}

/**
 * The run's own validation images, from the folder it was trained on, when that folder is still
 * there: the records already read when it is the evaluated folder, else that folder read once.
 */
async function conformalCalibration(
  model: tfl.LayersModel,
  config: RunConfig,
  data: string,
  loaded: readonly LesionRecord[],
  options: PredictRecordsOptions,
): Promise<RecordPredictions | null> {
  if (!fs.existsSync(config.data) || config.split.validation.length === 0) return null;
  const records = path.resolve(data) === path.resolve(config.data) ? loaded : (await loadHam10000(config.data)).records;
  const validation = recordsOfSplit(records, config).validation;
  return validation.length === 0 ? null : predictRecords(model, validation, options);
}

/** Every metric of an evaluation from predictions; `calibrationSet` calibrates the conformal sets. */
export function metricsOf(
  predictions: RecordPredictions,
  classes: string[],
  alpha: number,
  calibrationSet: RecordPredictions | null,
): Omit<Evaluation, 'split' | 'samples' | 'tta' | 'checkpoint' | 'posthoc' | 'problems' | 'operatingPoints'> {
  const { probs, labels } = predictions;
  const matrix = confusionMatrix(probs, labels, classes.length);
  const auc = rocAuc(probs, labels);
  const reliability = calibration(probs, labels);
  const coverageCurve = accuracyCoverage(probs, labels, predictions.predictiveEntropy);
  let conformal: Evaluation['conformal'] = null;
  let referral: Evaluation['referral'] = null;
  if (calibrationSet && calibrationSet.probs.length > 0) {
    const classifier = ConformalClassifier.calibrate(calibrationSet.probs, calibrationSet.labels, { alpha });
    conformal = { alpha, ...setMetrics(classifier.predictSets(probs), labels), calibrationImages: calibrationSet.probs.length };
    const thresholds = fitReferral(calibrationSet.probs, calibrationSet.labels, calibrationSet.mutualInformation);
    referral = { ...thresholds, evaluated: referralOutcome(probs, labels, predictions.mutualInformation, thresholds) };
  }
  return {
    count: probs.length,
    classes,
    accuracy: accuracy(probs, labels),
    balancedAccuracy: balancedAccuracy(probs, labels),
    macroAuc: auc.macro,
    nll: negativeLogLikelihood(probs, labels),
    brier: brierScore(probs, labels),
    ece: reliability.ece,
    eceIfCalibrated: calibrationNoise(probs),
    accuracyCoverageArea: coverageCurve.area,
    referral,
    conformal,
    perClass: classes.map((name, c) => {
      const support = matrix[c].reduce((a, b) => a + b, 0);
      const predicted = matrix.reduce((sum, row) => sum + row[c], 0);
      return {
        class: name,
        support,
        precision: predicted === 0 ? null : matrix[c][c] / predicted,
        recall: support === 0 ? null : matrix[c][c] / support,
        auc: auc.perClass[c],
      };
    }),
    confusionMatrix: matrix,
    reliability: reliability.bins,
    accuracyCoverage: { coverage: coverageCurve.coverage, accuracy: coverageCurve.accuracy },
    predictions: predictions.records.map((record, i) => ({ imageId: record.imageId, label: labels[i], probs: probs[i] })),
  };
}

