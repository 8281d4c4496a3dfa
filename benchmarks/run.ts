/**
 * `npm run bench`: every workload in benchmarks/workloads/ on every backend present. Writes
 * bench-results/<date>.json and prints (or splices into --markdown) the table. See README.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerCpuTrainingKernels } from '../src/backends/cpu_training';
import { registerWasmTrainingKernels } from '../src/backends/wasm_training';
import { BACKENDS, type BackendName } from '../src/node/backend';
import { runBenchmarks, type Failure, type Result } from './harness';
import { benchDocument, markdownTable, spliceTable } from './report';
import type { Workload } from './workload';

// The training kernels a user gets from these calls (the HAM10000 CLI makes them): the benchmark measures those.
registerCpuTrainingKernels();
registerWasmTrainingKernels();

const WORKLOAD_DIR = path.join(__dirname, 'workloads');

/** Every workload file's default export (a Workload or an array of them), in file name order. */
async function loadWorkloads(): Promise<Workload[]> {
  const files = fs.readdirSync(WORKLOAD_DIR).filter((f) => f.endsWith('.ts')).sort();
  const workloads: Workload[] = [];
  for (const file of files) {
    const exported = ((await import(path.join(WORKLOAD_DIR, file))) as { default: Workload | Workload[] }).default;
    workloads.push(...(Array.isArray(exported) ? exported : [exported]));
  }
  return workloads;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be an integer >= 0');
  return n;
}

function backendList(value: string): BackendName[] {
  const names = list(value);
  const unknown = names.filter((n) => !(BACKENDS as readonly string[]).includes(n));
  if (unknown.length) throw new InvalidArgumentError(`unknown ${unknown.join(', ')}; choose from ${BACKENDS.join(', ')}`);
  return names as BackendName[];
}

function progress(outcome: Result | Failure): void {
  if ('reason' in outcome) console.error(`  ${outcome.backend} ${outcome.workload}: FAILED: ${outcome.reason}`);
  else console.error(`  ${outcome.backend} ${outcome.workload}: median ${outcome.medianMs.toFixed(1)} ms (IQR ${outcome.iqrMs.toFixed(1)})`);
}

async function main(): Promise<void> {
  const program = new Command('bench')
    .option('--backends <list>', `comma-separated, of ${BACKENDS.join(', ')}`, backendList, [...BACKENDS].reverse())
    .option('--workloads <list>', 'comma-separated names or name prefixes (default: all)', list)
    .option('--quick', 'small sizes and few runs, for development', false)
    .option('--runs <n>', 'timed runs after the warm-up (default 10, 3 with --quick)', positiveInt)
    .option('--warmup <n>', 'untimed runs first', positiveInt, 2)
    .option('--seed <n>', 'seed of every random input', positiveInt, 42)
    .option('--out <dir>', 'where the JSON goes', 'bench-results')
    .option('--markdown <file>', 'write the table into this file, between <!-- bench:start --> and <!-- bench:end -->')
    .option('--list', 'list the workloads and exit', false)
    .parse();
  const opts = program.opts();
  const all = await loadWorkloads();
  if (opts.list) {
    for (const w of all) console.log(`${w.name}: ${w.description}`);
    return;
  }
  const prefixes: string[] | undefined = opts.workloads;
  const workloads = prefixes ? all.filter((w) => prefixes.some((p) => w.name.startsWith(p))) : all;
  if (!workloads.length) program.error(`--workloads matched none of: ${all.map((w) => w.name).join(', ')}`);

  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const outcome = await runBenchmarks({
    backends: opts.backends,
    workloads,
    runs: opts.runs ?? (opts.quick ? 3 : 10),
    warmup: opts.warmup,
    quick: opts.quick,
    seed: opts.seed,
    onResult: progress,
  });
  const doc = benchDocument(outcome, command);
  fs.mkdirSync(opts.out, { recursive: true });
  const jsonPath = path.join(opts.out, `${doc.createdAt.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(jsonPath, `${JSON.stringify(doc, null, 2)}\n`);
  const table = markdownTable(doc);
  if (opts.markdown) {
    const existing = fs.existsSync(opts.markdown) ? fs.readFileSync(opts.markdown, 'utf8') : undefined;
    fs.writeFileSync(opts.markdown, spliceTable(existing, table));
  }
  console.log(table);
  console.error(`\nwrote ${jsonPath}${opts.markdown ? ` and ${opts.markdown}` : ''}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
