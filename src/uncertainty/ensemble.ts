import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DEFAULT_SAMPLES } from '../conventions';
import { checkNumber, checkOptions, invalidArgument } from '../validation';
import { SeedStream } from '../random';
import { McPrediction, type McStrategy } from './prediction';
import { MC_PREDICT_OPTIONS, McPredictor, type McPredictOptions } from './predictor';

const WHO = 'ensemblePredict';

/**
 * The predictive distribution of a deep ensemble (Lakshminarayanan et al. 2017): the S samples
 * go round the members, sample s from member s mod M, so the mean is the members' average and
 * the mutual information is their disagreement (the uncertainty decomposition of `McPrediction`,
 * Depeweg et al. 2018, eq. 6, with the member as the random variable). A deterministic member
 * gives the same sample each time; a Bayesian member (variational layers, MC dropout, a
 * `LastLayerLaplace` model) is sampled by `mcPredict`, its own deterministic prefix run once,
 * so the samples mix both sources of epistemic uncertainty. With S a multiple of M every member
 * weighs the same (the default: `DEFAULT_SAMPLES` (100) rounded up to a multiple of M). Options are `mcPredict`'s;
 * `seed` seeds every member's sampling.
 */
export function ensemblePredict(models: readonly tfl.LayersModel[], images: tf.Tensor, given: McPredictOptions = {}): McPrediction {
  const options = checkOptions(WHO, given, MC_PREDICT_OPTIONS);
  if (!Array.isArray(models) || models.length === 0) {
    invalidArgument(WHO, 'models', 'a non-empty array of tfjs-layers models', models, 'Pass the ensemble members, e.g. one model per training seed.');
  }
  const defaultSamples = Math.ceil(DEFAULT_SAMPLES / models.length) * models.length;
  const samples = checkNumber(WHO, 'options.samples', options.samples ?? defaultSamples, { min: models.length, integer: true });
  const seeds = new SeedStream(options.seed, WHO);
  const strategies = new Set<McStrategy>();
  const parts: tf.Tensor3D[] = [];
  let quantileLevels: number[] = [];
  try {
    models.forEach((model, m) => {
      const predictor = new McPredictor(model);
      const count = Math.floor((samples - 1 - m) / models.length) + 1;
      const prediction = predictor.predict(images, { ...options, samples: count, seed: seeds.next(), keepSamples: true });
      strategies.add(prediction.strategy);
      quantileLevels = prediction.quantileLevels;
      parts.push(prediction.samples!.clone());
      prediction.dispose();
      predictor.dispose();
    });
    const all = tf.tidy(() => tf.concat(parts, 0) as tf.Tensor3D);
    return new McPrediction(all, {
      quantileLevels,
      keepSamples: options.keepSamples ?? false,
      strategy: strategies.has('naive') ? 'naive' : 'fast',
    });
  } finally {
    tf.dispose(parts);
  }
}

