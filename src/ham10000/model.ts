import * as tfl from '@tensorflow/tfjs-layers';
import { checkBoolean, checkNumber, checkOneOf, checkOptions, invalidArgument, optionKeys } from '../validation';
import { SeedStream } from '../random';
import { DenseFlipout } from '../layers';
import { RUN_DEFAULTS } from './run';
import { compactCnn, vgg16, type Backbone } from './vgg16';

/** The convolutional bases `buildClassifier` knows: the article's VGG16, or a compact CNN trained from scratch. */
export const ARCHITECTURES = ['vgg16', 'compact'] as const;
/** A convolutional base: 'vgg16' (pretrained weights when given) or 'compact' (small, for CPU training). */
export type Architecture = (typeof ARCHITECTURES)[number];
/** How the last feature map becomes a vector: 'flatten' (the article's VGG16 head) or global average pooling. */
export const POOLINGS = ['flatten', 'avg'] as const;
/** 'flipout': the Bayesian DenseFlipout output; 'dense': a plain softmax layer, the baseline it is compared with. */
export const HEADS = ['flipout', 'dense'] as const;
/** The classifier's output layer: 'flipout' (Bayesian, DenseFlipout) or 'dense' (the same network without the Bayesian head, for comparison). */
export type Head = (typeof HEADS)[number];
/** How the classifier turns its last feature map into a vector (see POOLINGS). */
export type Pooling = (typeof POOLINGS)[number];

/** The pooling an architecture takes by default: VGG16's own flatten head, global averaging for the compact CNN. */
export function defaultPooling(arch: Architecture): Pooling {
  return arch === 'vgg16' ? 'flatten' : 'avg';
}

/** The article retrains the last 6 layers of VGG16 (block4_conv3 … block5_pool). */
export const DEFAULT_TRAINABLE_LAYERS = 6;

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
  /** Layers of the base trained at the end of it; the rest are frozen. Default 6 for vgg16, all for compact (from scratch). */
  trainableLayers?: number;
  /** How the feature map becomes a vector: 'flatten' (the article's VGG16 head) or global average pooling. Default flatten for vgg16, avg for compact. */
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
  /** tfjs layers-format VGG16 weights (vgg16 only), loaded by layer name. */
  weights?: string;
  /** Seeds every initialisation. */
  seed: number;
}

const CLASSIFIER_OPTIONS = optionKeys<ClassifierOptions>({
  arch: true, imageSize: true, numClasses: true, trainingExamples: true, trainableLayers: true, pooling: true, head: true,
  denseUnits: true, bayesianHidden: true, weights: true, seed: true,
});

/** What `buildClassifier` returns: the model and what training and Grad-CAM need to know about it. */
export interface Classifier {
  /** Image (VGG-preprocessed) → class probabilities; a chain of layers, none nested. */
  model: tfl.LayersModel;
  /** The first `frozenLayerCount` layers after the input never train: their output is cached. */
  frozenLayerCount: number;
  /** The base's last convolution, where Grad-CAM looks. */
  camLayer: string;
  /** Whether the base's weights were loaded (false: random initialisation). */
  pretrained: boolean;
  /** Things the user must hear (e.g. no pretrained weights); the CLI prints them. */
  warnings: string[];
}

/**
 * A convolutional base (VGG16 or the compact CNN) with all but its last `trainableLayers` layers
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
  if (options.weights !== undefined && arch !== 'vgg16') {
    invalidArgument(who, 'weights', "given only with arch 'vgg16'", options.weights, 'Drop --weights or use --arch vgg16.');
  }
  const inputShape: [number, number, number] = [imageSize, imageSize, 3];
  const backbone: Backbone =
    arch === 'vgg16' ? await vgg16({ inputShape, weights: options.weights, seed }) : compactCnn({ inputShape, seed });
  const baseLayers = backbone.model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  const trainable = checkNumber(who, 'trainableLayers', options.trainableLayers ?? (arch === 'vgg16' ? DEFAULT_TRAINABLE_LAYERS : baseLayers.length), {
    min: 0,
    max: baseLayers.length,
    integer: true,
  });
  const frozenLayerCount = baseLayers.length - trainable;
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
  return { model, frozenLayerCount, camLayer: backbone.camLayer, pretrained: backbone.pretrained, warnings: backbone.warnings };
}

/** A classifier cut in two at the frozen layers, so the frozen half runs once per image (see `FeatureCache`). */
export interface SplitClassifier {
  /** Image → cached features, or null when nothing is frozen (the features are then the images). */
  frozen: tfl.LayersModel | null;
  /** Features → probabilities: the part that trains. Shares its layers (and weights) with the full model. */
  trainable: tfl.LayersModel;
}

/**
 * Cuts a chain model after its first `frozenLayerCount` layers (not counting the input), so the
 * frozen part runs once per image and training touches only the rest. The halves share weights
 * with `model`: training `trainable` trains `model`.
 */
export function splitClassifier(model: tfl.LayersModel, frozenLayerCount: number): SplitClassifier {
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  checkNumber('splitClassifier', 'frozenLayerCount', frozenLayerCount, { min: 0, max: layers.length - 1, integer: true });
  const cut = frozenLayerCount === 0 ? model.inputs[0] : (layers[frozenLayerCount - 1].output as tfl.SymbolicTensor);
  const frozen = frozenLayerCount === 0 ? null : tfl.model({ inputs: model.inputs, outputs: cut, name: 'frozen' });
  const input = tfl.input({ shape: cut.shape.slice(1) as number[], name: 'features' });
  const output = layers.slice(frozenLayerCount).reduce((x, layer) => layer.apply(x) as tfl.SymbolicTensor, input);
  return { frozen, trainable: tfl.model({ inputs: input, outputs: output, name: 'trainable' }) };
}
