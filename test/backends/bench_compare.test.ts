import * as tf from '@tensorflow/tfjs-core';
import { compareInterleaved, comparisonTable, type ComparedTask, type PythonRunner } from '../../benchmarks/compare';
import type { Result } from '../../benchmarks/harness';
import { benchDocument } from '../../benchmarks/report';
import type { Workload } from '../../benchmarks/workload';

const order: string[] = [];

/** 2 GFLOP a run, whatever it really costs: GFLOP/s must follow from flops and the median. */
const tiny: Workload = {
  name: 'tiny',
  description: 'an 8×8 product',
  setup: ({ seed }) => {
    const a = tf.randomNormal([8, 8], 0, 1, 'float32', seed);
    return {
      params: { size: 8 },
      throughput: { items: 1, unit: 'products/s' },
      flops: 2e9,
      run: () => {
        order.push('tfjs');
        return tf.matMul(a, a);
      },
      dispose: () => a.dispose(),
    };
  },
};

/** Python's side, answering as python_bench.py --serve does; its runs "take" 4 ms. */
const python: PythonRunner = {
  async request(body) {
    if (body.cmd === 'setup') return { params: { size: 8 }, throughput: { items: 1, unit: 'products/s' }, note: null };
    if (body.cmd === 'run') {
      order.push(`python:${String(body.workload)}`);
      return { ms: 4 };
    }
    return {};
  },
};

const task: ComparedTask = { label: 'tiny product', tfjs: 'tiny', python: 'tiny-py', article: 'tiny-article' };

beforeEach(() => order.splice(0));

describe('compareInterleaved', () => {
  it('runs every participant once per round, in turn, and summarises only the timed rounds', async () => {
    const before = tf.memory().numTensors;
    const outcome = await compareInterleaved({ backends: ['cpu'], workloads: [tiny], tasks: [task], python, rounds: 3, warmup: 1, quick: true, seed: 1, maxRunMs: 60_000 });
    // The article's loop (minutes a run) runs once, in the last round.
    expect(order).toEqual([...Array.from({ length: 4 }, () => ['tfjs', 'python:tiny-py']).flat(), 'python:tiny-article']);
    expect(outcome.results.map((r) => [r.backend, r.workload, r.runs])).toEqual([
      ['cpu', 'tiny', 3],
      ['tf-python', 'tiny-py', 3],
      ['tf-python', 'tiny-article', 1],
    ]);
    const [cpu, py] = outcome.results;
    expect(cpu.gflops).toBeCloseTo(2 / (cpu.medianMs / 1000), 6);
    expect(py.medianMs).toBe(4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('skips the pairs asked, and drops a participant whose first run is over the limit, saying why', async () => {
    const skip = await compareInterleaved({ backends: ['cpu'], workloads: [tiny], tasks: [task], python: null, rounds: 1, warmup: 0, quick: true, seed: 1, maxRunMs: 60_000, skip: ['cpu:ti'] });
    expect(skip.failed).toEqual([{ backend: 'cpu', workload: 'tiny', reason: 'skipped (--skip)' }]);
    const slow = await compareInterleaved({ backends: ['cpu'], workloads: [tiny], tasks: [task], python: null, rounds: 2, warmup: 0, quick: true, seed: 1, maxRunMs: -1 });
    expect(slow.results).toEqual([]);
    expect(slow.failed[0].reason).toMatch(/^one run took \d+ s, over --max-run-seconds; skipped$/);
  });
});

describe('comparisonTable', () => {
  const row = (backend: string, workload: string, medianMs: number, gflops?: number): Result => ({
    backend: backend as Result['backend'], workload, params: { size: 8 }, runs: 3, medianMs, iqrMs: 0, minMs: medianMs,
    throughput: { value: 1, unit: 'products/s' }, peakMemoryMB: Number.NaN, ...(gflops === undefined ? {} : { gflops }),
  });

  it('puts each task on one row: ms, the ratio to native, and GFLOP/s with Python\'s from the same FLOPs', () => {
    const doc = benchDocument({ results: [row('tensorflow', 'tiny', 10, 200), row('wasm', 'tiny', 50, 40), row('tf-python', 'tiny-py', 8), row('tf-python', 'tiny-article', 400)], absent: [], failed: [] }, 'cmd');
    const lines = comparisonTable(doc, [task]).split('\n');
    expect(lines[0]).toBe('| task | tensorflow | wasm | TF Python (smart) | TF Python (the article\'s) | GFLOP/s tensorflow / wasm / TF Python |');
    expect(lines[2]).toBe('| tiny product | 10.0 | 50.0 (5.00×) | 8.00 (0.80×) | 400 (40.00×) | 200.0 / 40.0 / 250.0 |');
  });
});
