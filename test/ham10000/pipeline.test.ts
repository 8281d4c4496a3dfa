import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { main } from '../../src/ham10000/cli';
import { loadHam10000 } from '../../src/ham10000/dataset';
import { compareEvaluationFiles } from '../../src/ham10000/compare';
import { evaluateRun } from '../../src/ham10000/evaluate';
import { readMask } from '../../src/ham10000/images';
import { centredBlob, localizeRun } from '../../src/ham10000/localize';
import { predictImage } from '../../src/ham10000/predict';
import { latestCheckpoint, loadRun, readRunConfig, runPaths } from '../../src/ham10000/run';
import { writeReport } from '../../src/ham10000/report';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { train } from '../../src/ham10000/train';
import { saveModel } from '../../src/node/model_io';
import { classColour } from '../../src';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

/** Runs the CLI in-process, capturing its output. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), bars: false });
  return { code, out, err };
}

describe('HAM10000 pipeline: train → evaluate → predict → report on tiny generated data', () => {
  let dir: string;
  let data: string;
  let run: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ham-pipeline-'));
    data = path.join(dir, 'data');
    run = path.join(dir, 'run');
    await writeSyntheticHam10000(data, { imagesPerClass: 8, width: 40, height: 30, seed: 3 });
    // Only the head trains: the cpu backend's convolution filter gradient is far too slow for a unit test.
    await train({ data, out: run, arch: 'compact', imageSize: 16, trainableLayers: 0, denseUnits: 8, epochs: 2, batchSize: 8, seed: 1, learningRate: 0.01 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('evaluates the test split with consistent metrics, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const evaluation = await evaluateRun({ model: run, data, samples: 4, seed: 2 });
    expect(tf.memory().numTensors).toBe(before);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    expect(evaluation.count).toBe(config.split.test.length);
    expect(evaluation.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(evaluation.count);
    const diagonal = evaluation.confusionMatrix.reduce((sum, row, i) => sum + row[i], 0);
    expect(evaluation.accuracy).toBeCloseTo(diagonal / evaluation.count, 12);
    for (const value of [evaluation.accuracy, evaluation.balancedAccuracy, evaluation.macroAuc, evaluation.ece, evaluation.accuracyCoverageArea]) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    expect(evaluation.perClass.map((c) => c.support)).toEqual(evaluation.confusionMatrix.map((row) => row.reduce((a, b) => a + b, 0)));
    expect(evaluation.conformal).not.toBeNull();
    expect(evaluation.conformal!.meanSetSize).toBeGreaterThanOrEqual(1);
    // The referral thresholds are fitted on the validation split and checked on the evaluated one.
    const referral = evaluation.referral!;
    expect(referral.fitted.images).toBe(config.split.validation.length);
    expect(referral.evaluated.images).toBe(evaluation.count);
    expect(referral.mutualInformation).toBeGreaterThanOrEqual(0);
    if (referral.margin !== null) expect(referral.fitted.keptAccuracy!).toBeGreaterThanOrEqual(referral.targetAccuracy);
    expect(evaluation.tta).toBe(false);
    const noise = evaluation.eceIfCalibrated;
    expect(noise.resamples).toBe(1000);
    expect(0 < noise.mean && noise.mean < noise.upper && noise.upper < 1).toBe(true);
    // The argmax operating point is the evaluation's own; the prior shift weighs by 1 / training frequency
    // (the compact CNN's recipe leaves the imbalance to the decision rule: no loss weights, no balanced epochs).
    expect(config.balance).toBe('none');
    const [argmax, prior, fitted] = evaluation.operatingPoints;
    expect(evaluation.operatingPoints.map((p) => p.rule)).toEqual(['argmax', 'prior-shift', 'fitted']);
    expect(argmax.accuracy).toBeCloseTo(evaluation.accuracy, 12);
    expect(argmax.balancedAccuracy).toBeCloseTo(evaluation.balancedAccuracy, 12);
    expect(argmax.recall).toEqual(evaluation.perClass.map((c) => c.recall));
    const trainCounts = config.classes.map((name: string) => config.summary.counts.train[name]);
    const products = prior.weights.map((w, k) => w * trainCounts[k]);
    for (const product of products) expect(product).toBeCloseTo(products[0], 9);
    expect(fitted.minRecall).toMatchObject({ class: 'mel', recall: 0.75 });
  });

  it('evaluates with test-time augmentation: the same images, other probabilities, leaking nothing', async () => {
    const plain = await evaluateRun({ model: run, data, samples: 8, seed: 2 });
    const before = tf.memory().numTensors;
    const augmented = await evaluateRun({ model: run, data, samples: 8, seed: 2, tta: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(augmented.tta).toBe(true);
    expect(augmented.count).toBe(plain.count);
    // The synthetic lesions are not symmetric and the network is not invariant: the 8 views predict differently.
    expect(augmented.nll).not.toBeCloseTo(plain.nll, 6);
  });

  it('compares two evaluations of the same images with paired bootstrap intervals, from the command line too', async () => {
    const plain = await evaluateRun({ model: run, data, samples: 4, seed: 2 });
    const augmented = await evaluateRun({ model: run, data, samples: 4, seed: 2, tta: true });
    expect(plain.predictions.map((p) => p.imageId)).toEqual(readRunConfig(run).split.test);
    const labelOf = new Map((await loadHam10000(data)).records.map((record) => [record.imageId, record.label]));
    expect(plain.predictions.map((p) => p.label)).toEqual(plain.predictions.map((p) => labelOf.get(p.imageId)));
    expect(plain.predictions.every((p) => Math.abs(p.probs.reduce((a, b) => a + b, 0) - 1) < 1e-5)).toBe(true);
    const files = { plain: path.join(dir, 'plain.json'), tta: path.join(dir, 'tta.json'), old: path.join(dir, 'old.json'), other: path.join(dir, 'other.json') };
    fs.writeFileSync(files.plain, JSON.stringify(plain));
    fs.writeFileSync(files.tta, JSON.stringify(augmented));
    const comparison = compareEvaluationFiles([files.tta], [files.plain], { resamples: 100 });
    expect(comparison.count).toBe(plain.count);
    expect(comparison.ece).toMatchObject({ a: augmented.ece, b: plain.ece });
    expect(comparison.nll.difference).toBeCloseTo(augmented.nll - plain.nll, 12);
    // Two pairs pool their images: the same pair twice doubles the count and keeps the point estimates.
    const pooled = compareEvaluationFiles([files.tta, files.tta], [files.plain, files.plain], { resamples: 100 });
    expect(pooled.count).toBe(2 * plain.count);
    expect(pooled.nll.difference).toBeCloseTo(comparison.nll.difference, 12);

    const printed = await cli('compare', '--a', files.tta, '--b', files.plain, '--resamples', '100');
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.out)).toMatchObject({ count: plain.count, resamples: 100, a: [files.tta], b: [files.plain] });
    expect(printed.err).toMatch(/ece\s+A \d\.\d{4}\s+B \d\.\d{4}\s+A − B -?\d\.\d{4}\s+\(95 % interval -?\d\.\d{4} … -?\d\.\d{4}\)/);

    const { predictions, ...withoutPredictions } = plain;
    fs.writeFileSync(files.old, JSON.stringify(withoutPredictions));
    fs.writeFileSync(files.other, JSON.stringify({ ...plain, predictions: predictions.slice(1) }));
    const old = await cli('compare', '--a', files.tta, '--b', files.old);
    expect(old.err).toMatch(/evaluation file '.*old\.json' must hold per-image predictions; it has none \(written by an older version, or not an evaluation\)\. Run 'ham10000 evaluate' again\./);
    expect(() => compareEvaluationFiles([files.tta], [files.other])).toThrow(
      new RegExp(`other\\.json must hold every image of .*tta\\.json; image ${predictions[0].imageId} is missing\\. Compare evaluations of the same split and dataset\\.`),
    );
    expect(() => compareEvaluationFiles([files.tta], [])).toThrow(/a and b must list as many evaluation files, at least one; got 1 and 0/);
  });

  it("loads the best model or the last checkpoint's, and says when a run has neither", async () => {
    const weightsIn = (dir: string) => {
      const bytes = fs.readFileSync(path.join(dir, 'weights.bin'));
      return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    };
    // A copy of the run whose best model differs from its last checkpoint (here the last epoch was the best).
    const copy = path.join(dir, 'run-copy');
    fs.cpSync(run, copy, { recursive: true });
    const best = await loadRun(copy);
    best.model.setWeights(best.model.getWeights().map((w) => tf.mul(w, 2)));
    await saveModel(best.model, runPaths(copy).model);
    best.dispose();
    const loaded = await Promise.all([loadRun(copy, 'best'), loadRun(copy, 'last')]);
    const [bestValues, lastValues] = loaded.map((l) => l.model.getWeights().flatMap((w) => Array.from(w.dataSync())));
    loaded.forEach((l) => l.dispose());
    expect(bestValues).toEqual(weightsIn(runPaths(copy).model));
    expect(lastValues).toEqual(weightsIn(latestCheckpoint(copy)!.dir));
    expect(bestValues).not.toEqual(lastValues);
    const evaluation = await evaluateRun({ model: run, data, samples: 2, checkpoint: 'last' });
    expect(evaluation.checkpoint).toBe('last');
    const empty = path.join(dir, 'empty-run');
    fs.mkdirSync(empty);
    fs.copyFileSync(runPaths(run).config, runPaths(empty).config);
    await expect(loadRun(empty, 'last')).rejects.toThrow(
      `loadRun: run '${empty}' has no trained model yet (no checkpoint). Let 'ham10000 train' finish an epoch, or --resume it.`,
    );
  });

  it('localizes the Grad-CAM maps on the lesion masks, beside a uniform map and a centred blob computed here, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const report = await localizeRun({ model: run, data, camSamples: 3, seed: 4 });
    expect(tf.memory().numTensors).toBe(before);
    const testIds = new Set(readRunConfig(run).split.test);
    const masked = (await loadHam10000(data)).records.filter((r) => testIds.has(r.imageId) && r.maskPath !== null);
    expect(report.images).toBe(masked.length);
    expect(report.images).toBeGreaterThan(0);
    // The references, recomputed from the masks: the mask's area share, and the blob's energy inside it.
    const size = readRunConfig(run).imageSize;
    const blob = centredBlob(size);
    const blobValues = blob.arraySync();
    blob.dispose();
    let area = 0;
    let blobEnergy = 0;
    for (const record of masked) {
      const mask = await readMask(record.maskPath!, { height: size, width: size });
      const values = mask.arraySync();
      mask.dispose();
      area += values.flat().reduce((a, b) => a + b, 0) / size ** 2;
      const inside = values.flatMap((row, i) => row.map((m, j) => m * blobValues[i][j])).reduce((a, b) => a + b, 0);
      blobEnergy += inside / blobValues.flat().reduce((a, b) => a + b, 0);
    }
    expect(report.maskArea).toBeCloseTo(area / masked.length, 5);
    expect(report.centre.energyInside).toBeCloseTo(blobEnergy / masked.length, 5);
    for (const value of [report.cam.energyInside, report.cam.pointingHitRate, report.centre.pointingHitRate]) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    expect(report.explanationStd.inside).toBeGreaterThanOrEqual(0);
    expect([report.method, report.layer]).toEqual(['gradcam', readRunConfig(run).camLayer]);
    const layerCam = await localizeRun({ model: run, data, camSamples: 3, seed: 4, method: 'layercam', layer: 'block2_conv1' });
    expect([layerCam.method, layerCam.layer, layerCam.images, layerCam.maskArea]).toEqual(['layercam', 'block2_conv1', report.images, report.maskArea]);
    expect(layerCam.cam.energyInside).not.toBeCloseTo(report.cam.energyInside, 6);
    // --aug-smooth on the first image only (--limit): the same mask, another map, leaking nothing.
    const smooth = await localizeRun({ model: run, data, camSamples: 2, seed: 4, augSmooth: true, limit: 1 });
    const firstMask = await readMask(masked[0].maskPath!, { height: size, width: size });
    expect([smooth.images, smooth.augSmooth]).toEqual([1, true]);
    expect(smooth.maskArea).toBeCloseTo(tf.tidy(() => tf.mean(firstMask).arraySync() as number), 5);
    firstMask.dispose();
    // The validation split, where a layer is chosen: its own masked images, none of the test's.
    const validationIds = new Set(readRunConfig(run).split.validation);
    const validationMasked = (await loadHam10000(data)).records.filter((r) => validationIds.has(r.imageId) && r.maskPath !== null);
    const onValidation = await localizeRun({ model: run, data, split: 'validation', camSamples: 2, seed: 4 });
    expect([onValidation.split, onValidation.images]).toEqual(['validation', validationMasked.length]);
    expect(validationMasked.length).toBeGreaterThan(0);
    expect(validationMasked.some((r) => testIds.has(r.imageId))).toBe(false);
    expect(tf.memory().numTensors).toBe(before);

    // A corrupt mask is reported with its file and its image skipped; the others are still scored.
    const badMask = path.join(dir, 'bad-mask');
    fs.cpSync(data, badMask, { recursive: true });
    const broken = path.join(badMask, path.relative(data, masked[0].maskPath!));
    fs.writeFileSync(broken, 'not a png');
    const skipped = await localizeRun({ model: run, data: badMask, camSamples: 2, seed: 4 });
    expect(skipped.images).toBe(masked.length - 1);
    expect(skipped.problems.map((p) => [p.kind, p.file])).toEqual([['corruptMask', broken]]);
    expect(tf.memory().numTensors).toBe(before);

    const unmasked = path.join(dir, 'unmasked');
    fs.cpSync(data, unmasked, { recursive: true });
    fs.rmSync(path.join(unmasked, 'HAM10000_segmentations_lesion_tschandl'), { recursive: true });
    await expect(localizeRun({ model: run, data: unmasked, split: 'all' })).rejects.toThrow(
      `localizeRun: data '${unmasked}' must hold lesion masks (HAM10000_segmentations_lesion_tschandl/) for the all images; found none. Add the masks folder.`,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('predicts one image: distributions, entropy decomposition, density plot and Grad-CAM PNGs', async () => {
    const { records } = await loadHam10000(data);
    const before = tf.memory().numTensors;
    const prediction = await predictImage({ model: run, image: records[0].imagePath, samples: 20, camSamples: 4, seed: 5, out: path.join(dir, 'pred') });
    expect(tf.memory().numTensors).toBe(before);
    expect(prediction.classes.map((c) => c.class)).toEqual(['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc']);
    expect(prediction.classes.reduce((sum, c) => sum + c.mean, 0)).toBeCloseTo(1, 5);
    for (const c of prediction.classes) {
      expect(c.q05).toBeLessThanOrEqual(c.q95);
      expect(c.std).toBeGreaterThanOrEqual(0);
    }
    expect(prediction.predictiveEntropy).toBeCloseTo(prediction.expectedEntropy + prediction.mutualInformation, 5);
    for (const file of Object.values(prediction.files)) expect([...fs.readFileSync(file).subarray(0, 4)]).toEqual(PNG_MAGIC);
  });

  it('writes one self-contained HTML report with the charts, overlays and lesion shares', async () => {
    const before = tf.memory().numTensors;
    const { file } = await writeReport({ model: run, data, out: path.join(dir, 'report.html'), samples: 4, examples: 2, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toMatch(/Confusion matrix/);
    // Per-class recall under each decision rule, melanoma first, and the rules' weights.
    expect(html).toMatch(/Decision rules: recall per class<\/h2>[\s\S]*<th>argmax<\/th><th>prior-shift<\/th><th>fitted<\/th><\/tr><tr><th>recall mel<\/th>/);
    expect(html.match(/<li><b>(argmax|prior-shift|fitted)<\/b>: /g)).toHaveLength(3);
    expect(html.match(/Weights: akiec \d+\.\d\d, bcc \d+\.\d\d/g)).toHaveLength(3);
    expect(html).toMatch(/Accuracy-coverage \(area \d\.\d{3}\)/);
    expect(html.match(/data:image\/png;base64,/g)).toHaveLength(2 * 3);
    expect(html).toMatch(/Reliability diagram \(ECE \d\.\d{3}; n per bin\)/);
    // The run's map (a compact CNN's: Grad-CAM at its last convolution) is named with its layer.
    const mapLabel = `Grad-CAM at ${readRunConfig(run).camLayer}`;
    expect(html.match(new RegExp(`${mapLabel} std \\(uncertainty; top of the scale \\d`, 'g'))).toHaveLength(2);
    // Each class in its colour, as in the density plots: the per-class table, the matrix's rows and columns.
    expect(html.match(new RegExp(`<span style="color:${classColour(4)}">■</span> mel`, 'g'))).toHaveLength(3);
    expect(html.match(new RegExp(`${mapLabel} on lesion: \\d+\\.\\d % of the map`, 'g'))).toHaveLength(2);
    expect(html).not.toMatch(/src="(?!data:)/);
    // Another map for the sample images: its name everywhere the map is named (label, caption and alt text).
    const other = await writeReport({ model: run, data, out: path.join(dir, 'report-layercam.html'), samples: 4, examples: 1, seed: 1, camMethod: 'layercam', camLayer: 'block2_conv1', augSmooth: true });
    const otherHtml = fs.readFileSync(other.file, 'utf8');
    expect(otherHtml.match(/layercam at block2_conv1, aug-smoothed (on lesion|mean|std)/g)).toHaveLength(5);
    expect(otherHtml).not.toMatch(/Grad-CAM (on lesion|mean|std)/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs through the CLI entry: JSON on stdout, one-line errors with a fix and non-zero exit codes', async () => {
    const ok = await cli('evaluate', '--model', run, '--data', data, '--backend', 'cpu', '--samples', '3');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).split).toBe('test');
    expect(ok.err).toMatch(/using the 'cpu' backend/);
    expect(fs.existsSync(path.join(run, 'evaluation-test.json'))).toBe(true);
    const referral = JSON.parse(fs.readFileSync(path.join(run, 'referral.json'), 'utf8'));
    expect(referral).toMatchObject({ fittedOn: 'validation', samples: 3, targetAccuracy: 0.9 });
    expect(Object.keys(referral).sort()).toEqual(['fitted', 'fittedOn', 'margin', 'mutualInformation', 'samples', 'targetAccuracy']);
    const tta = await cli('evaluate', '--model', run, '--data', data, '--backend', 'cpu', '--samples', '8', '--tta');
    expect(tta.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'evaluation-test-tta.json'), 'utf8')).tta).toBe(true);
    // The page runs without TTA: a TTA evaluation leaves its thresholds alone.
    expect(JSON.parse(fs.readFileSync(path.join(run, 'referral.json'), 'utf8')).samples).toBe(3);
    const last = await cli('evaluate', '--model', run, '--data', data, '--backend', 'cpu', '--samples', '2', '--checkpoint', 'last');
    expect(last.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'evaluation-test-last.json'), 'utf8')).checkpoint).toBe('last');
    const localized = await cli('localize', '--model', run, '--data', data, '--backend', 'cpu', '--cam-samples', '2');
    expect(localized.code).toBe(0);
    expect(localized.err).toMatch(/gradcam at block\d_conv1: energy on the lesion \d+\.\d % \(centred blob \d+\.\d %, lesion area \d+\.\d %\)/);
    expect(JSON.parse(fs.readFileSync(path.join(run, `localization-test-gradcam-${readRunConfig(run).camLayer}.json`), 'utf8')).images).toBe(JSON.parse(localized.out).images);

    const missing = await cli('train', '--data', path.join(dir, 'nope'), '--out', path.join(dir, 'x'));
    expect(missing.code).not.toBe(0);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toMatch(/data folder '.*nope' does not exist: check the path/);

    const notRun = await cli('evaluate', '--model', data, '--data', data, '--backend', 'cpu');
    expect(notRun.code).toBe(1);
    // The backend line, then exactly one error line; no stack trace without --verbose.
    const [backendLine, ...errorLines] = notRun.err.trim().split('\n');
    expect(backendLine).toMatch(/using the 'cpu' backend/);
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/^ham10000: error: readRunConfig: run folder '.*' must hold run\.json; it does not\. Give the --out folder/);
    const verbose = await cli('evaluate', '--model', data, '--data', data, '--backend', 'cpu', '--verbose');
    expect(verbose.err).toMatch(/\n\s+at /);

    const badFlag = await cli('train', '--data', data, '--out', path.join(dir, 'y'), '--epochs', 'many');
    expect(badFlag.code).not.toBe(0);
    expect(badFlag.err).toMatch(/--epochs.*must be an integer >= 1/);
  });

  it('trains a wholly Bayesian head scored on the Monte Carlo predictive from the command line, and says when it cannot', async () => {
    const out = path.join(dir, 'bayesian-hidden');
    const flags = ['--data', data, '--arch', 'compact', '--image-size', '16', '--trainable-layers', '0', '--epochs', '1', '--batch-size', '8', '--backend', 'cpu'];
    const trained = await cli('train', ...flags, '--out', out, '--dense', '8', '--bayesian-hidden', '--val-samples', '4');
    expect(trained.code).toBe(0);
    expect(readRunConfig(out)).toMatchObject({ denseUnits: 8, bayesianHidden: true, validationSamples: 4 });
    const refused = await cli('train', ...flags, '--out', path.join(dir, 'no-dense'), '--bayesian-hidden');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/bayesianHidden must be used only with head 'flipout' and denseUnits > 0; got true\. Add --dense <units> and keep --head flipout, or drop --bayesian-hidden\./);
  });
});
