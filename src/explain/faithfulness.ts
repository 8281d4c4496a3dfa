import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SCORE_KINDS, type ClassTarget, type ScoreKind, type TargetFunction } from '../conventions';
import { deprecated } from '../deprecation';
import { withSampling } from '../layers/sampling';
import { checkNumber, checkOneOf, checkOptions, isTensor, optionKeys } from '../validation';
import { checkClassifier, checkImages, checkMaps, classesOf, resolveClassTarget } from './model_checks';
import { classScores, withScore } from './score';

/** What replaces the removed (deletion) or hidden (insertion) pixels. */
export type Baseline = 'zero' | 'blur' | 'mean';
/** Every baseline, for validation and for CLI choices. */
export const BASELINES: readonly Baseline[] = ['zero', 'blur', 'mean'];

/** Options of `deletionCurve` and `insertionCurve`. */
export interface CurveOptions {
  /** Number of steps from 0 to all pixels. Default 20. */
  steps?: number;
  /** Default 'zero' for deletion and 'blur' for insertion, as in Petsiuk et al. 2018. */
  baseline?: Baseline;
  /** Score recorded at each step. Default 'probability', as in Petsiuk et al. 2018. */
  score?: ScoreKind;
}

/** A deletion or insertion curve per image, sampled at the same fractions for the whole batch. */
export interface Curve {
  /** Share of pixels removed (deletion) or revealed (insertion) at each step: 0, 1/steps, ..., 1. */
  fractions: number[];
  /** The class score at each step, per image. */
  scores: number[][];
  /** Area under each image's curve (trapezoid rule over `fractions`): low is good for deletion, high for insertion. */
  auc: number[];
}

const DEFAULT_STEPS = 20;
const CURVE_OPTIONS = optionKeys<CurveOptions>({ steps: true, baseline: true, score: true });
/** Petsiuk et al. 2018 blur 224-pixel images with sigma 5: the same relative blur at any size. */
const BLUR_SIGMA_PER_PIXEL = 5 / 224;

/**
 * The deletion curve: the most salient pixels first (by `maps`, [batch, H, W]) are replaced by the
 * baseline, and the class score recorded; a faithful map makes it fall fast (low AUC).
 * Stochastic layers run in 'mean' mode. Reference: Petsiuk et al. 2018, "RISE", sec. 4.1.
 */
export function deletionCurve(model: tfl.LayersModel, classIdx: ClassTarget, images: tf.Tensor4D, maps: tf.Tensor3D, options?: CurveOptions): Curve;
/** @deprecated Since 0.2.0, removed in 0.3.0: write `deletionCurve(model, classIdx, images, maps, options)`. */
export function deletionCurve(model: tfl.LayersModel, images: tf.Tensor4D, maps: tf.Tensor3D, classIdx: ClassTarget, options?: CurveOptions): Curve;
export function deletionCurve(model: tfl.LayersModel, ...args: CurveArguments): Curve {
  return saliencyCurve('deletionCurve', model, curveArguments('deletionCurve', args), 'zero');
}

/**
 * The insertion curve: starting from the baseline, the most salient pixels first are revealed; a
 * faithful map makes the class score rise fast (high AUC). Reference: Petsiuk et al. 2018, sec. 4.1.
 */
export function insertionCurve(model: tfl.LayersModel, classIdx: ClassTarget, images: tf.Tensor4D, maps: tf.Tensor3D, options?: CurveOptions): Curve;
/** @deprecated Since 0.2.0, removed in 0.3.0: write `insertionCurve(model, classIdx, images, maps, options)`. */
export function insertionCurve(model: tfl.LayersModel, images: tf.Tensor4D, maps: tf.Tensor3D, classIdx: ClassTarget, options?: CurveOptions): Curve;
export function insertionCurve(model: tfl.LayersModel, ...args: CurveArguments): Curve {
  return saliencyCurve('insertionCurve', model, curveArguments('insertionCurve', args), 'blur');
}

type CurveArguments =
  | [classIdx: ClassTarget, images: tf.Tensor4D, maps: tf.Tensor3D, options?: CurveOptions]
  | [images: tf.Tensor4D, maps: tf.Tensor3D, classIdx: ClassTarget, options?: CurveOptions];

interface CurveCall {
  classIdx: ClassTarget;
  images: tf.Tensor4D;
  maps: tf.Tensor3D;
  options: CurveOptions;
}

/** Reads either argument order: a tensor second means the 0.1 order (images, maps, classIdx), kept for one minor version. */
function curveArguments(who: 'deletionCurve' | 'insertionCurve', args: CurveArguments): CurveCall {
  if (isTensor(args[0])) {
    deprecated(`${who}(model, images, maps, classIdx, options)`, `${who}(model, classIdx, images, maps, options)`);
    const [images, maps, classIdx, options] = args as [tf.Tensor4D, tf.Tensor3D, ClassTarget, CurveOptions?];
    return { classIdx, images, maps, options: checkOptions(who, options, CURVE_OPTIONS) };
  }
  const [classIdx, images, maps, options] = args as [ClassTarget, tf.Tensor4D, tf.Tensor3D, CurveOptions?];
  return { classIdx, images, maps, options: checkOptions(who, options, CURVE_OPTIONS) };
}

function saliencyCurve(who: 'deletionCurve' | 'insertionCurve', model: tfl.LayersModel, call: CurveCall, defaultBaseline: Baseline): Curve {
  const { classIdx, images, maps, options } = call;
  const numClasses = checkClassifier(model, who);
  checkImages(model, images, who);
  checkMaps(who, maps, images);
  const batch = images.shape[0];
  const steps = checkNumber(who, 'options.steps', options.steps ?? DEFAULT_STEPS, { min: 1, integer: true });
  const baselineKind = checkOneOf(who, 'options.baseline', options.baseline ?? defaultBaseline, BASELINES);
  const scoreKind = checkOneOf(who, 'options.score', options.score ?? 'probability', SCORE_KINDS);
  const target = resolveClassTarget(classIdx, batch, numClasses, who);
  const fractions = Array.from({ length: steps + 1 }, (_, i) => i / steps);
  const classes = classesOf(target, model, images);
  const ranks = saliencyRanks(maps);
  let baseline: tf.Tensor4D | undefined;
  try {
    baseline = makeBaseline(images, baselineKind);
    const perStep = withSampling(model, { mode: 'mean' }, () =>
      withScore(model, scoreKind, (toScores) =>
        fractions.map((fraction) => scoreStep(model, toScores, images, baseline!, ranks, classes, fraction, who)),
      ),
    );
    const scores = Array.from({ length: batch }, (_, image) => perStep.map((step) => step[image]));
    return { fractions, scores, auc: scores.map((curve) => trapezoid(fractions, curve)) };
  } finally {
    tf.dispose(baseline ? [ranks, baseline] : [ranks]);
  }
}

/** Each image's scores with the `fraction` most salient pixels taken from the baseline (deletion) or the image (insertion). */
function scoreStep(
  model: tfl.LayersModel,
  toScores: (output: tf.Tensor) => tf.Tensor,
  images: tf.Tensor4D,
  baseline: tf.Tensor4D,
  ranks: tf.Tensor4D,
  classes: number[] | TargetFunction,
  fraction: number,
  who: string,
): number[] {
  const pixels = ranks.shape[1] * ranks.shape[2];
  const scores = tf.tidy(() => {
    const selected = tf.less(ranks, Math.round(fraction * pixels));
    const input = who === 'deletionCurve' ? tf.where(selected, baseline, images) : tf.where(selected, images, baseline);
    return classScores(toScores(model.predict(input) as tf.Tensor), classes, who).scores;
  });
  const values = Array.from(scores.dataSync());
  scores.dispose();
  return values;
}

/** Each pixel's rank in its map, 0 for the most salient, as [batch, H, W, 1] int32 (ties by position). */
function saliencyRanks(maps: tf.Tensor3D): tf.Tensor4D {
  const [batch, height, width] = maps.shape;
  const pixels = height * width;
  const order = tf.tidy(() => tf.topk(tf.reshape(maps, [batch, pixels]), pixels).indices);
  const indices = order.dataSync();
  order.dispose();
  const ranks = new Int32Array(batch * pixels);
  for (let image = 0; image < batch; image++) {
    for (let rank = 0; rank < pixels; rank++) ranks[image * pixels + indices[image * pixels + rank]] = rank;
  }
  return tf.tensor4d(ranks, [batch, height, width, 1], 'int32');
}

/** The baseline image: zeros, each image's per-channel mean, or a Gaussian blur of the image. */
function makeBaseline(images: tf.Tensor4D, kind: Baseline): tf.Tensor4D {
  return tf.tidy(() => {
    if (kind === 'zero') return tf.zerosLike(images);
    if (kind === 'mean') return tf.mul(tf.onesLike(images), tf.mean(images, [1, 2], true)) as tf.Tensor4D;
    return gaussianBlur(images, Math.max(1, Math.max(images.shape[1], images.shape[2]) * BLUR_SIGMA_PER_PIXEL));
  });
}

/** Separable Gaussian blur, truncated at 2 sigma, with mirrored borders (no dark frame). */
function gaussianBlur(images: tf.Tensor4D, sigma: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width, channels] = images.shape;
    const radius = Math.min(Math.ceil(2 * sigma), height - 1, width - 1);
    const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma ** 2)));
    const total = taps.reduce((a, b) => a + b, 0);
    const kernel = tf.tensor1d(taps.map((t) => t / total));
    const vertical = tf.tile(tf.reshape(kernel, [2 * radius + 1, 1, 1, 1]), [1, 1, channels, 1]) as tf.Tensor4D;
    const horizontal = tf.tile(tf.reshape(kernel, [1, 2 * radius + 1, 1, 1]), [1, 1, channels, 1]) as tf.Tensor4D;
    const padded = tf.mirrorPad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], 'reflect');
    return tf.depthwiseConv2d(tf.depthwiseConv2d(padded, vertical, 1, 'valid'), horizontal, 1, 'valid');
  });
}

function trapezoid(x: number[], y: number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}
