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

/** A workload set up on the active backend, with the tensor bytes alive before its setup. */
interface Prepared {
  workload: Workload;
  prepared: PreparedWorkload;
  baselineBytes: number;
  times: number[];
}

async function prepare(workload: Workload, context: WorkloadContext): Promise<Prepared> {
  // Tensors alive before setup (other workloads' leftovers) are not this workload's memory.
  const baselineBytes = tf.memory().numBytes;
  return { workload, prepared: await workload.setup(context), baselineBytes, times: [] };
}

/** One more run under `tf.profile` for the peak tensor memory (setup's tensors included), then the result. */
async function finish({ workload, prepared, baselineBytes, times }: Prepared, context: WorkloadContext): Promise<Result> {
  const profile = await tf.profile(async () => settle(await prepared.run()));
  const stats = summarize(times);
  return {
    backend: context.backend,
    workload: workload.name,
    params: prepared.params,
    runs: times.length,
    ...stats,
    throughput: { value: prepared.throughput.items / (stats.medianMs / 1000), unit: prepared.throughput.unit },
    peakMemoryMB: (Math.max(profile.peakBytes, tf.memory().numBytes) - baselineBytes) / MB,
    ...(prepared.flops ? { gflops: prepared.flops / 1e9 / (stats.medianMs / 1000) } : {}),
    ...(prepared.note ? { note: prepared.note } : {}),
  };
}

/**
 * Runs every set-up workload `warmup` rounds untimed, then `runs` rounds timed, one run of each in
 * turn (A, B, A, B, ...; one workload: its runs back to back). A workload that leaks tensors
 * across its timed runs fails: its timings would include garbage.
 */
async function timeRounds(all: Prepared[], runs: number, warmup: number): Promise<void> {
  for (let round = 0; round < warmup; round++) for (const one of all) await timedRun(one.prepared);
  const before = tf.memory().numTensors;
  for (let round = 0; round < runs; round++) for (const one of all) one.times.push(await timedRun(one.prepared));
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`leaked ${leaked} tensors over ${runs} runs; run() must return or dispose what it makes`);
}

/**
 * Sets the workloads up together on the active backend, runs them `warmup` rounds untimed and
 * `runs` rounds timed, one run of each per round (one workload: its runs back to back; several,
 * with `--interleave`: a busy spell of a shared machine falls on all alike, the protocol for a
 * ratio between them), then each once more under `tf.profile` for the peak tensor memory (its
 * setup's tensors included, tensors alive before it excluded; interleaved, the setups after it
 * count too). A workload that leaks tensors fails.
 */
async function measure(workloads: readonly Workload[], options: MeasureOptions): Promise<Result[]> {
  const all: Prepared[] = [];
  try {
    for (const workload of workloads) all.push(await prepare(workload, options.context));
    await timeRounds(all, options.runs, options.warmup);
    const results: Result[] = [];
    for (const one of all) results.push(await finish(one, options.context));
    return results;
  } finally {
    all.forEach((one) => one.prepared.dispose());
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
  /** Time the workloads of a backend in turn, one run of each per round (measure). */
  interleave?: boolean;
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
    const context = { backend, quick: options.quick, seed: options.seed };
    const measureOptions = { runs: options.runs, warmup: options.warmup, context };
    const batches = options.interleave ? [options.workloads] : options.workloads.map((workload) => [workload]);
    for (const batch of batches) {
      try {
        for (const result of await measure(batch, measureOptions)) {
          results.push(result);
          options.onResult?.(result);
        }
      } catch (error) {
        const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
        for (const workload of batch) {
          const failure = { backend, workload: workload.name, reason };
          failed.push(failure);
          options.onResult?.(failure);
        }
      }
    }
  }
  return { results, absent, failed };
}
