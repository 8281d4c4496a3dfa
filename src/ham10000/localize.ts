import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '../errors';
import { checkBoolean, checkNumber, checkOneOf, checkOptions, optionKeys } from '../validation';
import { bayesianCam, CAM_METHODS, localization, type CamMethod } from '../explain';
import { loadHam10000, MASK_FOLDER, type DataProblem, type LesionRecord } from './dataset';
import { loadImages, readMask } from './images';
import { preprocessImages } from './preprocess';
import { CAM_SAMPLES, evaluationRecords, EVALUATION_SPLITS, loadRun, runExplanation, type EvaluationSplit } from './run';

/** Options of `localizeRun`: which images, how many sampled networks per map, and the pointing tolerance. */
export interface LocalizeOptions {
  /** Run folder of a trained model. */
  model: string;
  /** Dataset folder (HAM10000 layout) with lesion masks. */
  data: string;
  /** 'test' (default): the run's test split; 'validation': its validation split (to choose a layer or method); 'all': every image of `data`. */
  split?: EvaluationSplit;
  /** Networks drawn per Bayesian map. Default `CAM_SAMPLES` (8). */
  camSamples?: number;
  /** The CAM method. Default: the run's map (`runExplanation`: 'layercam' for resnet-small, else 'gradcam'). */
  method?: CamMethod;
  /** The layer explained. Default: the run's map's ('stage1_out' for resnet-small, else its base's last convolution). */
  layer?: string;
  /** Pointing game: a peak within this many pixels of the mask is a hit. Default 0. */
  tolerance?: number;
  /**
   * Average each map over the 8 flips and quarter turns of the image, each view's map turned back
   * before averaging (the CAM engine's `augSmooth`, as pytorch-grad-cam's aug_smooth). Costs 8
   * times the passes. Default: the run's map's (true for resnet-small, else false).
   */
  augSmooth?: boolean;
  /** Default 0. */
  seed?: number;
  /** Explain only the first N images with a mask (in split order), for a quicker measurement. Default: all. */
  limit?: number;
  /** Images explained at once. Default 16. */
  batchSize?: number;
  /** Called after each batch with the images processed so far (for a progress bar). */
  onProgress?: (done: number, total: number) => void;
}

const LOCALIZE_OPTIONS = optionKeys<LocalizeOptions>({
  model: true, data: true, split: true, camSamples: true, method: true, layer: true, tolerance: true, augSmooth: true, limit: true, seed: true, batchSize: true, onProgress: true,
});

/** Mean energy share inside the lesion and pointing-game hit rate of one kind of map. */
export interface MapScore {
  energyInside: number;
  pointingHitRate: number;
}

/** What `localizeRun` returns: how well the maps fall on the lesion, beside what maps that ignore the image score. */
export interface LocalizationReport {
  split: EvaluationSplit;
  /** Images with a mask that were explained. */
  images: number;
  camSamples: number;
  method: CamMethod;
  layer: string;
  /** Whether the maps were averaged over the 8 dihedral views (see LocalizeOptions.augSmooth). */
  augSmooth: boolean;
  /** The posterior-mean Bayesian CAM map of the predicted class. */
  cam: MapScore;
  /**
   * A fixed Gaussian blob in the image centre (σ = a quarter of the side), which knows nothing of
   * the image: dermoscopy centres the lesion, so a map must beat this to show it looks at the lesion.
   */
  centre: MapScore;
  /** Mean share of the image the mask covers: the energy share of a uniform map (chance). */
  maskArea: number;
  /** Mean per-pixel standard deviation of the maps over sampled networks, inside and outside the lesion. */
  explanationStd: { inside: number; outside: number };
  problems: DataProblem[];
}

/**
 * Measures on the lesion masks where a run's Bayesian map looks (the run's own, `runExplanation`,
 * unless a method, layer or smoothing is given): the energy-based pointing score and the pointing
 * game (see `localization`) of the mean map of the predicted class, against two image-blind
 * references: a uniform map (the mask's area) and a centred blob.
 */
export async function localizeRun(given: LocalizeOptions): Promise<LocalizationReport> {
  const who = 'localizeRun';
  const options = checkOptions(who, given, LOCALIZE_OPTIONS);
  const split = checkOneOf(who, 'split', options.split ?? 'test', EVALUATION_SPLITS);
  const camSamples = checkNumber(who, 'camSamples', options.camSamples ?? CAM_SAMPLES, { min: 2, integer: true });
  const tolerance = checkNumber(who, 'tolerance', options.tolerance ?? 0, { min: 0, integer: true });
  const batchSize = checkNumber(who, 'batchSize', options.batchSize ?? 16, { min: 1, integer: true });
  const limit = options.limit === undefined ? Infinity : checkNumber(who, 'limit', options.limit, { min: 1, integer: true });
  const method = options.method === undefined ? undefined : checkOneOf(who, 'method', options.method, CAM_METHODS);
  const augSmooth = options.augSmooth === undefined ? undefined : checkBoolean(who, 'augSmooth', options.augSmooth);
  const run = await loadRun(options.model);
  try {
    const dataset = await loadHam10000(options.data);
    const records = evaluationRecords(dataset.records, run.config, split).filter((record) => record.maskPath !== null).slice(0, limit);
    if (records.length === 0) {
      throw new DataError(
        `${who}: data '${options.data}' must hold lesion masks (${MASK_FOLDER}/) for the ${split} images; found none. Add the masks folder.`,
      );
    }
    const size = run.config.imageSize;
    const explanation = runExplanation(run.config, { method, layer: options.layer, augSmooth });
    const centre = centredBlob(size);
    const sums = { camEnergy: 0, camHits: 0, centreEnergy: 0, centreHits: 0, area: 0, stdInside: 0, stdOutside: 0, images: 0 };
    const problems: DataProblem[] = [...dataset.problems];
    try {
      for (let start = 0; start < records.length; start += batchSize) {
        const masked = await readMasks(records.slice(start, start + batchSize), size, problems);
        const loaded = await loadImages(masked.map(({ record }) => record), { height: size, width: size });
        problems.push(...loaded.problems);
        const kept = new Set(loaded.records);
        const keptMasks = masked.filter(({ record }) => kept.has(record)).map(({ mask }) => mask);
        if (keptMasks.length > 0) {
          const masks = tf.stack(keptMasks) as tf.Tensor3D;
          const input = preprocessImages(loaded.images, run.config.preprocessing ?? 'caffe');
          const cam = bayesianCam(run.model, explanation.layer, 'predicted', input, { samples: camSamples, method: explanation.method, augSmooth: explanation.augSmooth, seed: (options.seed ?? 0) + start });
          const blobs = tf.tidy(() => tf.tile(tf.expandDims(centre, 0), [keptMasks.length, 1, 1])) as tf.Tensor3D;
          const ofCam = localization(cam.mean, masks, { tolerance });
          const ofCentre = localization(blobs, masks, { tolerance });
          const [area, stdInside, stdOutside] = tf.tidy(() => {
            const outside = tf.sub(1, masks);
            const perImageMean = (values: tf.Tensor, where: tf.Tensor) => tf.div(tf.sum(tf.mul(values, where), [1, 2]), tf.maximum(tf.sum(where, [1, 2]), 1));
            return [tf.mean(masks, [1, 2]), perImageMean(cam.std, masks), perImageMean(cam.std, outside)].map((t) => Array.from(t.dataSync()));
          });
          sums.camEnergy += sum(ofCam.energyInside);
          sums.camHits += ofCam.pointingHit.filter(Boolean).length;
          sums.centreEnergy += sum(ofCentre.energyInside);
          sums.centreHits += ofCentre.pointingHit.filter(Boolean).length;
          sums.area += sum(area);
          sums.stdInside += sum(stdInside);
          sums.stdOutside += sum(stdOutside);
          sums.images += keptMasks.length;
          cam.dispose();
          tf.dispose([masks, input, blobs]);
        }
        tf.dispose([...masked.map(({ mask }) => mask), loaded.images]);
        options.onProgress?.(Math.min(start + batchSize, records.length), records.length);
      }
    } finally {
      centre.dispose();
    }
    const mean = (total: number) => (sums.images === 0 ? 0 : total / sums.images);
    return {
      split,
      images: sums.images,
      camSamples,
      ...explanation,
      cam: { energyInside: mean(sums.camEnergy), pointingHitRate: mean(sums.camHits) },
      centre: { energyInside: mean(sums.centreEnergy), pointingHitRate: mean(sums.centreHits) },
      maskArea: mean(sums.area),
      explanationStd: { inside: mean(sums.stdInside), outside: mean(sums.stdOutside) },
      problems,
    };
  } finally {
    run.dispose();
  }
}

/** The masks of `records` at `size`, decoded at once (sharp works on its own threads); an unreadable mask is reported and its image skipped. */
async function readMasks(records: readonly LesionRecord[], size: number, problems: DataProblem[]): Promise<Array<{ record: LesionRecord; mask: tf.Tensor2D }>> {
  const read = await Promise.all(
    records.map((record) => readMask(record.maskPath!, { height: size, width: size }).catch((error: unknown) => (error instanceof DataError ? error : Promise.reject(error)))),
  );
  return records.flatMap((record, i) => {
    const mask = read[i];
    if (mask instanceof DataError) {
      problems.push({ kind: 'corruptMask', file: record.maskPath!, line: record.line, message: mask.message });
      return [];
    }
    return [{ record, mask }];
  });
}

/** A Gaussian blob [side, side] centred in the image, σ = side / 4, peak 1. */
export function centredBlob(side: number): tf.Tensor2D {
  return tf.tidy(() => {
    const axis = tf.sub(tf.range(0, side), (side - 1) / 2);
    const squared = tf.square(tf.div(axis, side / 4));
    return tf.exp(tf.mul(tf.add(tf.expandDims(squared, 1), tf.expandDims(squared, 0)), -0.5)) as tf.Tensor2D;
  });
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
