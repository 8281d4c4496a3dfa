import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { main } from '../../src/ham10000/cli';
import { evaluateRun } from '../../src/ham10000/evaluate';
import { posthocLaplace } from '../../src/ham10000/posthoc';
import { loadRun, readRunConfig } from '../../src/ham10000/run';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { train } from '../../src/ham10000/train';

describe('ham10000 evaluate --posthoc laplace on tiny generated data', () => {
  let dir: string;
  let data: string;
  let run: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ham-posthoc-'));
    data = path.join(dir, 'data');
    run = path.join(dir, 'run');
    await writeSyntheticHam10000(data, { imagesPerClass: 8, width: 40, height: 30, seed: 3 });
    await train({ data, out: run, arch: 'compact', imageSize: 16, trainableLayers: 0, denseUnits: 8, head: 'dense', epochs: 2, batchSize: 8, seed: 1, learningRate: 0.01 });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('fits the posterior on the training split and samples it on the same test images, leaking nothing', async () => {
    const plain = await evaluateRun({ model: run, data, samples: 8, seed: 2 });
    const before = tf.memory().numTensors;
    const laplace = await evaluateRun({ model: run, data, samples: 8, seed: 2, posthoc: 'laplace' });
    expect(tf.memory().numTensors).toBe(before);
    const config = readRunConfig(run);
    expect(plain.posthoc).toBeNull();
    expect(laplace.posthoc).toMatchObject({ method: 'laplace', structure: 'kron', trainingImages: config.split.train.length, layerName: 'head_dense_out', parameters: (8 + 1) * 7 });
    expect(laplace.posthoc!.priorPrecision).toBeGreaterThan(0);
    expect(laplace.predictions.map((p) => p.imageId)).toEqual(plain.predictions.map((p) => p.imageId));
    // The posterior's samples move the probabilities off the trained network's.
    expect(laplace.nll).not.toBeCloseTo(plain.nll, 4);
  });

  it('from the command line, with the structure in the file name', async () => {
    let err = '';
    const code = await main(['evaluate', '--model', run, '--data', data, '--samples', '4', '--posthoc', 'laplace', '--laplace-structure', 'full'], {
      out: () => undefined,
      err: (text) => (err += text),
      bars: false,
    });
    expect(code).toBe(0);
    const written = JSON.parse(fs.readFileSync(path.join(run, 'evaluation-test-laplace-full.json'), 'utf8'));
    expect(written.posthoc.structure).toBe('full');
    expect(err).toMatch(/written to .*evaluation-test-laplace-full\.json/);
    // The run's referral thresholds are those of its own model, not of the posterior's.
    expect(fs.existsSync(path.join(run, 'referral.json'))).toBe(false);
  });

  it('refuses an unknown method and a run with a Bayesian head', async () => {
    await expect(evaluateRun({ model: run, data, posthoc: 'swag' as never })).rejects.toThrow(/^evaluateRun: posthoc must be one of 'laplace'; got 'swag'\.$/);
    const loaded = await loadRun(run);
    try {
      await expect(posthocLaplace(loaded.model, { ...loaded.config, head: 'flipout' }, 'kron')).rejects.toThrow(
        /^posthocLaplace: the run must have a plain dense head; got head 'flipout'\. .*train one with 'ham10000 train --head dense'/,
      );
    } finally {
      loaded.dispose();
    }
  });
});
