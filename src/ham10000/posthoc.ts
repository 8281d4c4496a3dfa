import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '../errors';
import { fitLastLayerLaplace, type LastLayerLaplace } from '../uncertainty';
import type { LaplaceStructure } from '../layers';
import { loadHam10000 } from './dataset';
import { loadImages } from './images';
import { preprocessImages } from './preprocess';
import { recordsOfSplit, type RunConfig } from './run';

/** Uncertainty added to a trained run without retraining: `'laplace'`, a last-layer Laplace posterior. */
export const POSTHOC_METHODS = ['laplace'] as const;
/** A post-hoc method (see POSTHOC_METHODS). */
export type PosthocMethod = (typeof POSTHOC_METHODS)[number];

/** What an evaluation records of its post-hoc posterior. */
export interface PosthocSummary {
  method: PosthocMethod;
  structure: LaplaceStructure;
  /** δ of the N(0, δ⁻¹ I) prior on the last layer, fitted by marginal likelihood. */
  priorPrecision: number;
  logMarginalLikelihood: number;
  /** Training images the curvature was summed over. */
  trainingImages: number;
  /** The layer the posterior is over, and its parameter count. */
  layerName: string;
  parameters: number;
}

/**
 * Fits last-layer Laplace to a trained run as laplace-torch does: the curvature (GGN) on the
 * run's training split, unaugmented, and the prior precision by marginal likelihood on the same
 * data (no validation data used). The run's model must end with a plain Dense softmax layer
 * (`train --head dense`). The training images are decoded at the run's size into one tensor
 * (N × size² × 3 floats: 135 MB for 4,893 images at 48 px).
 */
export async function posthocLaplace(
  model: tfl.LayersModel,
  config: RunConfig,
  structure: LaplaceStructure,
): Promise<{ laplace: LastLayerLaplace; summary: PosthocSummary }> {
  if (config.head !== 'dense') {
    throw new DataError(
      `posthocLaplace: the run must have a plain dense head; got head '${config.head}'. Laplace adds a posterior to a deterministic network: ` +
        "train one with 'ham10000 train --head dense', or evaluate this Bayesian run without --posthoc.",
    );
  }
  if (!fs.existsSync(config.data)) {
    throw new DataError(`posthocLaplace: the run's training data '${config.data}' must exist to fit the curvature; it does not. Run evaluate where the training folder is.`);
  }
  const dataset = await loadHam10000(config.data);
  const loaded = await loadImages(recordsOfSplit(dataset.records, config).train, { height: config.imageSize, width: config.imageSize });
  try {
    if (loaded.labels.length === 0) throw new DataError(`posthocLaplace: the run's training split must hold images in '${config.data}'; found none. Check the data folder.`);
    const images = tf.tidy(() => preprocessImages(loaded.images, config.preprocessing ?? 'caffe'));
    try {
      const laplace = fitLastLayerLaplace(model, images, loaded.labels, { structure });
      const summary: PosthocSummary = {
        method: 'laplace',
        structure,
        priorPrecision: laplace.priorPrecision,
        logMarginalLikelihood: laplace.logMarginalLikelihood(),
        trainingImages: laplace.trainingExamples,
        layerName: laplace.layerName,
        parameters: laplace.parameters,
      };
      return { laplace, summary };
    } finally {
      images.dispose();
    }
  } finally {
    loaded.images.dispose();
  }
}
