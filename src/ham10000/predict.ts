import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { DEFAULT_SAMPLES } from '../conventions';
import { checkNumber, checkOptions, optionKeys } from '../validation';
import { bayesianCam, overlay, type BayesianCam, type CamMethod, type ColormapName } from '../explain';
import { encodePng } from '../node';
import { dihedralViews, mcPredict, type McSummary } from '../uncertainty';
import { colourScaleSvg, densityPlotSvg } from './charts';
import { CAM_SAMPLES, explanationName, loadRun, runExplanation, type LoadedRun } from './run';
import { readImage } from './images';
import { preprocessImages } from './preprocess';

/** Options of `explainImage`: how many samples for the probabilities and for the Grad-CAM maps. */
export interface ExplainImageOptions {
  /** Monte Carlo samples of the class probabilities. Default `DEFAULT_SAMPLES` (100). */
  samples?: number;
  /** Networks drawn for the Bayesian Grad-CAM. Default `CAM_SAMPLES` (8). */
  camSamples?: number;
  /** Default 0. */
  seed?: number;
  /** Test-time augmentation: the samples go round the 8 flips and quarter turns of the image (see dihedralViews). Default false. */
  tta?: boolean;
  /** The same image at a size for people to look at (RGB 0..255); the overlays are drawn on it. Default: the model's input. */
  display?: tf.Tensor3D;
  /** The CAM method of the map. Default: the run's map (`runExplanation`: 'layercam' for resnet-small, else 'gradcam'). */
  method?: CamMethod;
  /** The layer explained. Default: the run's map's ('stage1_out' for resnet-small, else the run's `camLayer`). */
  layerName?: string;
  /** Average the map over the 8 flips and quarter turns of the image (the CAM engine's augSmooth). Default: the run's map's (true for resnet-small). */
  augSmooth?: boolean;
}

const EXPLAIN_IMAGE_KEYS = { samples: true, camSamples: true, seed: true, tta: true, display: true, method: true, layerName: true, augSmooth: true } as const;
const EXPLAIN_IMAGE_OPTIONS = optionKeys<ExplainImageOptions>(EXPLAIN_IMAGE_KEYS);

/** Side of the images the CLI and the report draw overlays on: the model's input may be 32 px. */
export const DISPLAY_SIZE = 224;

/** One class's Monte Carlo probability: mean, standard deviation and the 5 % and 95 % quantiles over the samples. */
export interface ClassDistribution {
  class: string;
  mean: number;
  std: number;
  q05: number;
  q95: number;
}

/** One image explained: its probability distributions, density plot and Grad-CAM maps. Call `dispose()`. */
export interface ImageExplanation {
  predicted: string;
  classes: ClassDistribution[];
  predictiveEntropy: number;
  expectedEntropy: number;
  mutualInformation: number;
  samples: number;
  /** The density plot, one curve per class, as an SVG document. */
  densitySvg: string;
  /** Overlays of the posterior-mean Grad-CAM map and of its per-pixel standard deviation, as PNG bytes, each with its colour scale below. */
  camMeanPng: Buffer;
  /** The standard-deviation overlay: where the explanation is unsure. It is scaled to its own maximum, `camStdMax`, which its colour scale names. */
  camStdPng: Buffer;
  /** The largest per-pixel standard deviation of the map (the top of the std overlay's colour scale). */
  camStdMax: number;
  /** The mean map [1, H, W] at the model's input size, for localisation against a mask. */
  camMean: tf.Tensor3D;
  /** Frees `camMean`. */
  dispose(): void;
}

/**
 * Monte Carlo prediction and Bayesian Grad-CAM of one RGB image [H, W, 3] (0..255, at the run's
 * image size): what `predict` writes to files and `report` inlines.
 */
export async function explainImage(run: LoadedRun, rgb: tf.Tensor3D, given: ExplainImageOptions = {}): Promise<ImageExplanation> {
  const options = checkOptions('explainImage', given, EXPLAIN_IMAGE_OPTIONS);
  const samples = checkNumber('explainImage', 'samples', options.samples ?? DEFAULT_SAMPLES, { min: 2, integer: true });
  const camSamples = checkNumber('explainImage', 'camSamples', options.camSamples ?? CAM_SAMPLES, { min: 2, integer: true });
  const seed = options.seed ?? 0;
  const { classes } = run.config;
  const explanation = runExplanation(run.config, { method: options.method, layer: options.layerName, augSmooth: options.augSmooth });
  const input = tf.tidy(() => preprocessImages(tf.expandDims(rgb, 0) as tf.Tensor4D, run.config.preprocessing ?? 'caffe'));
  let summary: McSummary;
  let cam: BayesianCam;
  // Every step may throw (a bad layer, out of memory): each tensor is freed on every path.
  try {
    const prediction = mcPredict(run.model, input, { samples, seed, quantiles: [0.05, 0.95], views: options.tta ? dihedralViews() : undefined });
    try {
      summary = await prediction.summaryAsync({ classNames: classes, density: { range: [0, 1], bandwidth: 'oversmoothed' } });
    } finally {
      prediction.dispose();
    }
    cam = bayesianCam(run.model, explanation.layer, 'predicted', input, { samples: camSamples, seed, method: explanation.method, augSmooth: explanation.augSmooth });
  } finally {
    input.dispose();
  }
  const shown = options.display ?? rgb;
  let pngs: [Buffer, Buffer];
  let camMean: tf.Tensor3D;
  let camStdMax: number;
  try {
    const stdPeak = tf.max(cam.std);
    camStdMax = (await stdPeak.data().finally(() => stdPeak.dispose()))[0];
    pngs = await Promise.all([
      overlayPng(shown, cam.mean, { colormap: 'jet', top: 1, label: `${explanationName(explanation)}, mean over the networks` }),
      overlayPng(shown, cam.std, { colormap: 'viridis', top: camStdMax, label: 'standard deviation of the map' }),
    ]);
    camMean = tf.clone(cam.mean);
  } finally {
    cam.dispose();
  }
  const [camMeanPng, camStdPng] = pngs;
  const mean = summary.mean[0];
  const top = mean.indexOf(Math.max(...mean));
  return {
    predicted: classes[top],
    classes: classes.map((name, c) => ({
      class: name,
      mean: mean[c],
      std: summary.std[0][c],
      q05: summary.quantiles[0].values[0][c],
      q95: summary.quantiles[1].values[0][c],
    })),
    predictiveEntropy: summary.predictiveEntropy[0],
    expectedEntropy: summary.expectedEntropy[0],
    mutualInformation: summary.mutualInformation[0],
    samples,
    densitySvg: densityPlotSvg(summary.densities![0], classes, `Predicted: ${classes[top]} (${(mean[top] * 100).toFixed(1)} %)`),
    camMeanPng,
    camStdPng,
    camStdMax,
    camMean,
    dispose: () => camMean.dispose(),
  };
}

/**
 * Blends map 0 of `maps` over the image, the value `top` at the colour map's end (a standard
 * deviation map is scaled to its own maximum so its shape shows), with the colour scale below it,
 * from 0 to `top`, so the colours keep their values.
 */
async function overlayPng(rgb: tf.Tensor3D, maps: tf.Tensor3D, scale: { colormap: ColormapName; top: number; label: string }): Promise<Buffer> {
  const blended = tf.tidy(() => {
    const map = tf.squeeze(tf.slice(maps, [0, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D;
    return overlay(rgb, tf.div(map, Math.max(scale.top, 1e-12)) as tf.Tensor2D, { colormap: scale.colormap });
  });
  try {
    const [height, width] = blended.shape;
    const scalePng = await sharp(Buffer.from(colourScaleSvg(scale.colormap, 0, scale.top, scale.label))).resize({ width, fit: 'contain', background: 'white' }).png().toBuffer();
    const { height: scaleHeight = 0 } = await sharp(scalePng).metadata();
    return await sharp(await encodePng(blended))
      .extend({ bottom: scaleHeight, background: 'white' })
      .composite([{ input: scalePng, top: height, left: 0 }])
      .png()
      .toBuffer();
  } finally {
    blended.dispose();
  }
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Options of `predictImage`: the run, the image and where the PNGs go. */
export interface PredictImageOptions extends ExplainImageOptions {
  /** Run folder of a trained model. */
  model: string;
  /** Image file (JPEG or PNG). */
  image: string;
  /** Folder for the PNGs. Default RUN/predictions/<image name>. */
  out?: string;
}

/** What `predictImage` returns: the explanation's numbers, with the paths of the files written instead of their bytes. */
export type ImagePrediction = Omit<ImageExplanation, 'densitySvg' | 'camMeanPng' | 'camStdPng' | 'camStdMax' | 'camMean' | 'dispose'> & {
  image: string;
  files: { density: string; camMean: string; camStd: string };
};

/** `ham10000 predict`: the JSON summary of one image, with its density plot and Grad-CAM overlays written as PNGs. */
export async function predictImage(given: PredictImageOptions): Promise<ImagePrediction> {
  const options = checkOptions('predictImage', given, optionKeys<PredictImageOptions>({ ...EXPLAIN_IMAGE_KEYS, model: true, image: true, out: true }));
  const run = await loadRun(options.model);
  try {
    const size = run.config.imageSize;
    const rgb = await readImage(options.image, { height: size, width: size });
    const display = await readImage(options.image, { height: DISPLAY_SIZE, width: DISPLAY_SIZE });
    const explanation = await explainImage(run, rgb, { samples: options.samples, camSamples: options.camSamples, seed: options.seed, tta: options.tta, display }).finally(() => tf.dispose([rgb, display]));
    explanation.dispose();
    const out = options.out ?? path.join(options.model, 'predictions', path.parse(options.image).name);
    fs.mkdirSync(out, { recursive: true });
    const files = { density: path.join(out, 'density.png'), camMean: path.join(out, 'gradcam-mean.png'), camStd: path.join(out, 'gradcam-std.png') };
    fs.writeFileSync(files.density, await svgToPng(explanation.densitySvg));
    fs.writeFileSync(files.camMean, explanation.camMeanPng);
    fs.writeFileSync(files.camStd, explanation.camStdPng);
    const { predicted, classes, predictiveEntropy, expectedEntropy, mutualInformation, samples } = explanation;
    return { image: path.resolve(options.image), predicted, classes, predictiveEntropy, expectedEntropy, mutualInformation, samples, files };
  } finally {
    run.dispose();
  }
}
