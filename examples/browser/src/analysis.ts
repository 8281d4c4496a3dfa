/**
 * What the demo computes for one image, with nothing but the public API: the Monte Carlo
 * prediction and the Bayesian Grad-CAM. Isomorphic, so the browser test can run the same request
 * through the Node API and compare.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { bayesianCam, mcPredict, type McSummary } from '../../../src';
import { tfPreprocess, vggPreprocess } from '../../../src/ham10000/preprocess';

/**
 * How pixels 0..255 become the model's input: a HAM10000 run records its base's (VGG16, ResNet50
 * and the compact CNN: 'vgg', Keras' 'caffe'; MobileNetV2: 'tf', [-1, 1]).
 */
export const PREPROCESSINGS = ['vgg', 'tf', 'unit', 'raw'] as const;
export type Preprocessing = (typeof PREPROCESSINGS)[number];

export interface AnalysisRequest {
  /** Monte Carlo samples of the prediction. */
  samples: number;
  /** Networks drawn for the Bayesian Grad-CAM. */
  camSamples: number;
  seed: number;
  /** The layer Grad-CAM explains (usually the last convolution). */
  camLayer: string;
  classNames: string[];
}

/** Plain numbers, ready for JSON: what the page shows and the test compares. */
export interface Analysis {
  summary: McSummary;
  /** The class explained: the argmax of the Monte Carlo mean unless the user picked another. */
  explainedClass: number;
  /** Mean and standard deviation of the sampled Grad-CAM maps at the layer's resolution [h][w]. */
  camMean: number[][];
  camStd: number[][];
}

/** An RGB image [H, W, 3] in 0..255, resized to the model's input and preprocessed: [1, size, size, 3]. */
export function prepareImage(rgb: tf.Tensor3D, size: [number, number], preprocessing: Preprocessing): tf.Tensor4D {
  return tf.tidy(() => {
    const resized = tf.image.resizeBilinear(tf.expandDims(tf.cast(rgb, 'float32'), 0) as tf.Tensor4D, size);
    if (preprocessing === 'vgg') return vggPreprocess(resized);
    if (preprocessing === 'tf') return tfPreprocess(resized);
    return preprocessing === 'unit' ? tf.div(resized, 255) : resized;
  });
}

/** The Monte Carlo summary (with density curves) of one prepared image [1, H, W, 3]. */
export function predict(model: tfl.LayersModel, input: tf.Tensor4D, request: AnalysisRequest): McSummary {
  const prediction = mcPredict(model, input, { samples: request.samples, seed: request.seed });
  try {
    // The widest bandwidth the samples' spread allows (Terrell's): 50 samples under Silverman's rule show noise as modes.
    return prediction.summary({ classNames: request.classNames, density: { range: [0, 1], bandwidth: 'oversmoothed' } });
  } finally {
    prediction.dispose();
  }
}

/** The Bayesian Grad-CAM of one class, as arrays at the layer's resolution (upsampled only when drawn). */
export function explain(model: tfl.LayersModel, input: tf.Tensor4D, classIdx: number, request: AnalysisRequest): Pick<Analysis, 'camMean' | 'camStd'> {
  const maps = bayesianCam(model, request.camLayer, classIdx, input, { samples: request.camSamples, seed: request.seed, raw: true });
  try {
    return { camMean: (maps.mean.arraySync() as number[][][])[0], camStd: (maps.std.arraySync() as number[][][])[0] };
  } finally {
    maps.dispose();
  }
}

/** Prediction, then the explanation of `classIdx` (default: the predicted class). */
export function analyse(model: tfl.LayersModel, input: tf.Tensor4D, request: AnalysisRequest, classIdx?: number): Analysis {
  const summary = predict(model, input, request);
  const explainedClass = classIdx ?? argmax(summary.mean[0]);
  return { summary, explainedClass, ...explain(model, input, explainedClass, request) };
}

export function argmax(values: number[]): number {
  return values.reduce((best, value, index) => (value > values[best] ? index : best), 0);
}
