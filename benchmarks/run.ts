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
import { compareInterleaved, comparisonTable, PythonServer, TASKS } from './compare';
import { runBenchmarks, type Failure, type Result } from './harness';
import { benchDocument, COMPARE_MARKERS, markdownTable, spliceTable } from './report';
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
    .option('--workloads <list>', "comma-separated name prefixes; a name ending in '$' is that workload alone (default: all)", list)
    .option('--quick', 'small sizes and few runs, for development', false)
    .option('--runs <n>', 'timed runs after the warm-up (default 10, 3 with --quick)', positiveInt)
    .option('--warmup <n>', 'untimed runs first', positiveInt, 2)
    .option('--seed <n>', 'seed of every random input', positiveInt, 42)
    .option('--out <dir>', 'where the JSON goes', 'bench-results')
    .option('--markdown <file>', 'write the table into this file, between <!-- bench:start --> and <!-- bench:end -->')
    .option('--list', 'list the workloads and exit', false)
    .option('--interleave', "time each backend's workloads in turn, one run of each per round (A, B, A, B...): for ratios between workloads", false)
    .option('--compare-python [python]', 'interleave every task with TF Python (scripts/bench/python_bench.py) and print one side-by-side table; the interpreter defaults to $TFJS_TRUST_PYTHON or python3')
    .option('--rounds <n>', 'with --compare-python: timed rounds (default 5, 2 with --quick)', positiveInt)
    .option('--max-run-seconds <s>', 'with --compare-python: drop a participant whose first run takes longer', positiveInt, 120)
    .option('--skip <list>', 'with --compare-python: backend:workload-prefix pairs not to run, e.g. cpu:vgg16,cpu:gradcam', list)
    .parse();
  const opts = program.opts();
  const all = await loadWorkloads();
  if (opts.list) {
    for (const w of all) console.log(`${w.name}: ${w.description}`);
    return;
  }
  const prefixes: string[] | undefined = opts.workloads;
  const matches = (name: string, p: string) => (p.endsWith('$') ? name === p.slice(0, -1) : name.startsWith(p));
  const workloads = prefixes ? all.filter((w) => prefixes.some((p) => matches(w.name, p))) : all;
  if (!workloads.length) program.error(`--workloads matched none of: ${all.map((w) => w.name).join(', ')}`);

  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  if (opts.comparePython !== undefined) return compare(opts, workloads, command);
  const outcome = await runBenchmarks({
    backends: opts.backends,
    workloads,
    runs: opts.runs ?? (opts.quick ? 3 : 10),
    warmup: opts.warmup,
    quick: opts.quick,
    seed: opts.seed,
    interleave: opts.interleave,
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

/** `--compare-python`: the interleaved run with TF Python, written as JSON and as one side-by-side table. */
async function compare(opts: Record<string, unknown>, workloads: Workload[], command: string): Promise<void> {
  const interpreter = typeof opts.comparePython === 'string' ? opts.comparePython : (process.env.TFJS_TRUST_PYTHON ?? 'python3');
  const python = new PythonServer(interpreter, opts.quick ? ['--quick'] : []);
  const names = new Set(workloads.map((w) => w.name));
  const tasks = TASKS.filter((task) => names.has(task.tfjs));
  try {
    const machine = (await python.request({ cmd: 'versions' })).machine as { versions: Record<string, string> };
    const outcome = await compareInterleaved({
      backends: opts.backends as BackendName[],
      workloads,
      tasks,
      python,
      rounds: (opts.rounds as number | undefined) ?? (opts.quick ? 2 : 5),
      warmup: opts.warmup as number,
      quick: opts.quick as boolean,
      seed: opts.seed as number,
      maxRunMs: (opts.maxRunSeconds as number) * 1000,
      skip: opts.skip as string[] | undefined,
      onResult: progress,
    });
    const doc = { ...benchDocument(outcome, command), python: machine.versions };
    const versions = Object.entries(machine.versions).map(([name, version]) => `${name} ${version}`).join(', ');
    const m = doc.machine;
    const table = [
      `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGB} GB RAM, ${m.os}, Node ${m.node}; ${Object.entries(m.versions).map(([n, v]) => `${n} ${v}`).join(', ')}; Python: ${versions}.`,
      `Command: \`${command}\` (${doc.createdAt}).`,
      '',
      comparisonTable(doc, tasks),
    ].join('\n');
    fs.mkdirSync(opts.out as string, { recursive: true });
    const jsonPath = path.join(opts.out as string, `compare-${doc.createdAt.replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(jsonPath, `${JSON.stringify(doc, null, 2)}\n`);
    const target = opts.markdown as string | undefined;
    if (target) fs.writeFileSync(target, spliceTable(fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : undefined, table, COMPARE_MARKERS));
    console.log(table);
    console.error(`\nwrote ${jsonPath}${target ? ` and ${target}` : ''}`);
  } finally {
    python.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
