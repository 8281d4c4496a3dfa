/**
 * The contract between the benchmark harness (`npm run bench`) and one workload. A workload is a
 * file in `benchmarks/workloads/` whose default export is a `Workload` (or an array of them, for
 * variants that belong side by side, e.g. a layer and its baseline). The harness finds the files
 * itself: adding a workload never means editing the harness. See `benchmarks/README.md`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../src/node/backend';

/** What the harness tells a workload before it builds anything. */
export interface WorkloadContext {
  /** The backend the harness has activated (`tf.getBackend()` is already set to it). */
  backend: BackendName;
  /** `--quick`: use the smallest sizes that still exercise the code path (for development runs). */
  quick: boolean;
  /** Seed for every random tensor the workload makes, so two runs measure the same work. */
  seed: number;
}

/** Tensors returned by `run()`: the harness waits for their values (so async backends finish) and disposes them. */
export type RunOutput = tf.Tensor | tf.Tensor[] | void;

/** A workload built on one backend, ready to be timed. */
export interface PreparedWorkload {
  /** The sizes that define the measured work (batch, image size, samples ...), shown in the table. */
  params: Record<string, number | string | boolean>;
  /** What one `run()` processes, for the throughput column, e.g. `{ items: 8, unit: 'images/s' }`. */
  throughput: { items: number; unit: string };
  /** Floating-point operations of one run (a multiply-add counts 2), for effective GFLOP/s; where clear. */
  flops?: number;
  /** Anything a reader must know to compare this row, e.g. "batch 2: cpu too slow for batch 8". */
  note?: string;
  /** The timed work. Must not leak: return the tensors it makes, or dispose them itself. */
  run(): RunOutput | Promise<RunOutput>;
  /** Frees everything `setup` made (models, variables, inputs). */
  dispose(): void;
}

export interface Workload {
  /** Unique, kebab-case, stable across versions: the key the Python benchmark (issue 7) shares. */
  name: string;
  /** One line for `--list` and the docs. */
  description: string;
  /** Builds models and inputs on the active backend; never timed. */
  setup(context: WorkloadContext): PreparedWorkload | Promise<PreparedWorkload>;
}
