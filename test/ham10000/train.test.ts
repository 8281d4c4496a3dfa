import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { learningRateAt, train, type TrainOptions } from '../../src/ham10000/train';
import { predictRecords } from '../../src/ham10000/evaluate';
import { loadImages } from '../../src/ham10000/images';
import { preprocessImages } from '../../src/ham10000/preprocess';
import { withSampling } from '../../src';
import { loadRun, recordsOfSplit } from '../../src/ham10000/run';
import { loadHam10000 } from '../../src/ham10000/dataset';
import { ARCH_DEFAULTS, latestCheckpoint, readRunConfig, RUN_DEFAULTS, runDefaults, runPaths } from '../../src/ham10000/run';

/** Largest weight difference allowed between a resumed and an uninterrupted run. */
const RESUME_TOLERANCE = 1e-5;

describe('train', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ham-train-'));
    data = path.join(dir, 'data');
    await writeSyntheticHam10000(data, { imagesPerClass: 8, width: 40, height: 30, seed: 1 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Every setting these tests rely on is pinned: the compact CNN's own defaults are recipe 1's (ARCH_DEFAULTS).
  const base = (out: string): TrainOptions => ({
    data, out: path.join(dir, out), arch: 'compact', imageSize: 16, trainableLayers: 0, denseUnits: 8, batchSize: 8, seed: 7, learningRate: 0.01, lrSchedule: 'constant', balance: 'weights',
  });

  const weights = (run: string) => {
    const bytes = fs.readFileSync(path.join(latestCheckpoint(path.join(dir, run))!.dir, 'weights.bin'));
    return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
  };

  it('resumes from a checkpoint to the weights of an uninterrupted run with the same seed (within 1e-5), on the cosine schedule, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const events: string[] = [];
    const straight = await train({ ...base('straight'), epochs: 3, lrSchedule: 'cosine', onEvent: (e) => events.push(e.type) });
    expect(tf.memory().numTensors).toBe(before);
    expect(straight.state.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(events.filter((e) => e === 'epoch')).toHaveLength(3);
    // Epoch 1 steps at the full rate whatever the total, so a 1-epoch run is the start of the 3-epoch one.
    await train({ ...base('resumed'), epochs: 1, lrSchedule: 'cosine' });
    const resumed = await train({ ...base('resumed'), epochs: 3, resume: true, seed: 999 });
    expect(resumed.state.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    const a = weights('straight');
    const b = weights('resumed');
    expect(b).toHaveLength(a.length);
    // Adam recomputes beta^t with pow() on restore where the uninterrupted run multiplies step by step: float32 rounding only.
    const worst = a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i])), 0);
    expect(worst).toBeLessThan(RESUME_TOLERANCE);
    resumed.state.history.forEach((h, i) => expect(h.loss).toBeCloseTo(straight.state.history[i].loss, 5));
    const config = readRunConfig(path.join(dir, 'resumed'));
    expect(config.seed).toBe(7);
    expect(config.lrSchedule).toBe('cosine');
    expect(fs.readdirSync(runPaths(path.join(dir, 'resumed')).checkpoints).sort()).toEqual(['epoch-0003', 'latest.json']);
  });

  it("records each epoch's KL as the mean over its steps, not the last step's", async () => {
    const steps: Array<{ epoch: number; kl: number }> = [];
    const result = await train({
      ...base('kl-mean'),
      epochs: 2,
      onEvent: (event) => event.type === 'step' && steps.push({ epoch: event.epoch, kl: event.kl }),
    });
    for (const record of result.state.history) {
      const kls = steps.filter((step) => step.epoch === record.epoch).map((step) => step.kl);
      expect(kls.length).toBeGreaterThan(1);
      expect(record.kl).toBeCloseTo(kls.reduce((a, b) => a + b, 0) / kls.length, 10);
      // The KL moves as the posterior trains, so the last step's is not the mean.
      expect(record.kl).not.toBeCloseTo(kls[kls.length - 1], 10);
    }
  });

  it('cosine schedule: halves the rate at mid-run, never reaches 0, and steps by it (weights leave the constant run)', async () => {
    const config = { learningRate: 0.01, lrSchedule: 'cosine' as const, epochs: 4 };
    expect([0, 1, 2, 3].map((epoch) => learningRateAt(config, epoch))).toEqual(
      [1, (1 + Math.SQRT1_2) / 2, 0.5, (1 - Math.SQRT1_2) / 2].map((factor) => expect.closeTo(0.01 * factor, 12)),
    );
    expect(learningRateAt({ ...config, lrSchedule: 'constant' }, 3)).toBe(0.01);
    // Runs written before the schedule existed have none: constant.
    expect(learningRateAt({ learningRate: 0.01, epochs: 4 }, 3)).toBe(0.01);
    await train({ ...base('constant'), epochs: 2 });
    await train({ ...base('cosine'), epochs: 2, lrSchedule: 'cosine' });
    const constant = weights('constant');
    const cosine = weights('cosine');
    expect(cosine.some((v, i) => v !== constant[i])).toBe(true);
  });

  it('stops early when the validation loss stops improving, with balanced sampling', async () => {
    // Adam steps of 1e-12 vanish in float32 next to the weights: the validation loss never moves.
    const result = await train({ ...base('early'), epochs: 5, patience: 1, balance: 'sampling', learningRate: 1e-12 });
    expect(result.state.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(result.state.stoppedEarly).toBe(true);
    expect(result.state.bestEpoch).toBe(1);
    expect(result.state.history[1].valLoss).toBe(result.state.history[0].valLoss);
  });

  it('scores validation on the Monte Carlo predictive (validationSamples): what evaluate computes, not the mean network', async () => {
    const before = tf.memory().numTensors;
    const options = { ...base('mc-validation'), epochs: 4, learningRate: 0.05, bayesianHidden: true };
    const mc = await train({ ...options, validationSamples: 400 });
    const meanNet = await train({ ...options, out: path.join(dir, 'mean-validation') });
    expect(tf.memory().numTensors).toBe(before);
    const config = readRunConfig(path.join(dir, 'mc-validation'));
    expect(config.validationSamples).toBe(400);
    // An independent Monte Carlo estimate of the predictive NLL on the validation images, through evaluate's path.
    const { model } = await loadRun(path.join(dir, 'mc-validation'), 'last');
    const records = recordsOfSplit((await loadHam10000(data)).records, config).validation;
    const predictions = await predictRecords(model, records, { samples: 400, imageSize: config.imageSize, seed: 123 });
    model.dispose();
    const nll = predictions.labels.reduce((sum, label, i) => sum - Math.log(predictions.probs[i][label]), 0) / predictions.labels.length;
    // Seen: 3e-5 apart (Monte Carlo error at 400 samples), while the mean network is 2.7e-3 away.
    expect(Math.abs(mc.state.history[3].valLoss! - nll)).toBeLessThan(3e-4);
    // The training steps are the same (validation draws no training noise): only what is scored differs.
    expect(meanNet.state.history[3].loss).toBe(mc.state.history[3].loss);
    // Without validationSamples the score is the posterior-mean network's NLL, computed here apart.
    const meanRun = await loadRun(path.join(dir, 'mean-validation'), 'last');
    const loaded = await loadImages(records, { height: config.imageSize, width: config.imageSize });
    const meanProbs = tf.tidy(() => {
      const x = preprocessImages(loaded.images, config.preprocessing ?? 'caffe');
      return withSampling(meanRun.model, { mode: 'mean' }, () => meanRun.model.predict(x) as tf.Tensor2D).arraySync();
    });
    loaded.images.dispose();
    meanRun.dispose();
    const meanNll = loaded.labels.reduce((sum, label, i) => sum - Math.log(meanProbs[i][label]), 0) / loaded.labels.length;
    expect(Math.abs(meanNet.state.history[3].valLoss! - meanNll)).toBeLessThan(1e-5);
    // And the Monte Carlo score is not that one: the mean network is not the predictive (Jensen). This
    // nearly untrained network is close to uniform, so they are close (seen: 6.8e-5 apart, deterministic
    // for these seeds), but further apart than the mean-network check's tolerance.
    expect(Math.abs(mc.state.history[3].valLoss! - meanNll)).toBeGreaterThan(1e-5);
  });

  it('validationSamples changes nothing for the dense head: its predictive is the network', async () => {
    const dense = { ...base('dense-mean'), epochs: 2, head: 'dense' as const };
    const plain = await train(dense);
    const sampled = await train({ ...dense, out: path.join(dir, 'dense-mc'), validationSamples: 8 });
    sampled.state.history.forEach((h, i) => expect(h.valLoss).toBeCloseTo(plain.state.history[i].valLoss!, 6));
  });

  it('refuses to overwrite a run without resume, and augmentation over frozen features', async () => {
    await expect(train({ ...base('straight'), epochs: 1 })).rejects.toThrow(
      /train: out must be a folder without a previous run; got '.*straight'\. Add --resume to continue it, or choose another --out\./,
    );
    const before = tf.memory().numTensors;
    await expect(train({ ...base('augmented'), epochs: 1, augment: true })).rejects.toThrow(/augment must be used only when no layer is frozen/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("gives a network trained from scratch its recipe's settings when none are given; a frozen base keeps its images unaugmented", async () => {
    // 16 px, one epoch: the recipe's 48 px and 30 epochs take minutes on the cpu backend.
    const recipe = { data, out: path.join(dir, 'recipe'), arch: 'compact' as const, imageSize: 16, epochs: 1, limit: 16, denseUnits: 8 };
    await train(recipe);
    const config = readRunConfig(recipe.out);
    expect(config).toMatchObject({ ...ARCH_DEFAULTS.compact, imageSize: 16, epochs: 1, frozenLayerCount: 0 });
    expect(runDefaults('compact')).toMatchObject({ imageSize: 48, epochs: 30, lrSchedule: 'cosine', balance: 'none', augment: true });
    expect(runDefaults('vgg16')).toEqual(RUN_DEFAULTS);
    // The same network with its base frozen: the recipe's flips yield (asked for, they are refused: above).
    await train({ ...recipe, out: path.join(dir, 'recipe-frozen'), trainableLayers: 0 });
    expect(readRunConfig(path.join(dir, 'recipe-frozen')).augment).toBe(false);
  });
});
