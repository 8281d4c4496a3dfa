/**
 * `npm run bench -- --compare-python`: every workload on every tfjs backend present and in
 * TensorFlow Python, interleaved (one run of each participant in turn, round after round), so the
 * load of a shared machine falls on all alike; then one side-by-side table with effective GFLOP/s
 * beside the machine's measured matmul peak. Python runs in a child process
 * (`scripts/bench/python_bench.py --serve`) that times one run per request.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../src/node/backend';
import { activateBackend, detectBackends, summarize, type Absent, type BenchOutcome, type Failure, type Result } from './harness';
import type { BenchDocument } from './report';
import type { PreparedWorkload, Workload } from './workload';

/** A row of the side-by-side table: the tfjs workload, and the Python workloads that do the same task. */
export interface ComparedTask {
  label: string;
  tfjs: string;
  /** The Python workload doing the same job the smart way (what a TF user would write). */
  python?: string;
  /** The article's way, where it differs (S × model.predict for Monte Carlo): minutes a run, so timed once, in the last round. */
  article?: string;
}

export const TASKS: ComparedTask[] = [
  { label: 'matmul (the peak)', tfjs: 'matmul', python: 'matmul' },
  { label: 'Dense training step', tfjs: 'dense-train-step', python: 'dense-train-step' },
  { label: 'DenseFlipout training step', tfjs: 'dense-flipout-train-step', python: 'dense-flipout-train-step' },
  { label: 'VGG16 forward', tfjs: 'vgg16-forward', python: 'vgg16-forward' },
  { label: 'Grad-CAM, VGG16 block5_conv3', tfjs: 'gradcam-vgg16', python: 'gradcam-vgg16' },
  { label: 'MC prediction, 100 samples', tfjs: 'mc-predict-fast', python: 'mc-predict-head-loop', article: 'mc-predict-naive-loop' },
  { label: 'training step, VGG16 top + DenseFlipout', tfjs: 'vgg16-top-train-step', python: 'vgg16-top-train-step' },
  { label: 'training step, compact CNN', tfjs: 'compact-train-step', python: 'compact-train-step' },
];

/** One thing timed in the rounds: a workload on a tfjs backend, or a Python workload. */
interface Participant {
  backend: string;
  /** Runs once, untimed rounds and the run-time limit aside (the article's minutes-long loop). */
  once?: boolean;
  workload: string;
  prepared: Pick<PreparedWorkload, 'params' | 'throughput' | 'note' | 'flops'>;
  /** One timed run, in ms. */
  run(): Promise<number>;
  dispose(): Promise<void>;
}

/** Where Python runs are requested: `PythonServer`, or a stand-in in tests. */
export interface PythonRunner {
  request(body: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** The Python side: one request, one JSON line back. */
export class PythonServer implements PythonRunner {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterableIterator<string>;

  constructor(python: string, args: string[] = []) {
    const script = path.join(__dirname, '..', 'scripts', 'bench', 'python_bench.py');
    this.child = spawn(python, [script, '--serve', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.resume(); // TensorFlow's log lines: not ours to print
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(body)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error('python_bench.py --serve exited; run it by hand to see why');
    const reply = JSON.parse(next.value) as Record<string, unknown>;
    if (typeof reply.error === 'string') throw new Error(reply.error);
    return reply;
  }

  close(): void {
    this.child.stdin.end();
  }
}

async function tfjsParticipant(backend: BackendName, workload: Workload, quick: boolean, seed: number): Promise<Participant> {
  if (!(await activateBackend(backend))) throw new Error(`the ${backend} backend failed to initialise`);
  const prepared = await workload.setup({ backend, quick, seed });
  return {
    backend,
    workload: workload.name,
    prepared,
    async run() {
      await tf.setBackend(backend === 'cuda' ? 'tensorflow' : backend);
      const start = performance.now();
      const output = await prepared.run();
      const tensors = output === undefined ? [] : Array.isArray(output) ? output : [output];
      await Promise.all(tensors.map((t) => t.data()));
      const ms = performance.now() - start;
      tf.dispose(tensors);
      return ms;
    },
    async dispose() {
      await tf.setBackend(backend === 'cuda' ? 'tensorflow' : backend);
      prepared.dispose();
    },
  };
}

async function pythonParticipant(server: PythonRunner, workload: string, once: boolean): Promise<Participant> {
  const reply = await server.request({ cmd: 'setup', workload });
  const note = typeof reply.note === 'string' ? reply.note : undefined;
  return {
    backend: 'tf-python',
    once,
    workload,
    prepared: { params: reply.params as PreparedWorkload['params'], throughput: reply.throughput as PreparedWorkload['throughput'], note },
    run: async () => (await server.request({ cmd: 'run', workload })).ms as number,
    dispose: async () => void (await server.request({ cmd: 'dispose', workload })),
  };
}

export interface CompareOptions {
  backends: readonly BackendName[];
  workloads: readonly Workload[];
  tasks: readonly ComparedTask[];
  python: PythonRunner | null;
  rounds: number;
  warmup: number;
  quick: boolean;
  seed: number;
  /** A participant whose first warm-up run takes longer is dropped from that task, with the reason. */
  maxRunMs: number;
  /** `backend:workload-prefix` pairs not to run (e.g. `cpu:vgg16`: minutes per run); listed as skipped. */
  skip?: readonly string[];
  onResult?: (outcome: Result | Failure) => void;
}

/**
 * For each task: sets up every participant (each tfjs backend, Python's smart and article's way),
 * runs `warmup` untimed rounds, then `rounds` timed rounds of one run each, in turn.
 */
export async function compareInterleaved(options: CompareOptions): Promise<BenchOutcome> {
  const { present, absent } = await detectBackends(options.backends);
  const results: Result[] = [];
  const failed: Failure[] = [];
  const fail = (backend: string, workload: string, error: unknown) => {
    const failure = { backend, workload, reason: error instanceof Error ? error.message.split('\n')[0] : String(error) } as Failure;
    failed.push(failure);
    options.onResult?.(failure);
  };
  for (const task of options.tasks) {
    const workload = options.workloads.find((w) => w.name === task.tfjs);
    const participants: Participant[] = [];
    for (const backend of workload ? present : []) {
      if (skipped(options.skip ?? [], backend, task.tfjs)) {
        fail(backend, task.tfjs, new Error('skipped (--skip)'));
        continue;
      }
      try {
        participants.push(await tfjsParticipant(backend, workload!, options.quick, options.seed));
      } catch (error) {
        fail(backend, task.tfjs, error);
      }
    }
    for (const name of options.python ? [task.python, task.article].filter((n): n is string => n !== undefined) : []) {
      try {
        participants.push(await pythonParticipant(options.python!, name, name === task.article));
      } catch (error) {
        fail('tf-python', name, error);
      }
    }
    const times = new Map<Participant, number[]>(participants.map((p) => [p, []]));
    const last = options.warmup + options.rounds - 1;
    for (let round = 0; round <= last; round++) {
      for (const participant of [...times.keys()]) {
        if (participant.once && round !== last) continue;
        try {
          const ms = await participant.run();
          if (round === 0 && !participant.once && ms > options.maxRunMs) throw new Error(`one run took ${(ms / 1000).toFixed(0)} s, over --max-run-seconds; skipped`);
          if (round >= options.warmup) times.get(participant)!.push(ms);
        } catch (error) {
          fail(participant.backend, participant.workload, error);
          times.delete(participant);
        }
      }
    }
    for (const [participant, ms] of times) {
      const stats = summarize(ms);
      const { params, throughput, note, flops } = participant.prepared;
      const result: Result = {
        backend: participant.backend as BackendName,
        workload: participant.workload,
        params,
        runs: ms.length,
        ...stats,
        throughput: { value: throughput.items / (stats.medianMs / 1000), unit: throughput.unit },
        peakMemoryMB: Number.NaN,
        ...(flops ? { gflops: flops / 1e9 / (stats.medianMs / 1000) } : {}),
        ...(note ? { note } : {}),
      };
      results.push(result);
      options.onResult?.(result);
    }
    for (const participant of participants) await participant.dispose().catch((error: unknown) => fail(participant.backend, participant.workload, error));
  }
  return { results, absent: absent as Absent[], failed };
}

function skipped(pairs: readonly string[], backend: string, workload: string): boolean {
  return pairs.some((pair) => {
    const [name, prefix = ''] = pair.split(':');
    return name === backend && workload.startsWith(prefix);
  });
}

function cell(result: Result | undefined, reference: Result | undefined): string {
  if (!result) return '–';
  const ms = result.medianMs >= 100 ? result.medianMs.toFixed(0) : result.medianMs.toPrecision(3);
  const ratio = reference && result !== reference ? ` (${(result.medianMs / reference.medianMs).toFixed(2)}×)` : '';
  return `${ms}${ratio}`;
}

/**
 * The side-by-side table: one row per task, median ms per participant and, in brackets, its ratio
 * to the native backend's (or WASM's where native is absent); effective GFLOP/s of each tfjs
 * backend beside the matmul peak row.
 */
export function comparisonTable(doc: BenchDocument, tasks: readonly ComparedTask[]): string {
  const find = (backend: string, workload: string | undefined) => doc.results.find((r) => r.backend === backend && r.workload === workload);
  const backends = ['tensorflow', 'cuda', 'wasm', 'cpu'].filter((b) => doc.results.some((r) => r.backend === b));
  const gflops = (r: Result | undefined) => (r?.gflops === undefined ? '–' : r.gflops.toFixed(1));
  const header = [
    `| task | ${backends.join(' | ')} | TF Python (smart) | TF Python (the article's) | GFLOP/s ${backends.join(' / ')} / TF Python |`,
    `|---|${backends.map(() => '---:').join('|')}|---:|---:|---:|`,
  ];
  const rows = tasks.map((task) => {
    const tfjs = backends.map((b) => find(b, task.tfjs));
    const reference = tfjs[0];
    const python = find('tf-python', task.python);
    const article = find('tf-python', task.article);
    // The same work in Python: the FLOPs of the reference row (same sizes) over Python's time.
    const flops = reference?.gflops === undefined ? undefined : reference.gflops * reference.medianMs;
    const pythonGflops = python && flops !== undefined ? (flops / python.medianMs).toFixed(1) : '–';
    return `| ${task.label} | ${tfjs.map((r) => cell(r, reference)).join(' | ')} | ${cell(python, reference)} | ${cell(article, reference)} | ${[...tfjs.map(gflops), pythonGflops].join(' / ')} |`;
  });
  const sizes = tasks
    .map((task) => find(backends[0], task.tfjs) ?? find('tf-python', task.python))
    .filter((r): r is Result => r !== undefined)
    .map((r) => `${r.workload}: ${Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const notes = doc.results.filter((r) => r.note && !r.note.startsWith('peak memory')).map((r) => `${r.backend} ${r.workload}: ${r.note}`);
  return [
    ...header,
    ...rows,
    '',
    `Median ms of ${doc.results[0]?.runs ?? 0} interleaved runs each (the article's loop: one run, in the last round); (n×) = time / the ${backends[0]} backend's time.`,
    `Sizes (${backends[0]}): ${sizes.join('; ')}.`,
    ...(notes.length ? [`Notes: ${notes.join('; ')}.`] : []),
    ...(doc.failed?.length ? [`Not measured: ${doc.failed.map((f) => `${f.workload} on ${f.backend} (${f.reason})`).join('; ')}.`] : []),
    ...(doc.absent.length ? [`Absent: ${doc.absent.map((a) => `${a.backend} (${a.reason})`).join('; ')}.`] : []),
  ].join('\n');
}
