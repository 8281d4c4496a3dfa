/**
 * The vocabulary and the defaults every public function shares, declared once (the table in
 * docs/conventions.md lists each function's shape against them). Isomorphic.
 */

import type * as tf from '@tensorflow/tfjs-core';

/**
 * What "the class score" is. `'logit'`: the score before a final softmax (Selvaraju et al. 2017,
 * sec. 3: softmax couples the classes, so its gradient mixes in the evidence for the others).
 * `'probability'`: the softmax output. The CAM functions explain one (`score`); `mcPredict` is
 * told which one the model outputs (`outputs`).
 */
export type ScoreKind = 'logit' | 'probability';
/** Every score kind, for validation. */
export const SCORE_KINDS: readonly ScoreKind[] = ['logit', 'probability'];

/**
 * A scalar function of the model's output, the same for every image: [batch, outputs] → [batch],
 * each row's score from that row alone (pytorch-grad-cam's target objects, batched). It sees the
 * logits or the probabilities, as `score` says. `classSum`, `classMargin` and
 * `embeddingSimilarity` build the usual ones.
 */
export type TargetFunction = (output: tf.Tensor2D) => tf.Tensor1D;

/**
 * Which class each image is explained or scored for: one class index for all, one per image, or
 * `'predicted'`: the argmax of the posterior-mean network (every stochastic layer in `'mean'`
 * mode), whatever the sampling of the call itself, so every function and every Monte Carlo draw
 * of a Bayesian map explains the same class; or any scalar function of the output (a TargetFunction).
 */
export type ClassTarget = number | number[] | 'predicted' | TargetFunction;

/** Monte Carlo samples of `mcPredict`: only the stochastic head is sampled, in batched calls, so many are cheap. */
export const DEFAULT_SAMPLES = 100;
/** Networks drawn by `bayesianCam`: each costs a forward and a backward pass of the whole model. */
export const DEFAULT_CAM_SAMPLES = 30;
