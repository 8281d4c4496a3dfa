import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SCORE_KINDS, type ClassTarget, type ScoreKind } from '../conventions';
import { SAMPLING_MODES, withSampling, type SamplingMode } from '../layers/sampling';
import { assertFinite, checkBoolean, checkNumber, checkOneOf, checkOptions, optionKeys } from '../validation';
import { checkClassifier, checkImages, resolveClassTarget, type ResolvedTarget } from './model_checks';
import { classScores, withScore } from './score';
import { freeTapeOnThrow } from './tape';

/** Options of the explanations that differentiate down to the input (`fullGrad`, `guidedBackprop`). */
export interface InputGradientOptions {
  /** The class score explained: 'logit' (default; before a final softmax) or 'probability'. */
  score?: ScoreKind;
  /** How stochastic (variational) layers behave during the pass; default 'mean' (see `cam`). */
  sampling?: SamplingMode;
  /** Seed of the noise when `sampling` is not 'mean'. */
  seed?: number;
  /** Refuse images holding NaN or ±Infinity. Default true. */
  checkFinite?: boolean;
}

const INPUT_GRADIENT_OPTIONS = optionKeys<InputGradientOptions>({ score: true, sampling: true, seed: true, checkFinite: true });

/** A validated request for one forward and one backward pass down to the input. */
export interface InputPassRequest {
  who: string;
  model: tfl.LayersModel;
  images: tf.Tensor4D;
  target: ResolvedTarget;
  score: ScoreKind;
  sampling: { mode: SamplingMode; seed?: number };
}

/** Validates the arguments of an input-gradient explanation, so errors come before any computation. */
export function prepareInputPass(
  who: string,
  model: tfl.LayersModel,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  options: InputGradientOptions | undefined,
): InputPassRequest {
  const checked = checkOptions(who, options, INPUT_GRADIENT_OPTIONS);
  const numClasses = checkClassifier(model, who);
  const checkedImages = checkImages(model, images, who);
  if (checkBoolean(who, 'options.checkFinite', checked.checkFinite ?? true)) {
    assertFinite(who, 'images', checkedImages, 'Clean or impute the images, or pass checkFinite: false.');
  }
  return {
    who,
    model,
    images: checkedImages,
    target: resolveClassTarget(classIdx, checkedImages.shape[0], numClasses, who),
    score: checkOneOf(who, 'options.score', checked.score ?? 'logit', SCORE_KINDS),
    sampling: {
      mode: checkOneOf(who, 'options.sampling', checked.sampling ?? 'mean', SAMPLING_MODES),
      seed: checked.seed === undefined ? undefined : checkNumber(who, 'options.seed', checked.seed, { integer: true }),
    },
  };
}

/**
 * One forward and one backward pass for the whole batch: the gradients of the summed scores with
 * respect to the images and to each of `probes` (zeros the caller has wired into the model), with
 * the model changed by `install` for the pass only (it returns the function that undoes it, called
 * in `finally`, also when the pass throws).
 */
export function inputGradients(request: InputPassRequest, probes: tf.Tensor[], install: () => () => void): tf.Tensor[] {
  const { model, images, target, who } = request;
  return withSampling(model, request.sampling, () =>
    withScore(model, request.score, (toScores) => {
      const restore = install();
      try {
        const total = (): tf.Scalar => {
          const output = model.apply(images, { training: false }) as tf.Tensor;
          return tf.sum(classScores(toScores(output), target, who).scores);
        };
        return tf.grads(() => freeTapeOnThrow(total))([images, ...probes]);
      } finally {
        restore();
      }
    }),
  );
}
