import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { main } from '../../src/ham10000/cli';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { train } from '../../src/ham10000/train';
import { loadModel, readModelArtifacts } from '../../src/node/model_io';

/**
 * The `ham10000` command line under failure: a training run killed with SIGKILL mid-epoch and
 * resumed must lose nothing and end where an uninterrupted run ends; every user error exits
 * non-zero with one line saying what and how to fix it, and a stack trace only with --verbose.
 */

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'src/ham10000/cli.ts');
const EPOCHS = 3;
/** The last conv block trains, so an epoch lasts long enough (about a second) to be cut in the middle. */
const TRAIN_FLAGS = ['--arch', 'compact', '--image-size', '16', '--trainable-layers', '1', '--dense', '8', '--batch-size', '4', '--seed', '1', '--learning-rate', '0.01', '--backend', 'cpu'];

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** The epochs the child reported finished (one "epoch N:" line each) before it ended. */
  epochsReported: number;
}

/**
 * Runs the CLI as a child process (node + tsx, as `npx ham10000` would). With `killMidEpoch`, the
 * child is sent SIGKILL half an epoch after it reports its first finished epoch.
 */
function runChild(args: string[], { killMidEpoch = false } = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, TFJS_TRUST_BACKEND: 'cpu' } });
    let stderr = '';
    let armed = killMidEpoch;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const first = /^epoch 1: .*, (\d+(?:\.\d+)?) s/m.exec(stderr);
      if (armed && first) {
        armed = false;
        setTimeout(() => child.kill('SIGKILL'), (Number(first[1]) * 1000) / 2);
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, epochsReported: (stderr.match(/^epoch \d+: /gm) ?? []).length }));
  });
}

/** Every weight of a saved model folder, by name, as plain arrays. */
function savedWeights(dir: string): Record<string, number[]> {
  const artifacts = readModelArtifacts(dir);
  const tensors = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
  const values = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, Array.from(t.dataSync())]));
  tf.dispose(Object.values(tensors));
  return values;
}

function latest(run: string): { dir: string; epoch: number } {
  const { checkpoint } = JSON.parse(fs.readFileSync(path.join(run, 'checkpoints', 'latest.json'), 'utf8'));
  const dir = path.join(run, 'checkpoints', checkpoint);
  return { dir, epoch: JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')).epoch };
}

/** Files under `dir`, recursively, relative to it. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

/** Epoch records without their wall-clock seconds, which differ between runs. */
function history(dir: string): unknown[] {
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
  return state.history.map(({ seconds: _seconds, ...record }: { seconds: number }) => record);
}

let dir: string;
let data: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-cli-'));
  data = path.join(dir, 'data');
  await writeSyntheticHam10000(data, { imagesPerClass: 4, width: 32, height: 24, seed: 5 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ham10000 train killed with SIGKILL mid-epoch, then --resume', () => {
  it('keeps the last finished checkpoint whole, loses no epoch, and ends with the uninterrupted run’s weights', async () => {
    const [reference, crashed] = [path.join(dir, 'reference'), path.join(dir, 'crashed')];
    const flags = ['--data', data, '--epochs', String(EPOCHS), ...TRAIN_FLAGS];
    const [whole, killed] = await Promise.all([
      runChild(['train', '--out', reference, ...flags]),
      runChild(['train', '--out', crashed, ...flags], { killMidEpoch: true }),
    ]);
    expect(whole.code).toBe(0);
    expect(killed.signal).toBe('SIGKILL');

    // The last finished checkpoint: every epoch reported is in it (one more if the kill fell between
    // writing a checkpoint and reporting it), the run had not finished, and it loads.
    const cut = latest(crashed);
    expect(cut.epoch).toBeGreaterThanOrEqual(killed.epochsReported);
    expect(cut.epoch).toBeLessThanOrEqual(killed.epochsReported + 1);
    expect(cut.epoch).toBeLessThan(EPOCHS);
    const model = await loadModel(cut.dir);
    model.dispose();
    // No half-written file: every checkpoint file is complete (the loader checks sizes against the
    // manifest), and the epochs it records are the uninterrupted run's, number for number.
    expect(fs.statSync(path.join(cut.dir, 'optimizer.bin')).size).toBeGreaterThan(0);
    expect(history(cut.dir)).toEqual(history(latest(reference).dir).slice(0, cut.epoch));

    const resumed = await runChild(['train', '--out', crashed, '--data', data, '--resume', '--backend', 'cpu']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming after epoch ${cut.epoch}`));
    const [end, referenceEnd] = [latest(crashed), latest(reference)];
    expect(end.epoch).toBe(EPOCHS);
    expect(history(end.dir)).toEqual(history(referenceEnd.dir));
    // The cpu backend is deterministic: the same seed gives bit-identical weights, tolerance 0.
    expect(savedWeights(end.dir)).toEqual(savedWeights(referenceEnd.dir));
    expect(fs.readFileSync(path.join(end.dir, 'optimizer.bin')).equals(fs.readFileSync(path.join(referenceEnd.dir, 'optimizer.bin')))).toBe(true);
    expect(savedWeights(path.join(crashed, 'model'))).toEqual(savedWeights(path.join(reference, 'model')));
    // Nothing the crash left half-written survives the resumed run.
    expect(filesUnder(crashed).filter((file) => /\.tmp\b/.test(file))).toEqual([]);
  });
});

describe('ham10000 errors: one line saying what and how, non-zero exit, stack only with --verbose', () => {
  /** A finished run of its own (only the head trains: a second), so these cases need no other test. */
  let run: string;
  beforeAll(async () => {
    run = path.join(dir, 'small');
    await train({ data, out: run, arch: 'compact', imageSize: 16, trainableLayers: 0, denseUnits: 4, epochs: 1, batchSize: 8, seed: 1 });
  });

  /** Runs the CLI in-process; returns its exit code and its error lines (the backend banner left out). */
  async function cli(...argv: string[]): Promise<{ code: number; lines: string[] }> {
    let err = '';
    const code = await main(argv, { out: () => undefined, err: (text) => (err += text), bars: false });
    return { code, lines: err.split('\n').filter((line) => line && !/^tfjs-trust: using /.test(line) && !/^WARNING: /.test(line)) };
  }
  const FIX = /check|give|use |add|choose|pass|re-?save|re-?download|drop|train|copy|convert|rerun|point|must be|allowed choices|--help/i;

  const cases: Array<[string, () => string[], RegExp]> = [
    ['a missing data folder', () => ['train', '--data', path.join(dir, 'nope'), '--out', path.join(dir, 'o1')], /data folder '.*nope' does not exist/],
    ['a missing run folder', () => ['evaluate', '--model', path.join(dir, 'nope'), '--data', data], /run folder '.*nope' does not exist/],
    ['a folder with no dataset in it', () => ['train', '--data', fs.mkdtempSync(path.join(dir, 'empty-')), '--out', path.join(dir, 'o2'), '--backend', 'cpu'], /metadata|HAM10000|csv/i],
    ['an unreadable image file', () => ['predict', '--model', run, '--image', garbage('image.jpg'), '--backend', 'cpu'], /image|decode|read/i],
    ['an unreadable model file', () => ['evaluate', '--model', damagedRun(), '--data', data, '--backend', 'cpu'], /model\.json must be valid JSON/],
    ['a run folder that is not a run', () => ['evaluate', '--model', data, '--data', data, '--backend', 'cpu'], /must hold run\.json/],
    ['a non-numeric --epochs', () => ['train', '--data', data, '--out', path.join(dir, 'o3'), '--epochs', 'many'], /--epochs.*'many' is invalid/],
    ['a zero --batch-size', () => ['train', '--data', data, '--out', path.join(dir, 'o4'), '--batch-size', '0'], /--batch-size.*must be an integer >= 1/],
    ['a negative --learning-rate', () => ['train', '--data', data, '--out', path.join(dir, 'o5'), '--learning-rate', '-1'], /--learning-rate.*must be a number > 0/],
    ['an unknown --backend', () => ['train', '--data', data, '--out', path.join(dir, 'o6'), '--backend', 'gpu'], /--backend.*Allowed choices/],
    ['an unknown option', () => ['train', '--data', data, '--out', path.join(dir, 'o7'), '--frobnicate'], /unknown option '--frobnicate'/],
    ['a missing required option', () => ['train', '--data', data], /required option '--out <run>' not specified/],
    ['training over a finished run without --resume', () => ['train', '--data', data, '--out', run, '--backend', 'cpu'], /--resume/],
  ];

  function garbage(name: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, Buffer.from('this is not an image at all'));
    return file;
  }

  /** A copy of the small run whose model.json is cut in half, as a crash of another tool would leave it. */
  function damagedRun(): string {
    const copy = path.join(dir, 'damaged');
    fs.cpSync(run, copy, { recursive: true });
    const json = path.join(copy, 'model', 'model.json');
    fs.writeFileSync(json, fs.readFileSync(json, 'utf8').slice(0, 100));
    return copy;
  }

  it.each(cases)('%s', async (_name, argv, what) => {
    const args = argv();
    const { code, lines } = await cli(...args);
    expect(code).not.toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(what);
    expect(lines[0]).toMatch(FIX);
    expect(lines[0]).not.toMatch(/unexpected/);
    const verbose = await cli(...args, '--verbose');
    if (/^ham10000: error: /.test(lines[0])) expect(verbose.lines.join('\n')).toMatch(/\n\s+at /);
  });

  it('exits the process non-zero with the line on stderr and no stack, as a child process', async () => {
    const run = await runChild(['evaluate', '--model', data, '--data', data, '--backend', 'cpu']);
    expect(run.code).toBe(1);
    const lines = run.stderr.split('\n').filter((line) => line && !/^tfjs-trust: using /.test(line));
    expect(lines).toEqual([expect.stringMatching(/^ham10000: error: readRunConfig: run folder '.*' must hold run\.json/)]);
  });
});
