import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DEFAULT_CAM_SAMPLES, type ClassTarget } from '../conventions';
import { stochasticLayers, type SamplingMode } from '../layers/sampling';
import { SeedStream } from '../random';
import { checkNumber, checkOptions, optionKeys } from '../validation';
import { prepareCam, runCam, type CamOptions } from './cam';
import { classesOf } from './model_checks';

/** Options of `bayesianCam`: those of `cam`, with the sampling set by the method, plus the number of draws. */
export interface BayesianCamOptions extends Omit<CamOptions, 'sampling'> {
  /** Monte Carlo samples S: networks drawn from the posterior, one map each. Default `DEFAULT_CAM_SAMPLES` (30); at least 2. */
  samples?: number;
}

/** The mean map and the per-pixel standard deviation over S sampled networks. Call `dispose()`. */
export interface BayesianCam {
  /** The per-pixel mean of the S maps [batch, H, W], in [0, 1]. */
  mean: tf.Tensor3D;
  /** The per-pixel sample standard deviation of the S maps [batch, H, W]: how unsure the explanation is. */
  std: tf.Tensor3D;
  /**
   * The seed of each sampled map, when a seed was given: sample i is exactly
   * `cam(model, layerName, classes, images, { method, sampling: 'sample', seed: sampleSeeds[i] })`.
   */
  sampleSeeds: number[] | null;
  /** Frees the mean and standard deviation maps. */
  dispose(): void;
}

const BAYESIAN_CAM_OPTIONS = optionKeys<BayesianCamOptions>({
  method: true,
  raw: true,
  score: true,
  seed: true,
  scoreCamBatchSize: true,
  checkFinite: true,
  eigenSmooth: true,
  augSmooth: true,
  reshapeTransform: true,
  samples: true,
});

/**
 * A CAM under weight uncertainty: S networks drawn from the posterior of the variational layers,
 * one map each, reduced to a per-pixel mean and standard deviation. Each draw is one forward and
 * one backward pass for the whole batch with the stochastic layers in 'sample' mode (one weight
 * draw per pass), so every map is an exact draw from the posterior of maps. 'predicted' is the
 * class of the posterior-mean network, the same for every draw. A model without stochastic layers
 * gets its single map and a zero standard deviation.
 */
export function bayesianCam(
  model: tfl.LayersModel,
  layerName: string,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  options: BayesianCamOptions = {},
): BayesianCam {
  const who = 'bayesianCam';
  const checked = checkOptions(who, options, BAYESIAN_CAM_OPTIONS);
  const request = prepareCam(who, model, layerName, classIdx, images, checked);
  const samples = checkNumber(who, 'options.samples', checked.samples ?? DEFAULT_CAM_SAMPLES, { min: 2, integer: true });
  const seed = checked.seed === undefined ? undefined : checkNumber(who, 'options.seed', checked.seed, { integer: true });
  const stochastic = stochasticLayers(model);
  if (stochastic.length === 0) {
    const mean = runCam(request, {});
    return moments(mean, tf.zerosLike(mean), null);
  }
  const classes = classesOf(request.classes, model, images);
  // 'local' and 'flipout' draw exact outputs but not exact gradients: only a whole weight draw gives an exact map.
  const mode: SamplingMode | undefined = stochastic.every((layer) => layer.supportedModes.includes('sample')) ? 'sample' : undefined;
  const seeds = seed === undefined ? null : drawSeeds(seed, samples);
  let running: Welford | null = null;
  try {
    for (let i = 0; i < samples; i++) {
      const map = runCam({ ...request, classes }, { mode, seed: seeds?.[i] });
      let next: Welford;
      try {
        next = welfordStep(running, map, i + 1);
      } finally {
        map.dispose();
      }
      if (running) tf.dispose([running.mean, running.squares]);
      running = next;
    }
  } catch (error) {
    // A draw that throws midway (out of memory, a bad layer) must not strand the running moments.
    if (running) tf.dispose([running.mean, running.squares]);
    throw error;
  }
  const { mean, squares } = running!;
  // Unbiased sample variance M2 / (S − 1).
  const std = tf.tidy(() => tf.sqrt(tf.div(squares, samples - 1))) as tf.Tensor3D;
  squares.dispose();
  return moments(mean, std, seeds);
}

/** Welford's running mean and sum of squared deviations M2: stable where Σx² − S·mean² cancels. */
interface Welford {
  mean: tf.Tensor3D;
  squares: tf.Tensor3D;
}

/** Adds the k-th map (k from 1): mean += (x − mean) / k; M2 += (x − old mean)(x − new mean). Welford 1962. */
function welfordStep(previous: Welford | null, map: tf.Tensor3D, k: number): Welford {
  return tf.tidy(() => {
    if (!previous) return { mean: tf.clone(map), squares: tf.zerosLike(map) };
    const delta = tf.sub(map, previous.mean);
    const mean = tf.add(previous.mean, tf.div(delta, k)) as tf.Tensor3D;
    return { mean, squares: tf.add(previous.squares, tf.mul(delta, tf.sub(map, mean))) as tf.Tensor3D };
  });
}

function moments(mean: tf.Tensor3D, std: tf.Tensor3D, sampleSeeds: number[] | null): BayesianCam {
  return { mean, std, sampleSeeds, dispose: () => tf.dispose([mean, std]) };
}

/** One seed per sample, derived from the user's seed so that nearby seeds give unrelated runs. */
function drawSeeds(seed: number, samples: number): number[] {
  const stream = new SeedStream(seed, 'bayesianCam');
  return Array.from({ length: samples }, () => stream.next()!);
}
