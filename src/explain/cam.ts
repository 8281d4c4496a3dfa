import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SCORE_KINDS, type ClassTarget, type ScoreKind, type TargetFunction } from '../conventions';
import { ShapeError } from '../errors';
import { SAMPLING_MODES, stochasticLayers, withSampling, type SamplingMode } from '../layers/sampling';
import { dihedralTransform } from '../uncertainty/views';
import { assertFinite, checkBoolean, checkNumber, checkOneOf, checkOptions, describe, invalidArgument, isTensor, optionKeys } from '../validation';
import { findTargetLayer } from './find_layer';
import { normalizePerMap, resizeMaps } from './maps';
import { CAM_METHODS, type CamContext, type CamMethod, type CamMethodDefinition, type MapRule } from './method';
import { CAM_METHOD_DEFINITIONS } from './methods';
import { checkClassifier, checkImages, classesOf, resolveClassTarget, type ResolvedTarget } from './model_checks';
import { patch } from './patch';
import { firstComponentProjection } from './pca';
import { probeLayer } from './probe';
import { classScores, withScore } from './score';

/** Turns a target layer's output (e.g. ViT tokens [batch, tokens, channels]) into [batch, height, width, channels]. */
export type ReshapeTransform = (layerOutput: tf.Tensor) => tf.Tensor4D;

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
  /** Gradient-free methods (Score-CAM, Ablation-CAM): images per forward pass. Default 32; lower it if memory runs out. */
  scoreCamBatchSize?: number;
  /** Refuse images holding NaN or ±Infinity (one reduction over the batch), instead of returning NaN maps. Default true. */
  checkFinite?: boolean;
  /**
   * Replace each map's channel sum Σ_k w_k A_k by the first principal component of the weighted
   * channels w_k A_k (pytorch-grad-cam's `eigen_smooth`): less noise, same cost plus a small SVD.
   * No effect on Eigen-CAM and Eigen-Grad-CAM, which are principal components already. Default false.
   */
  eigenSmooth?: boolean;
  /**
   * Average the maps of the 8 dihedral views of each image (rotations by quarter turns, with and
   * without a mirror), each mapped back onto the image (pytorch-grad-cam's `aug_smooth`, with the
   * symmetries of a square): steadier maps, 8 times the cost. Square images only. Default false.
   */
  augSmooth?: boolean;
  /**
   * Turns the target layer's output into [batch, height, width, channels] before the method sees
   * it, for layers that are not spatial maps, e.g. ViT tokens: `tokensToGrid(14, 14)`. Applied to
   * the activations and to their gradients, as pytorch-grad-cam's `reshape_transform`.
   */
  reshapeTransform?: ReshapeTransform;
}

/** Everything a CAM run needs, validated once. */
export interface CamRequest {
  who: string;
  model: tfl.LayersModel;
  layer: tfl.layers.Layer;
  images: tf.Tensor4D;
  classes: ResolvedTarget;
  method: CamMethodDefinition;
  raw: boolean;
  score: ScoreKind;
  scoreCamBatchSize: number;
  eigenSmooth: boolean;
  augSmooth: boolean;
  reshapeTransform: ReshapeTransform | null;
}

const DEFAULT_SCORE_CAM_BATCH_SIZE = 32;
/** Every option of `cam`, for the entry points that take them (or a subset). */
export const CAM_OPTIONS = optionKeys<CamOptions>({
  method: true,
  raw: true,
  score: true,
  sampling: true,
  seed: true,
  scoreCamBatchSize: true,
  checkFinite: true,
  eigenSmooth: true,
  augSmooth: true,
  reshapeTransform: true,
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
  const reshapeTransform = options.reshapeTransform ?? null;
  if (reshapeTransform !== null && typeof reshapeTransform !== 'function') {
    invalidArgument(who, 'options.reshapeTransform', 'a function (layerOutput) => [batch, height, width, channels]', reshapeTransform);
  }
  const layer = findTargetLayer(model, layerName, who, reshapeTransform !== null);
  const checkedImages = checkImages(model, images, who);
  if (checkBoolean(who, 'options.checkFinite', options.checkFinite ?? true)) {
    assertFinite(who, 'images', checkedImages, 'Clean or impute the images, or pass checkFinite: false.');
  }
  const augSmooth = checkBoolean(who, 'options.augSmooth', options.augSmooth ?? false);
  if (augSmooth && checkedImages.shape[1] !== checkedImages.shape[2]) {
    throw new ShapeError(
      `${who}: images must be square to be rotated when options.augSmooth is true; got ${describe(checkedImages.shape)}. ` +
        'Crop or resize them to a square, or leave augSmooth off.',
    );
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
    eigenSmooth: checkBoolean(who, 'options.eigenSmooth', options.eigenSmooth ?? false),
    augSmooth,
    reshapeTransform,
  };
}

/**
 * Class activation maps [batch, H, W] in [0, 1], one per image, for what each image is explained
 * for, at the layer `layerName` (`'base/block5_conv3'` for a layer of a nested model). One forward
 * and (for gradient methods) one backward pass for the whole batch, in inference mode.
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

/** `cam` under another name (`who`), with options already checked against that entry point's keys. */
export function camOf(who: string, model: tfl.LayersModel, layerName: string, classIdx: ClassTarget, images: tf.Tensor4D, options: CamOptions): tf.Tensor3D {
  const request = prepareCam(who, model, layerName, classIdx, images, options);
  const sampling = checkOneOf(who, 'options.sampling', options.sampling ?? 'mean', SAMPLING_MODES);
  const seed = options.seed === undefined ? undefined : checkNumber(who, 'options.seed', options.seed, { integer: true });
  return runCam(request, { mode: sampling, seed });
}

/** The 8 symmetries of a square as (mirror, quarter turns), in the order of `dihedralViews`. */
const DIHEDRAL_GROUP = [0, 1, 2, 3].flatMap((turns) => [false, true].map((mirror) => ({ mirror, turns })));

/**
 * The engine: the maps of the images, or with `augSmooth` the mean of the maps of their 8
 * dihedral views, each turned back onto the image, every view explained for its image's class.
 * `sampling.mode` undefined leaves each stochastic layer in its own mode; with a seed, every view
 * is explained by the same draw.
 */
export function runCam(request: CamRequest, sampling: { mode?: SamplingMode; seed?: number }): tf.Tensor3D {
  const { model, images } = request;
  // In 'mean' mode the pass's own argmax is the posterior-mean class: 'predicted' costs no extra pass.
  const meanPass = (sampling.mode === 'mean' || stochasticLayers(model).length === 0) && !request.augSmooth;
  const classes = meanPass ? request.classes : classesOf(request.classes, model, images);
  if (!request.augSmooth) return runPass({ ...request, classes }, images, sampling);
  let total: tf.Tensor3D | null = null;
  try {
    for (const { mirror, turns } of DIHEDRAL_GROUP) {
      const view = dihedralTransform(request.images, mirror, turns);
      let map: tf.Tensor3D;
      try {
        map = runPass({ ...request, classes }, view, sampling);
      } finally {
        view.dispose();
      }
      const previous: tf.Tensor3D | null = total;
      total = tf.tidy(() => {
        // A mirror is its own inverse; t quarter turns are undone by 4 − t more.
        const back = tf.squeeze(dihedralTransform(tf.expandDims(map, -1) as tf.Tensor4D, mirror, mirror ? turns : (4 - turns) % 4), [3]);
        return (previous ? tf.add(previous, back) : back) as tf.Tensor3D;
      });
      tf.dispose([map, ...(previous ? [previous] : [])]);
    }
    const sum: tf.Tensor3D = total!;
    // pytorch-grad-cam's forward_augmentation_smoothing: the plain mean of the normalised maps.
    return tf.tidy(() => tf.div(sum, DIHEDRAL_GROUP.length) as tf.Tensor3D);
  } finally {
    total?.dispose();
  }
}

/** One view: forward (and backward) at the layer, the method's map, ReLU, per-image min-max normalisation, bilinear upsampling. */
function runPass(request: CamRequest, images: tf.Tensor4D, sampling: { mode?: SamplingMode; seed?: number }): tf.Tensor3D {
  const { model, layer, method, who } = request;
  return withSampling(model, sampling, () =>
    withScore(model, request.score, (toScores) => {
      const pass = probeLayer(model, layer, images, { classes: request.classes, toScores, gradients: method.usesGradients, who });
      try {
        return tf.tidy(() => {
          const context: CamContext = {
            activations: spatial(request, pass.activations),
            images,
            scoreCamBatchSize: request.scoreCamBatchSize,
            scoreImages: (batch, rows, edit) =>
              tf.tidy(() => {
                const output = withLayerEdit(layer, edit, () => model.apply(batch, { training: false }) as tf.Tensor);
                return classScores(toScores(output), rowTargets(pass.target, rows), who).scores;
              }),
          };
          const map = method.usesGradients
            ? applyRule(method, { ...context, gradients: spatial(request, pass.gradients!) }, request.eigenSmooth)
            : applyRule(method, context, request.eigenSmooth);
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

/** The layer's output as [batch, height, width, channels]: as is, or through the reshapeTransform. */
function spatial(request: CamRequest, layerOutput: tf.Tensor): tf.Tensor4D {
  if (!request.reshapeTransform) return layerOutput as tf.Tensor4D;
  const result: unknown = request.reshapeTransform(layerOutput);
  if (!isTensor(result) || result.rank !== 4 || result.shape[0] !== layerOutput.shape[0]) {
    throw new ShapeError(
      `${request.who}: options.reshapeTransform must return [batch, height, width, channels] with batch ${layerOutput.shape[0]}; ` +
        `got ${isTensor(result) ? `shape ${describe(result.shape)}` : describe(result)} ` +
        `for the layer output of shape ${describe(layerOutput.shape)}. For tokens, use tokensToGrid(height, width).`,
    );
  }
  return result as tf.Tensor4D;
}

/** What the rows of a scored batch are explained for: the class of the image each row comes from, or the target function. */
function rowTargets(target: number[] | TargetFunction, rows: number[]): number[] | TargetFunction {
  return typeof target === 'function' ? target : rows.map((row) => target[row]);
}

/** Runs `fn` with the layer's output O replaced by `edit(O)` (restored in `finally`); just `fn` without an edit. */
function withLayerEdit<T>(layer: tfl.layers.Layer, edit: ((output: tf.Tensor) => tf.Tensor) | undefined, fn: () => T): T {
  if (!edit) return fn();
  const originalCall = layer.call;
  const restore = patch(layer, 'call', (inputs: tf.Tensor | tf.Tensor[], kwargs: Parameters<typeof originalCall>[1]) =>
    edit(originalCall.call(layer, inputs, kwargs) as tf.Tensor),
  );
  try {
    return fn();
  } finally {
    restore();
  }
}

/**
 * The method's map before the ReLU: Σ_k w_k A_k from its channel weights, the channel sum of its
 * contributions, or its own map; with `eigenSmooth`, the first principal component of the
 * weighted channels instead of their sum (pytorch-grad-cam's `get_cam_image`).
 */
function applyRule<C extends CamContext>(rule: MapRule<C>, context: C, eigenSmooth: boolean): tf.Tensor3D {
  if (rule.map) return rule.map(context);
  let contributions: tf.Tensor4D;
  if (rule.contributions) contributions = rule.contributions(context);
  else {
    const weights = rule.channelWeights(context);
    const [batch, channels] = weights.shape;
    contributions = tf.mul(context.activations, tf.reshape(weights, [batch, 1, 1, channels]));
  }
  return eigenSmooth ? firstComponentProjection(contributions) : (tf.sum(contributions, -1) as tf.Tensor3D);
}
