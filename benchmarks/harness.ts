/**
 * The benchmark harness: which backends are present (and why the others are not), and the timing
 * of one workload on one backend. The CLI (`run.ts`) wires these to files; tests drive them with a
 * mocked module loader, so the tfjs-node(-gpu) paths are exercised where those cannot be installed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerNativeTrainingKernels } from '../src/backends/native_training';
import { BACKENDS, probeBackend, type BackendName, type ModuleLoader } from '../src/node/backend';
import type { PreparedWorkload, RunOutput, Workload, WorkloadContext } from './workload';

/** tfjs registers both tfjs-node builds under this one name. */
const NATIVE_TF_NAME = 'tensorflow';
const TF_NAMES: Record<BackendName, string> = { cuda: NATIVE_TF_NAME, tensorflow: NATIVE_TF_NAME, wasm: 'wasm', cpu: 'cpu' };

export interface Absent {
  backend: BackendName;
  reason: string;
}

export interface Detection {
  present: BackendName[];
  absent: Absent[];
}

/**
 * Probes each requested backend by loading its package. tfjs-node and tfjs-node-gpu both
 * register 'tensorflow', so one process can hold only one of them: the second one requested is
 * reported absent with that reason (run it with `--backends <name>` on its own).
 */
export async function detectBackends(requested: readonly BackendName[] = BACKENDS, load?: ModuleLoader): Promise<Detection> {
  const present: BackendName[] = [];
  const absent: Absent[] = [];
  for (const name of requested) {
    const owner = present.find((other) => TF_NAMES[other] === NATIVE_TF_NAME);
    if (TF_NAMES[name] === NATIVE_TF_NAME && owner !== undefined) {
      absent.push({ backend: name, reason: `'${owner}' already owns tfjs' '${NATIVE_TF_NAME}' backend in this process; run --backends ${name} separately` });
      continue;
    }
    const probe = await probeBackend(name, load);
    if (probe.available) present.push(name);
    else absent.push({ backend: name, reason: probe.detail });
  }
  return { present, absent };
}

/** Makes `backend` the active tfjs backend (with the native training kernels users get from selectBackend); false when it failed to initialise. */
export async function activateBackend(backend: BackendName): Promise<boolean> {
  const ok = await tf.setBackend(TF_NAMES[backend]);
  if (ok) await tf.ready();
  if (ok && TF_NAMES[backend] === NATIVE_TF_NAME) registerNativeTrainingKernels();
  return ok;
}

export interface Stats {
  medianMs: number;
  iqrMs: number;
  minMs: number;
}

/** Quantile by linear interpolation between order statistics (type 7, as numpy's default). */
function quantile(sorted: number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

export function summarize(timesMs: number[]): Stats {
  const sorted = [...timesMs].sort((a, b) => a - b);
  return { medianMs: quantile(sorted, 0.5), iqrMs: quantile(sorted, 0.75) - quantile(sorted, 0.25), minMs: sorted[0] };
}

export interface Result extends Stats {
  backend: BackendName;
  workload: string;
  params: PreparedWorkload['params'];
  runs: number;
  throughput: { value: number; unit: string };
  peakMemoryMB: number;
  /** Effective GFLOP/s at the median, for workloads that state their FLOPs. */
  gflops?: number;
  note?: string;
}

export interface Failure {
  backend: BackendName;
  workload: string;
  reason: string;
}

export interface MeasureOptions {
  runs: number;
  warmup: number;
  context: WorkloadContext;
}

/** Waits until the backend has really computed the outputs, then frees them. */
async function settle(output: RunOutput): Promise<void> {
  const tensors = output === undefined ? [] : Array.isArray(output) ? output : [output];
  await Promise.all(tensors.map((t) => t.data()));
  tf.dispose(tensors);
}

async function timedRun(prepared: PreparedWorkload): Promise<number> {
  const start = performance.now();
  await settle(await prepared.run());
  return performance.now() - start;
}

const MB = 1024 * 1024;

/**
 * Sets the workload up on the active backend, runs it `warmup` times untimed and `runs` times
 * timed, then once more under `tf.profile` for the peak tensor memory (setup's tensors included,
 * tensors alive before setup excluded). A workload that leaks
 * tensors across its runs fails: its timings would include garbage.
 */
export async function measure(workload: Workload, options: MeasureOptions): Promise<Result> {
  // Tensors alive before setup (other workloads' leftovers) are not this workload's memory.
  const baselineBytes = tf.memory().numBytes;
  const prepared = await workload.setup(options.context);
  try {
    for (let i = 0; i < options.warmup; i++) await timedRun(prepared);
    const before = tf.memory().numTensors;
    const times: number[] = [];
    for (let i = 0; i < options.runs; i++) times.push(await timedRun(prepared));
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) throw new Error(`leaked ${leaked} tensors over ${options.runs} runs; run() must return or dispose what it makes`);
    const profile = await tf.profile(async () => settle(await prepared.run()));
    const stats = summarize(times);
    return {
      backend: options.context.backend,
      workload: workload.name,
      params: prepared.params,
      runs: options.runs,
      ...stats,
      throughput: { value: prepared.throughput.items / (stats.medianMs / 1000), unit: prepared.throughput.unit },
      peakMemoryMB: (Math.max(profile.peakBytes, tf.memory().numBytes) - baselineBytes) / MB,
      ...(prepared.flops ? { gflops: prepared.flops / 1e9 / (stats.medianMs / 1000) } : {}),
      ...(prepared.note ? { note: prepared.note } : {}),
    };
  } finally {
    prepared.dispose();
  }
}

export interface BenchOptions {
  backends: readonly BackendName[];
  workloads: readonly Workload[];
  runs: number;
  warmup: number;
  quick: boolean;
  seed: number;
  load?: ModuleLoader;
  /** Called after each (backend, workload): the CLI prints progress; the harness prints nothing. */
  onResult?: (outcome: Result | Failure) => void;
}

export interface BenchOutcome {
  results: Result[];
  absent: Absent[];
  failed: Failure[];
}

/** Every workload on every backend present; absent backends and failing workloads are reported, with the reason. */
export async function runBenchmarks(options: BenchOptions): Promise<BenchOutcome> {
  const { present, absent } = await detectBackends(options.backends, options.load);
  const results: Result[] = [];
  const failed: Failure[] = [];
  for (const backend of present) {
    if (!(await activateBackend(backend))) {
      absent.push({ backend, reason: `its package loaded but the '${TF_NAMES[backend]}' backend failed to initialise` });
      continue;
    }
    for (const workload of options.workloads) {
      const context = { backend, quick: options.quick, seed: options.seed };
      try {
        const result = await measure(workload, { runs: options.runs, warmup: options.warmup, context });
        results.push(result);
        options.onResult?.(result);
      } catch (error) {
        const failure = { backend, workload: workload.name, reason: error instanceof Error ? error.message.split('\n')[0] : String(error) };
        failed.push(failure);
        options.onResult?.(failure);
      }
    }
  }
  return { results, absent, failed };
}
