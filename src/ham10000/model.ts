import * as tfl from '@tensorflow/tfjs-layers';
import { checkBoolean, checkNumber, checkOneOf, checkOptions, invalidArgument, optionKeys } from '../validation';
import { SeedStream } from '../random';
import { DenseFlipout } from '../layers';
import type { Backbone, BackboneOptions } from './backbone';
import { mobilenetV2 } from './mobilenet_v2';
import type { Preprocessing } from './preprocess';
import { resnet50 } from './resnet50';
import { resnetSmall } from './resnet_small';
import { RUN_DEFAULTS } from './run';
import { compactCnn, vgg16 } from './vgg16';

/**
 * The convolutional bases `buildClassifier` knows: the article's VGG16, ResNet50 and MobileNetV2
 * (Keras' layers and names, pretrained weights when given), or, trained from scratch, a compact CNN
 * or a small residual network with batch norm.
 */
export const ARCHITECTURES = ['vgg16', 'resnet50', 'mobilenetv2', 'compact', 'resnet-small'] as const;
/** A convolutional base (see ARCHITECTURES). */
export type Architecture = (typeof ARCHITECTURES)[number];

/** The bases trained from scratch: every layer trains, no weights to load. */
type FromScratch = 'compact' | 'resnet-small';
const FROM_SCRATCH: readonly Architecture[] = ['compact', 'resnet-small'];

/** The bases that take pretrained weights, by architecture name. */
const PRETRAINED_BASES: Record<Exclude<Architecture, FromScratch>, (options: BackboneOptions & { alpha?: number }) => Promise<Backbone>> = {
  vgg16: ({ alpha: _, ...options }) => vgg16(options),
  resnet50: ({ alpha: _, ...options }) => resnet50(options),
  mobilenetv2: mobilenetV2,
};
/** How the last feature map becomes a vector: 'flatten' (the article's VGG16 head) or global average pooling. */
export const POOLINGS = ['flatten', 'avg'] as const;
/** 'flipout': the Bayesian DenseFlipout output; 'dense': a plain softmax layer, the baseline it is compared with. */
export const HEADS = ['flipout', 'dense'] as const;
/** The classifier's output layer: 'flipout' (Bayesian, DenseFlipout) or 'dense' (the same network without the Bayesian head, for comparison). */
export type Head = (typeof HEADS)[number];
/** How the classifier turns its last feature map into a vector (see POOLINGS). */
export type Pooling = (typeof POOLINGS)[number];

/** The article retrains the last 6 layers of VGG16 (block4_conv3 … block5_pool). */
export const DEFAULT_TRAINABLE_LAYERS = 6;

/**
 * Base layers trained by default: the article's 6 for VGG16; none for ResNet50 and MobileNetV2
 * (Keras' transfer-learning recipe: a frozen base, features cached once, the head trained); all
 * for the compact CNN, trained from scratch.
 */
export function defaultTrainableLayers(arch: Architecture, baseLayers: number): number {
  return arch === 'vgg16' ? DEFAULT_TRAINABLE_LAYERS : FROM_SCRATCH.includes(arch) ? baseLayers : 0;
}

/** Default head pooling: 'flatten' for VGG16 (the article's head), global average pooling for the others (Keras' `pooling='avg'`). */
export function defaultPooling(arch: Architecture): Pooling {
  return arch === 'vgg16' ? 'flatten' : 'avg';
}

/** Options of `buildClassifier`: the base, the head and what trains. */
export interface ClassifierOptions {
  /** The convolutional base. */
  arch: Architecture;
  /** Side of the square input image in pixels. */
  imageSize: number;
  /** Number of classes of the softmax head. */
  numClasses: number;
  /** Number of training examples N: the head's KL term is weighted 1/N (see VariationalLayerArgs.klWeight). */
  trainingExamples: number;
  /** Layers of the base trained at the end of it; the rest are frozen. Default: see defaultTrainableLayers. */
  trainableLayers?: number;
  /** How the feature map becomes a vector: 'flatten' (the article's VGG16 head) or global average pooling. Default: see defaultPooling. */
  pooling?: Pooling;
  /** The output layer. Default 'flipout'; 'dense' gives the same network without the Bayesian head (for comparisons). */
  head?: Head;
  /** Units of an optional ReLU dense layer before the Bayesian output. Default 0 (none). */
  denseUnits?: number;
  /**
   * Make that dense layer a DenseFlipout too (head 'flipout' only): a posterior over the features×units
   * hidden weights as well as the units×classes output ones, so the Monte Carlo average also
   * spreads over features the data pins down less well. Default false.
   */
  bayesianHidden?: boolean;
  /** Weights of the base (not compact), loaded by layer name: 'imagenet', a Keras .h5/.keras file, or a tfjs model folder. */
  weights?: string;
  /** MobileNetV2's width multiplier (mobilenetv2 only). Default 1. */
  alpha?: number;
  /** Seeds every initialisation. */
  seed: number;
}

const CLASSIFIER_OPTIONS = optionKeys<ClassifierOptions>({
  arch: true, imageSize: true, numClasses: true, trainingExamples: true, trainableLayers: true, pooling: true, head: true,
  denseUnits: true, bayesianHidden: true, weights: true, alpha: true, seed: true,
});

/** What `buildClassifier` returns: the model and what training and Grad-CAM need to know about it. */
export interface Classifier {
  /** Image (preprocessed, see `preprocessing`) → class probabilities; no nested models. */
  model: tfl.LayersModel;
  /** The first `frozenLayerCount` layers after the input never train: their output is cached. */
  frozenLayerCount: number;
  /** The base's last convolutional feature map, where Grad-CAM looks. */
  camLayer: string;
  /** How pixels 0..255 become the model's input (the base's Keras preprocessing). */
  preprocessing: Preprocessing;
  /** Whether the base's weights were loaded (false: random initialisation). */
  pretrained: boolean;
  /** Things the user must hear (e.g. no pretrained weights); the CLI prints them. */
  warnings: string[];
}

/**
 * A convolutional base (see ARCHITECTURES) with all but its last `trainableLayers` layers
 * frozen, and a Bayesian head: pooling, an optional dense layer, and a DenseFlipout softmax with
 * klWeight = 1 / training examples (Blundell et al. 2015, eq. 8 spread over the examples).
 */
export async function buildClassifier(given: ClassifierOptions): Promise<Classifier> {
  const who = 'buildClassifier';
  const options = checkOptions(who, given, CLASSIFIER_OPTIONS);
  const arch = checkOneOf(who, 'arch', options.arch, ARCHITECTURES);
  const imageSize = checkNumber(who, 'imageSize', options.imageSize, { min: 1, integer: true });
  const numClasses = checkNumber(who, 'numClasses', options.numClasses, { min: 2, integer: true });
  const examples = checkNumber(who, 'trainingExamples', options.trainingExamples, { min: 1, integer: true });
  const seed = checkNumber(who, 'seed', options.seed, { integer: true });
  const pooling = checkOneOf(who, 'pooling', options.pooling ?? defaultPooling(arch), POOLINGS);
  const denseUnits = checkNumber(who, 'denseUnits', options.denseUnits ?? RUN_DEFAULTS.denseUnits, { min: 0, integer: true });
  const headKind = checkOneOf(who, 'head', options.head ?? RUN_DEFAULTS.head, HEADS);
  const bayesianHidden = checkBoolean(who, 'bayesianHidden', options.bayesianHidden ?? RUN_DEFAULTS.bayesianHidden);
  if (bayesianHidden && (headKind !== 'flipout' || denseUnits === 0)) {
    invalidArgument(who, 'bayesianHidden', "used only with head 'flipout' and denseUnits > 0", true, 'Add --dense <units> and keep --head flipout, or drop --bayesian-hidden.');
  }
  if (options.weights !== undefined && FROM_SCRATCH.includes(arch)) {
    invalidArgument(who, 'weights', "given only with a pretrained architecture (vgg16, resnet50, mobilenetv2)", options.weights, 'Drop --weights or choose one of them with --arch.');
  }
  const inputShape: [number, number, number] = [imageSize, imageSize, 3];
  if (options.alpha !== undefined && arch !== 'mobilenetv2') {
    invalidArgument(who, 'alpha', "given only with arch 'mobilenetv2'", options.alpha, 'Drop --alpha or use --arch mobilenetv2.');
  }
  const { weights, alpha } = options;
  const backbone =
    arch === 'compact' ? compactCnn({ inputShape, seed }) : arch === 'resnet-small' ? resnetSmall({ inputShape, seed }) : await PRETRAINED_BASES[arch]({ inputShape, weights, seed, ...(alpha === undefined ? {} : { alpha }) });
  const baseLayers = backbone.model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  const trainable = checkNumber(who, 'trainableLayers', options.trainableLayers ?? defaultTrainableLayers(arch, baseLayers.length), {
    min: 0,
    max: baseLayers.length,
    integer: true,
  });
  const frozenLayerCount = baseLayers.length - trainable;
  checkCut(baseLayers, frozenLayerCount);
  baseLayers.forEach((layer, index) => (layer.trainable = index >= frozenLayerCount));

  const seeds = new SeedStream(seed, 'head');
  const head: tfl.layers.Layer[] = [
    pooling === 'flatten' ? tfl.layers.flatten({ name: 'head_flatten' }) : tfl.layers.globalAveragePooling2d({ name: 'head_pool' }),
  ];
  if (denseUnits > 0) {
    head.push(
      bayesianHidden
        ? new DenseFlipout({ units: denseUnits, activation: 'relu', klWeight: 1 / examples, seed: seeds.next(), name: 'head_dense_flipout' })
        : tfl.layers.dense({ units: denseUnits, activation: 'relu', name: 'head_dense', kernelInitializer: tfl.initializers.heNormal({ seed: seeds.next() }) }),
    );
  }
  head.push(
    headKind === 'flipout'
      ? new DenseFlipout({ units: numClasses, activation: 'softmax', klWeight: 1 / examples, seed: seeds.next(), name: 'head_flipout' })
      : tfl.layers.dense({ units: numClasses, activation: 'softmax', name: 'head_dense_out', kernelInitializer: tfl.initializers.glorotUniform({ seed: seeds.next() }) }),
  );
  const output = head.reduce((x, layer) => layer.apply(x) as tfl.SymbolicTensor, backbone.model.outputs[0]);
  const model = tfl.model({ inputs: backbone.model.inputs, outputs: output, name: `ham10000_${arch}` });
  const { camLayer, preprocessing, pretrained, warnings } = backbone;
  return { model, frozenLayerCount, camLayer, preprocessing, pretrained, warnings };
}

/** A classifier cut in two at the frozen layers, so the frozen half runs once per image (see `FeatureCache`). */
export interface SplitClassifier {
  /** Image → cached features, or null when nothing is frozen (the features are then the images). */
  frozen: tfl.LayersModel | null;
  /** Features → probabilities: the part that trains. Shares its layers (and weights) with the full model. */
  trainable: tfl.LayersModel;
}

/**
 * Cuts a model after its first `frozenLayerCount` layers (not counting the input), so the frozen
 * part runs once per image and training touches only the rest. The halves share weights with
 * `model`: training `trainable` trains `model`. The cut must cross the graph at one tensor (a
 * chain, or between residual blocks); see `checkCut`.
 */
export function splitClassifier(model: tfl.LayersModel, frozenLayerCount: number): SplitClassifier {
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  checkNumber('splitClassifier', 'frozenLayerCount', frozenLayerCount, { min: 0, max: layers.length - 1, integer: true });
  checkCut(layers, frozenLayerCount);
  const cut = frozenLayerCount === 0 ? model.inputs[0] : outputOf(layers[frozenLayerCount - 1]);
  const frozen = frozenLayerCount === 0 ? null : tfl.model({ inputs: model.inputs, outputs: cut, name: 'frozen' });
  const input = tfl.input({ shape: cut.shape.slice(1) as number[], name: 'features' });
  // The trainable layers again, in order, each on the new tensors of its original inputs.
  const rebuilt = new Map<number, tfl.SymbolicTensor>([[cut.id, input]]);
  for (const layer of layers.slice(frozenLayerCount)) {
    const inputs = layer.inboundNodes[0].inputTensors.map((tensor) => rebuilt.get(tensor.id)!);
    rebuilt.set(outputOf(layer).id, layer.apply(inputs.length === 1 ? inputs[0] : inputs) as tfl.SymbolicTensor);
  }
  return { frozen, trainable: tfl.model({ inputs: input, outputs: rebuilt.get(model.outputs[0].id)!, name: 'trainable' }) };
}

/** A layer's output in the graph it was built in (later applications, e.g. by splitClassifier, add nodes). */
function outputOf(layer: tfl.layers.Layer): tfl.SymbolicTensor {
  return layer.inboundNodes[0].outputTensors[0];
}

/**
 * Throws unless freezing the first `frozenLayerCount` layers cuts the graph at one tensor: every
 * later layer reads only later layers' outputs or the last frozen one's. In a residual network a
 * cut inside a block would leave the shortcut behind; the error names the nearest valid counts.
 */
function checkCut(layers: tfl.layers.Layer[], frozenLayerCount: number): void {
  const index = new Map(layers.map((layer, i) => [layer, i]));
  const valid = (k: number) =>
    layers.slice(k).every((layer) =>
      layer.inboundNodes[0].inboundLayers.every((from) => {
        const i = index.get(from);
        return i === undefined ? k === 0 : i >= k - 1;
      }),
    );
  if (valid(frozenLayerCount)) return;
  const trainable = layers.length - frozenLayerCount;
  const counts = layers.map((_, k) => k).filter(valid).map((k) => layers.length - k);
  // Count 0 (nothing trainable) is always valid, so there is always one below.
  const below = Math.max(...counts.filter((count) => count < trainable));
  const above = counts.filter((count) => count > trainable);
  const nearest = above.length > 0 ? `${below} or ${Math.min(...above)}` : `${below}`;
  invalidArgument('buildClassifier', 'trainableLayers', `a count that cuts the base between blocks (nearest: ${nearest})`, trainable, `Use --trainable-layers ${below}.`);
}
