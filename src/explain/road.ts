import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SCORE_KINDS, type ClassTarget, type ScoreKind } from '../conventions';
import { ArgumentError } from '../errors';
import { withSampling } from '../layers/sampling';
import { SeedStream } from '../random';
import { checkNumber, checkOneOf, checkOptions, describe, optionKeys } from '../validation';
import { checkClassifier, checkImages, checkMaps, resolveClassTarget, type ResolvedTarget } from './model_checks';
import { classScores, withScore } from './score';

/** Options of `roadScore`. */
export interface RoadOptions {
  /** The percentiles p of the map: pixels at or above the p-th are removed (most relevant first), or below the (100 − p)-th (least relevant first). Default 10, 20, ..., 90. */
  percentiles?: number[];
  /** Standard deviation of the Gaussian noise added to imputed pixels (Rong et al. 2022's debiasing). Default 0.01. */
  noise?: number;
  /** Seed of the noise. */
  seed?: number;
  /** The class score compared: 'logit' (default, as pytorch-grad-cam's ClassifierOutputTarget) or 'probability'. */
  score?: ScoreKind;
}

const ROAD_OPTIONS = optionKeys<RoadOptions>({ percentiles: true, noise: true, seed: true, score: true });
const DEFAULT_PERCENTILES = [10, 20, 30, 40, 50, 60, 70, 80, 90];
const DEFAULT_NOISE = 0.01;
/** The imputation solve stops when every residual is below this share of its right-hand side. */
const RELATIVE_TOLERANCE = 1e-6;
/** Conjugate-gradient steps between two convergence checks (each check reads two numbers back). */
const CHECK_EVERY = 16;

/** ROAD's result: score changes per image and percentile, and their combination. */
export interface Road {
  percentiles: number[];
  /** Per image, per percentile: score after removing the most relevant pixels minus the score before. Faithful maps make it very negative. */
  mostRelevantFirst: number[][];
  /** Per image, per percentile: the same after removing the least relevant pixels. Faithful maps keep it near 0. */
  leastRelevantFirst: number[][];
  /** Per image: (mean least-relevant-first − mean most-relevant-first) / 2, pytorch-grad-cam's ROADCombined. Higher is better. */
  combined: number[];
}

/**
 * ROAD, RemOve And Debias: removes the pixels a map ranks most (or least) relevant, fills them by
 * noisy linear imputation (each removed pixel the weighted mean of its 8 neighbours, solved for
 * all removed pixels at once, plus a little noise, so the model cannot see the shape of the
 * removed region), and records how the class score changes. A faithful map makes the score drop
 * when its most relevant pixels go and barely move when its least relevant go. `maps` are
 * [batch, H, W] at the image size. Costs 2 × percentiles forward passes plus one, and an iterative
 * solve per removal.
 *
 * Reference: Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
 * Methods", ICML, sec. 4 (imputation weights 1/6 on edges, 1/12 on corners), as pytorch-grad-cam's
 * `metrics/road.py`.
 */
export function roadScore(
  model: tfl.LayersModel,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  maps: tf.Tensor3D,
  options: RoadOptions = {},
): Road {
  const who = 'roadScore';
  const checked = checkOptions(who, options, ROAD_OPTIONS);
  const numClasses = checkClassifier(model, who);
  checkImages(model, images, who);
  checkMaps(who, maps, images);
  const batch = images.shape[0];
  const percentiles = checked.percentiles ?? DEFAULT_PERCENTILES;
  if (!Array.isArray(percentiles) || percentiles.length === 0 || !percentiles.every((p) => typeof p === 'number' && p > 0 && p < 100)) {
    throw new ArgumentError(`${who}: options.percentiles must be a non-empty array of numbers in (0, 100); got ${describe(percentiles)}.`);
  }
  const noise = checkNumber(who, 'options.noise', checked.noise ?? DEFAULT_NOISE, { min: 0 });
  const seed = checked.seed === undefined ? undefined : checkNumber(who, 'options.seed', checked.seed, { integer: true });
  const scoreKind = checkOneOf(who, 'options.score', checked.score ?? 'logit', SCORE_KINDS);
  const target = resolveClassTarget(classIdx, batch, numClasses, who);
  const seeds = new SeedStream(seed, who);
  const values = maps.arraySync();
  return withSampling(model, { mode: 'mean' }, () =>
    withScore(model, scoreKind, (toScores) => {
      const scoreOf = (input: tf.Tensor4D, classes: ResolvedTarget): number[] => {
        const scores = tf.tidy(() => classScores(toScores(model.predict(input) as tf.Tensor), classes, who).scores);
        const list = Array.from(scores.dataSync());
        scores.dispose();
        return list;
      };
      // The scores before removal, and the argmax classes for 'predicted' (kept for every removal).
      const [scores, chosen] = tf.tidy(() => {
        const picked = classScores(toScores(model.predict(images) as tf.Tensor), target, who);
        return picked.classes ? [picked.scores, picked.classes] : [picked.scores];
      });
      const original = Array.from(scores.dataSync());
      const classes = chosen ? Array.from(chosen.dataSync()) : target;
      tf.dispose([scores, ...(chosen ? [chosen] : [])]);
      const change = (mostRelevantFirst: boolean) =>
        percentiles.map((percentile) => {
          const keep = keepMasks(values, percentile, mostRelevantFirst);
          const imputed = imputeRemoved(images, keep, noise, seeds);
          keep.dispose();
          const after = scoreOf(imputed, classes);
          imputed.dispose();
          return after.map((score, image) => score - original[image]);
        });
      const perPercentile = { morf: change(true), lerf: change(false) };
      const byImage = (rows: number[][]) => Array.from({ length: batch }, (_, image) => rows.map((row) => row[image]));
      const mostRelevantFirst = byImage(perPercentile.morf);
      const leastRelevantFirst = byImage(perPercentile.lerf);
      const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;
      const combined = mostRelevantFirst.map((morf, image) => (mean(leastRelevantFirst[image]) - mean(morf)) / 2);
      return { percentiles: [...percentiles], mostRelevantFirst, leastRelevantFirst, combined };
    }),
  );
}

/** NumPy's default percentile: linear interpolation between the sorted values at rank p/100 · (n − 1). */
function percentileOf(values: number[], percentile: number): number {
  const sorted = Float64Array.from(values).sort();
  const rank = (percentile / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low] + (rank - low) * (sorted[high] - sorted[low]);
}

/**
 * Which pixels stay, [batch, H, W, 1] (1 = kept): most relevant first keeps the map below its p-th
 * percentile; least relevant first keeps 1 − map below the p-th percentile of 1 − map
 * (pytorch-grad-cam's RemoveMostRelevantFirst and RemoveLeastRelevantFirst).
 */
function keepMasks(maps: number[][][], percentile: number, mostRelevantFirst: boolean): tf.Tensor4D {
  const keep = maps.map((map) => {
    const flat = map.flat().map((v) => (mostRelevantFirst ? v : 1 - v));
    const threshold = percentileOf(flat, percentile);
    return flat.map((v) => (v < threshold ? 1 : 0));
  });
  return tf.tensor4d(keep.flat(), [maps.length, maps[0].length, maps[0][0].length, 1]);
}

/**
 * Fills the removed pixels (keep = 0) of every image and channel with the solution of
 * x_i = Σ_j w_ij v_j / Σ_j w_ij over the in-image neighbours j (v_j the image where kept, x_j where
 * removed), w = 1/6 on edges and 1/12 on corners (Rong et al. 2022, sec. 4), plus N(0, noise²).
 * The system is symmetric positive definite; conjugate gradients solve it for the whole batch at
 * once, on the backend, with x = 0 at the kept pixels.
 */
function imputeRemoved(images: tf.Tensor4D, keep: tf.Tensor4D, noise: number, seeds: SeedStream): tf.Tensor4D {
  const channels = images.shape[3];
  const [edge, corner] = [1 / 6, 1 / 12];
  const kernel = tf.tidy(() =>
    tf.tile(tf.reshape(tf.tensor1d([corner, edge, corner, edge, 0, edge, corner, edge, corner]), [3, 3, 1, 1]), [1, 1, channels, 1]),
  ) as tf.Tensor4D;
  const neighbours = (x: tf.Tensor4D) => tf.depthwiseConv2d(x, kernel, 1, 'same');
  const state = tf.tidy(() => {
    const removed = tf.sub(1, keep);
    // Σ_j w_ij over the in-image neighbours: 1 inside, less on the border (zero padding drops the rest).
    const weights = neighbours(tf.onesLike(images));
    // The right-hand side: the kept neighbours' weighted values; x = 0 to start, so r = p = b.
    const b = tf.mul(removed, neighbours(tf.mul(images, keep) as tf.Tensor4D));
    const bb = tf.sum(tf.square(b), [1, 2], true);
    return { removed, weights, x: tf.zerosLike(images), r: b, p: tf.clone(b), rr: tf.clone(bb), bb };
  });
  const apply = (x: tf.Tensor) => tf.mul(state.removed, tf.sub(tf.mul(state.weights, x), neighbours(x as tf.Tensor4D)));
  try {
    const maxSteps = images.shape[1] * images.shape[2];
    for (let step = 0; step < maxSteps; step++) {
      if (step % CHECK_EVERY === 0) {
        const worst = tf.tidy(() => tf.max(tf.divNoNan(state.rr, state.bb)).dataSync()[0]);
        if (worst <= RELATIVE_TOLERANCE ** 2) break;
      }
      const next = tf.tidy(() => {
        const ap = apply(state.p);
        const alpha = tf.divNoNan(state.rr, tf.sum(tf.mul(state.p, ap), [1, 2], true));
        const x = tf.add(state.x, tf.mul(alpha, state.p));
        const r = tf.sub(state.r, tf.mul(alpha, ap));
        const rr = tf.sum(tf.square(r), [1, 2], true);
        const p = tf.add(r, tf.mul(tf.divNoNan(rr, state.rr), state.p));
        return { x, r, rr, p };
      });
      tf.dispose([state.x, state.r, state.rr, state.p]);
      Object.assign(state, next);
    }
    return tf.tidy(() => {
      const jitter = noise > 0 ? tf.mul(seeds.normal(images.shape), noise) : tf.zerosLike(images);
      return tf.add(tf.mul(images, keep), tf.mul(state.removed, tf.add(state.x, jitter))) as tf.Tensor4D;
    });
  } finally {
    tf.dispose([kernel, state.removed, state.weights, state.x, state.r, state.rr, state.p, state.bb]);
  }
}
