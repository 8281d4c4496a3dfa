import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SCORE_KINDS, type ClassTarget, type ScoreKind } from '../conventions';
import { SAMPLING_MODES, stochasticLayers, withSampling, type SamplingMode } from '../layers/sampling';
import { assertFinite, checkBoolean, checkNumber, checkOneOf, checkOptions, optionKeys } from '../validation';
import { findTargetLayer } from './find_layer';
import { normalizePerMap, resizeMaps } from './maps';
import { CAM_METHODS, type CamContext, type CamMethod, type CamMethodDefinition, type MapRule } from './method';
import { CAM_METHOD_DEFINITIONS } from './methods';
import { checkClassifier, checkImages, classesOf, resolveClassTarget } from './model_checks';
import { probeLayer } from './probe';
import { classScores, withScore } from './score';

/** Options of `cam`, `gradCam` and (without `sampling`) `bayesianCam`: method, resolution, score and sampling. */
export interface CamOptions {
  /** Which CAM method (see docs/explain.md for which to pick). Default 'gradcam'. */
  method?: CamMethod;
  /** Return the maps at the layer's resolution instead of upsampling them to the image. Default false. */
  raw?: boolean;
  /** The class score explained: 'logit' (default; before a final softmax) or 'probability'. */
  score?: ScoreKind;
  /**
   * How stochastic (variational) layers behave during the pass: 'mean' (default) explains the
   * posterior-mean network; 'sample' explains one network drawn from the posterior (with `seed`,
   * reproducibly); any other sampling mode is passed to the layers as is.
   */
  sampling?: SamplingMode;
  /** Seed of the noise when `sampling` is not 'mean'. */
  seed?: number;
  /** Score-CAM: masked images per forward pass. Default 32; lower it if memory runs out. */
  scoreCamBatchSize?: number;
  /** Refuse images holding NaN or ±Infinity (one reduction over the batch), instead of returning NaN maps. Default true. */
  checkFinite?: boolean;
}

/** Everything a CAM run needs, validated once. */
export interface CamRequest {
  who: string;
  model: tfl.LayersModel;
  layer: tfl.layers.Layer;
  images: tf.Tensor4D;
  classes: number[] | 'predicted';
  method: CamMethodDefinition;
  raw: boolean;
  score: ScoreKind;
  scoreCamBatchSize: number;
}

const DEFAULT_SCORE_CAM_BATCH_SIZE = 32;
const CAM_OPTIONS = optionKeys<CamOptions>({
  method: true,
  raw: true,
  score: true,
  sampling: true,
  seed: true,
  scoreCamBatchSize: true,
  checkFinite: true,
});

/**
 * Validates the arguments every CAM entry point shares, so errors come before any computation.
 * `options` must already have passed `checkOptions` with the caller's own option names.
 */
export function prepareCam(
  who: string,
  model: tfl.LayersModel,
  layerName: string,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  options: Omit<CamOptions, 'sampling' | 'seed'>,
): CamRequest {
  const numClasses = checkClassifier(model, who);
  const layer = findTargetLayer(model, layerName, who);
  const checkedImages = checkImages(model, images, who);
  if (checkBoolean(who, 'options.checkFinite', options.checkFinite ?? true)) {
    assertFinite(who, 'images', checkedImages, 'Clean or impute the images, or pass checkFinite: false.');
  }
  return {
    who,
    model,
    layer,
    images: checkedImages,
    classes: resolveClassTarget(classIdx, checkedImages.shape[0], numClasses, who),
    method: CAM_METHOD_DEFINITIONS[checkOneOf(who, 'options.method', options.method ?? 'gradcam', CAM_METHODS)],
    raw: checkBoolean(who, 'options.raw', options.raw ?? false),
    score: checkOneOf(who, 'options.score', options.score ?? 'logit', SCORE_KINDS),
    scoreCamBatchSize: checkNumber(who, 'options.scoreCamBatchSize', options.scoreCamBatchSize ?? DEFAULT_SCORE_CAM_BATCH_SIZE, {
      min: 1,
      integer: true,
    }),
  };
}

/**
 * Class activation maps [batch, H, W] in [0, 1], one per image, for the class each image is
 * explained for, at the layer `layerName` (`'base/block5_conv3'` for a layer of a nested model).
 * One forward and (for gradient methods) one backward pass for the whole batch, in inference mode.
 */
export function cam(
  model: tfl.LayersModel,
  layerName: string,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  options: CamOptions = {},
): tf.Tensor3D {
  return camOf('cam', model, layerName, classIdx, images, checkOptions('cam', options, CAM_OPTIONS));
}

/** Grad-CAM (Selvaraju et al. 2017): `cam` with method 'gradcam'. */
export function gradCam(
  model: tfl.LayersModel,
  layerName: string,
  classIdx: ClassTarget,
  images: tf.Tensor4D,
  options: Omit<CamOptions, 'method'> = {},
): tf.Tensor3D {
  const checked = checkOptions('gradCam', options, CAM_OPTIONS.filter((key) => key !== 'method'));
  return camOf('gradCam', model, layerName, classIdx, images, { ...checked, method: 'gradcam' });
}

function camOf(who: string, model: tfl.LayersModel, layerName: string, classIdx: ClassTarget, images: tf.Tensor4D, options: CamOptions): tf.Tensor3D {
  const request = prepareCam(who, model, layerName, classIdx, images, options);
  const sampling = checkOneOf(who, 'options.sampling', options.sampling ?? 'mean', SAMPLING_MODES);
  const seed = options.seed === undefined ? undefined : checkNumber(who, 'options.seed', options.seed, { integer: true });
  return runCam(request, { mode: sampling, seed });
}

/**
 * The engine: forward (and backward) at the layer, the method's map, ReLU, per-image min-max
 * normalisation, bilinear upsampling. `sampling.mode` undefined leaves each stochastic layer in its own mode.
 */
export function runCam(request: CamRequest, sampling: { mode?: SamplingMode; seed?: number }): tf.Tensor3D {
  const { model, layer, images, method, who } = request;
  // In 'mean' mode the pass's own argmax is the posterior-mean class: 'predicted' costs no extra pass.
  const meanPass = sampling.mode === 'mean' || stochasticLayers(model).length === 0;
  const classes = meanPass ? request.classes : classesOf(request.classes, model, images);
  return withSampling(model, sampling, () =>
    withScore(model, request.score, (toScores) => {
      const pass = probeLayer(model, layer, images, { classes, toScores, gradients: method.usesGradients, who });
      try {
        return tf.tidy(() => {
          const context: CamContext = {
            activations: pass.activations,
            images,
            classes: pass.classes,
            scoreCamBatchSize: request.scoreCamBatchSize,
            scoreImages: (batch, classes) =>
              tf.tidy(() => classScores(toScores(model.apply(batch, { training: false }) as tf.Tensor), classes).scores),
          };
          const map = method.usesGradients ? applyRule(method, { ...context, gradients: pass.gradients! }) : applyRule(method, context);
          // Selvaraju et al. 2017, eq. 2: only features with a positive influence on the class are kept.
          const normalised = normalizePerMap(tf.relu(map)) as tf.Tensor3D;
          return request.raw ? normalised : resizeMaps(normalised, images.shape[1], images.shape[2]);
        });
      } finally {
        pass.dispose();
      }
    }),
  );
}

/** The method's map before the ReLU: Σ_k w_k A_k from its channel weights, or its own element-wise map. */
function applyRule<C extends CamContext>(rule: MapRule<C>, context: C): tf.Tensor3D {
  if (rule.map) return rule.map(context);
  const weights = rule.channelWeights(context);
  const [batch, channels] = weights.shape;
  return tf.sum(tf.mul(context.activations, tf.reshape(weights, [batch, 1, 1, channels])), -1) as tf.Tensor3D;
}
