/**
 * What every convolutional base shares: the `Backbone` record, the weights it loads (a Keras file,
 * a tfjs folder or the ImageNet weights on demand), Keras-style initialisers and a batch norm that
 * stays in inference mode while frozen. The bases live beside the pipeline (Node) because their
 * weights come from paths and the download cache; the core's `loadKerasWeights` serves any model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { invalidArgument } from '../validation';
import { SeedStream } from '../random';
import { loadKerasWeights } from '../node/keras';
import { cachedWeightFile, type WeightFileSpec } from '../node/keras_applications';
import { MODEL_JSON } from '../node/model_io';
import type { Preprocessing } from './preprocess';
import { loadWeightsByName } from './weights_by_name';

/**
 * A convolutional base: the layers from the image to the last feature map, before any head.
 * `pretrained` is false when the weights are random; `warnings` says so in words for the CLI to
 * print (the library itself prints nothing).
 */
export interface Backbone {
  /** Input → last feature map, with the Keras layer names. */
  model: tfl.LayersModel;
  /** Where Grad-CAM looks by default: the last convolutional feature map. */
  camLayer: string;
  /** How pixels 0..255 become this base's input, as Keras' `preprocess_input` for it. */
  preprocessing: Preprocessing;
  pretrained: boolean;
  warnings: string[];
}

/** Options every pretrained base takes: the input shape, the weights to load or the seed to initialise with. */
export interface BackboneOptions {
  /** [height, width, 3]. */
  inputShape: [number, number, number];
  /** Only the convolutional base exists here: the classifier head is the Bayesian one. */
  includeTop?: false;
  /**
   * 'imagenet' (Keras' notop file, downloaded once into the cache), a Keras weight file (`.h5`,
   * `.weights.h5`, `.keras`), or a tfjs layers-format folder / model.json; all load by layer name.
   */
  weights?: string;
  /** Seed of the random initialisation used when there are no weights. */
  seed?: number;
}

/** The option keys of the pretrained bases, for `checkOptions`. */
export const BACKBONE_OPTION_KEYS = ['inputShape', 'includeTop', 'weights', 'seed'] as const;

/** A kernel initialiser: Keras' default (Glorot uniform), seeded; zeros when weights will be loaded over it. */
export function kernelInit(seeds: SeedStream | null, kind: 'glorotUniform' | 'heUniform' = 'glorotUniform') {
  return seeds ? tfl.initializers[kind]({ seed: seeds.next() }) : tfl.initializers.zeros();
}

/** The seeds of a base's random initialisation, or null when weights will replace it (14.7 M draws for VGG16 are seconds of wasted work). */
export function initSeeds(who: string, options: BackboneOptions): SeedStream | null {
  if (options.includeTop !== undefined && options.includeTop !== false) {
    invalidArgument(who, 'includeTop', 'false (the head is the Bayesian classifier of buildClassifier)', options.includeTop);
  }
  return options.weights === undefined ? new SeedStream(options.seed ?? 0, who) : null;
}

export function checkImageShape(who: string, shape: unknown, minSide: number): [number, number, number] {
  const ok =
    Array.isArray(shape) &&
    shape.length === 3 &&
    shape[2] === 3 &&
    shape.slice(0, 2).every((side) => Number.isInteger(side) && side >= minSide);
  if (!ok) {
    invalidArgument(who, 'inputShape', `[height, width, 3] with sides >= ${minSide}`, shape, 'Use a larger --image-size.');
  }
  return shape as [number, number, number];
}

/**
 * Loads `weights` into a freshly built base: 'imagenet' through the cache (`spec` says which
 * file), a tfjs folder or model.json by name, anything else as a Keras file. Returns the backbone
 * with `pretrained` set, or with the warning that it is not when there are no weights.
 */
export async function withWeights(backbone: Omit<Backbone, 'pretrained' | 'warnings'>, who: string, weights: string | undefined, spec: () => WeightFileSpec): Promise<Backbone> {
  if (weights === undefined) {
    const warning =
      `${who}: NO PRETRAINED WEIGHTS: the ${who} base starts from random initialisation, so this is training from scratch, ` +
      "not transfer learning. Give --weights imagenet (downloaded once), a Keras .h5/.keras file, or a tfjs model folder.";
    return { ...backbone, pretrained: false, warnings: [warning] };
  }
  try {
    if (weights === 'imagenet') await loadKerasWeights(backbone.model, await cachedWeightFile(spec()));
    else if (isTfjsModel(weights)) loadWeightsByName(backbone.model.layers, weights);
    else await loadKerasWeights(backbone.model, weights);
  } catch (error) {
    // The caller never sees the half-built base: free its weights here.
    backbone.model.dispose();
    throw error;
  }
  return { ...backbone, pretrained: true, warnings: [] };
}

function isTfjsModel(location: string): boolean {
  return path.basename(location) === MODEL_JSON || (fs.existsSync(location) && fs.statSync(location).isDirectory());
}

/** `layer.apply(x)` typed for a single symbolic tensor, as the builders chain layers. */
export function applyLayer(layer: tfl.layers.Layer, x: tfl.SymbolicTensor): tfl.SymbolicTensor {
  return layer.apply(x) as tfl.SymbolicTensor;
}

/** The options of tfjs' BatchNormalization layer. */
type BatchNormArgs = NonNullable<Parameters<typeof tfl.layers.batchNormalization>[0]>;

/** tfjs' own BatchNormalization class, taken from the serialisation registry (tfjs-layers exports only its factory). */
function tfjsBatchNormalization(): new (args: BatchNormArgs) => tfl.layers.Layer {
  return serialization.SerializationMap.getMap().classNameMap['BatchNormalization'][0] as unknown as new (args: BatchNormArgs) => tfl.layers.Layer;
}

let FrozenInference: (new (args: BatchNormArgs) => tfl.layers.Layer) | null = null;

/**
 * A batch norm that runs in inference mode whenever it is frozen (`trainable` false), also inside
 * a training call, as Keras 2.x+ does in transfer learning: a frozen base keeps its ImageNet
 * statistics instead of normalising by each batch's. tfjs' layer uses batch statistics in any
 * training call. It serialises as tfjs' BatchNormalization, which a saved model reloads as.
 */
export function batchNorm(args: BatchNormArgs): tfl.layers.Layer {
  FrozenInference ??= class extends tfjsBatchNormalization() {
    override call(...[inputs, kwargs]: Parameters<tfl.layers.Layer['call']>) {
      return super.call(inputs, this.trainable ? kwargs : { ...kwargs, training: false });
    }
  } as unknown as new (args: BatchNormArgs) => tfl.layers.Layer;
  return new FrozenInference(args);
}
