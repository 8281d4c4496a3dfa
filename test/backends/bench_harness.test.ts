import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { ModuleLoader } from '../../src/node';
import { detectBackends, runBenchmarks, summarize } from '../../benchmarks/harness';
import { benchDocument, markdownTable, spliceTable } from '../../benchmarks/report';
import type { Workload } from '../../benchmarks/workload';

/** A workload whose runs make and return one tensor: enough to exercise timing, throughput and memory. */
const tiny: Workload = {
  name: 'tiny-matmul',
  description: 'an 8×8 matrix product',
  setup: ({ seed }) => {
    const a = tf.randomNormal([8, 8], 0, 1, 'float32', seed);
    return { params: { size: 8 }, throughput: { items: 4, unit: 'products/s' }, run: () => tf.matMul(a, a), dispose: () => a.dispose() };
  },
};

/**
 * Pretends tfjs-node-gpu is installed: loading it registers a 'tensorflow' backend, as the real
 * package does. The backend is the CPU one under that name: this tests the harness's path, not CUDA speed.
 */
const gpuInstalled: ModuleLoader = async (name) => {
  if (name !== '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find module '${name}'`);
  tf.registerBackend('tensorflow', () => new MathBackendCPU());
  for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
};

afterEach(async () => {
  await tf.setBackend('cpu');
  if (tf.findBackendFactory('tensorflow') === null) return;
  tf.removeBackend('tensorflow');
  for (const { kernelName } of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(kernelName, 'tensorflow');
});

describe('benchmark harness', () => {
  it('reports every absent backend with the reason', async () => {
    const detection = await detectBackends(['cpu', 'tensorflow', 'cuda'], async (name) => {
      if (name.includes('tfjs-node')) throw new Error(`Cannot find module '${name}'`);
      return import(name);
    });
    expect(detection.present).toEqual(['cpu']);
    expect(detection.absent).toEqual([
      { backend: 'tensorflow', reason: "@tensorflow/tfjs-node could not be loaded: Cannot find module '@tensorflow/tfjs-node'; to add it: npm install @tensorflow/tfjs-node, or without network `npm run setup:native` (docs/backends.md)" },
      { backend: 'cuda', reason: "@tensorflow/tfjs-node-gpu could not be loaded: Cannot find module '@tensorflow/tfjs-node-gpu'; to add it: npm install @tensorflow/tfjs-node-gpu (needs CUDA)" },
    ]);
  });

  it('runs the cuda path where tfjs-node-gpu is detected (mocked), labelling rows cuda', async () => {
    const outcome = await runBenchmarks({ backends: ['cuda', 'tensorflow'], workloads: [tiny], runs: 3, warmup: 1, quick: true, seed: 1, load: gpuInstalled });
    expect(outcome.absent).toEqual([
      { backend: 'tensorflow', reason: "'cuda' already owns tfjs' 'tensorflow' backend in this process; run --backends tensorflow separately" },
    ]);
    expect(outcome.failed).toEqual([]);
    const [row] = outcome.results;
    expect(row).toMatchObject({ backend: 'cuda', workload: 'tiny-matmul', params: { size: 8 }, runs: 3 });
    expect(row.minMs).toBeLessThanOrEqual(row.medianMs);
    expect(row.throughput.value).toBeCloseTo(4 / (row.medianMs / 1000), 6);
    expect(row.peakMemoryMB).toBeGreaterThanOrEqual((2 * 64 * 4) / 1024 ** 2); // a and its product are alive at the peak
  });

  it('reports a leaking or throwing workload as failed, with the reason', async () => {
    const leaky: Workload = { ...tiny, name: 'leaky', setup: async (c) => ({ ...(await tiny.setup(c)), run: () => void tf.zeros([2]) }) };
    const broken: Workload = { ...tiny, name: 'broken', setup: () => { throw new Error('needs a GPU'); } };
    const before = tf.memory().numTensors;
    const outcome = await runBenchmarks({ backends: ['cpu'], workloads: [leaky, broken], runs: 2, warmup: 0, quick: true, seed: 1 });
    expect(outcome.failed).toEqual([
      { backend: 'cpu', workload: 'leaky', reason: 'leaked 2 tensors over 2 runs; run() must return or dispose what it makes' },
      { backend: 'cpu', workload: 'broken', reason: 'needs a GPU' },
    ]);
    tf.disposeVariables();
    expect(tf.memory().numTensors - before).toBe(2); // the zeros leaked by the 2 timed runs: it stops there
  });

  it('with interleave, times the workloads in turn (A, B, A, B) after their warm-up rounds, and reports each', async () => {
    const order: string[] = [];
    const logged = (name: string): Workload => ({
      ...tiny,
      name,
      setup: async (c) => {
        const prepared = await tiny.setup(c);
        return { ...prepared, run: () => (order.push(name), prepared.run()) };
      },
    });
    const before = tf.memory().numTensors;
    const outcome = await runBenchmarks({ backends: ['cpu'], workloads: [logged('a'), logged('b')], runs: 3, warmup: 1, quick: true, seed: 1, interleave: true });
    // One warm-up round, three timed rounds, then one profiled run each for the peak memory.
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(outcome.results.map((r) => [r.workload, r.runs])).toEqual([['a', 3], ['b', 3]]);
    expect(outcome.failed).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('summarises with the median, interquartile range and minimum', () => {
    expect(summarize([5, 1, 4, 2, 3])).toEqual({ medianMs: 3, iqrMs: 2, minMs: 1 });
    expect(summarize([10, 20])).toEqual({ medianMs: 15, iqrMs: 5, minMs: 10 });
  });

  it('writes the shared JSON schema and a table naming the machine, spliced between markers', async () => {
    const outcome = await runBenchmarks({ backends: ['cpu'], workloads: [tiny], runs: 2, warmup: 0, quick: true, seed: 1 });
    const doc = benchDocument({ ...outcome, absent: [{ backend: 'cuda', reason: 'not installed' }] }, 'npm run bench -- --quick', new Date(0));
    expect(Object.keys(doc)).toEqual(['machine', 'createdAt', 'command', 'results', 'absent']);
    expect(doc.machine.versions['tfjs-core']).toMatch(/^4\./);
    const table = markdownTable(doc);
    expect(table).toMatch(/^Machine: .+, \d+ cores, [\d.]+ GB RAM, .+, Node v\d+/);
    expect(table).toMatch(/\| cpu \| tiny-matmul \| size=8 \| [\d.]+ \|/);
    expect(table).toContain('- cuda: not installed');
    const page = spliceTable('# Benchmarks\n<!-- bench:start -->\nold\n<!-- bench:end -->\ntail\n', 'new');
    expect(page).toBe('# Benchmarks\n<!-- bench:start -->\nnew\n<!-- bench:end -->\ntail\n');
  });
});
