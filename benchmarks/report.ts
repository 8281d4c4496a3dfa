/**
 * What a benchmark run writes: the machine it ran on, the JSON document (the schema shared with the
 * Python benchmark of issue 7, see README.md) and the Markdown table for docs/benchmarks.md.
 */
import * as os from 'node:os';
import { createRequire } from 'node:module';
import type { Absent, BenchOutcome, Failure, Result } from './harness';

export interface Machine {
  cpu: string;
  cores: number;
  ramGB: number;
  os: string;
  node: string;
  /** Versions of the tfjs packages that are installed (absent ones are left out). */
  versions: Record<string, string>;
}

const TFJS_PACKAGES = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-layers',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
];

export function describeMachine(): Machine {
  const require = createRequire(__filename);
  const versions: Record<string, string> = {};
  for (const name of TFJS_PACKAGES) {
    try {
      versions[name.replace('@tensorflow/', '')] = (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      // not installed: the backend's absence is reported with its reason elsewhere
    }
  }
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    ramGB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions,
  };
}

export interface BenchDocument {
  machine: Machine;
  createdAt: string;
  command: string;
  results: Result[];
  absent: Absent[];
  failed?: Failure[];
}

export function benchDocument(outcome: BenchOutcome, command: string, createdAt = new Date()): BenchDocument {
  return {
    machine: describeMachine(),
    createdAt: createdAt.toISOString(),
    command,
    results: outcome.results,
    absent: outcome.absent,
    ...(outcome.failed.length ? { failed: outcome.failed } : {}),
  };
}

/** Three significant digits, without exponent notation for the sizes seen here. */
function num(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function params(p: Result['params']): string {
  return Object.entries(p)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

/** The table the docs show: one row per (backend, workload), then absent backends and failures. */
export function markdownTable(doc: BenchDocument): string {
  const m = doc.machine;
  const versions = Object.entries(m.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const lines = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGB} GB RAM, ${m.os}, Node ${m.node}; ${versions}.`,
    `Command: \`${doc.command}\` (${doc.createdAt}).`,
    '',
    '| backend | workload | params | median ms | IQR ms | min ms | throughput | peak tensor MB | note |',
    '|---|---|---|---:|---:|---:|---:|---:|---|',
    ...doc.results.map(
      (r) =>
        `| ${r.backend} | ${r.workload} | ${params(r.params)} | ${num(r.medianMs)} | ${num(r.iqrMs)} | ${num(r.minMs)} | ` +
        `${num(r.throughput.value)} ${r.throughput.unit} | ${num(r.peakMemoryMB)} | ${r.note ?? ''} |`,
    ),
  ];
  if (doc.absent.length) lines.push('', 'Absent backends:', ...doc.absent.map((a) => `- ${a.backend}: ${a.reason}`));
  if (doc.failed?.length) lines.push('', 'Failed:', ...doc.failed.map((f) => `- ${f.workload} on ${f.backend}: ${f.reason}`));
  return lines.join('\n');
}

export const TABLE_START = '<!-- bench:start -->';
export const TABLE_END = '<!-- bench:end -->';

/** The markers of the side-by-side table of `--compare-python`. */
export const COMPARE_MARKERS: [string, string] = ['<!-- compare:start -->', '<!-- compare:end -->'];

/** Puts `table` between the markers of an existing document, or makes a document holding only it. */
export function spliceTable(existing: string | undefined, table: string, [startMarker, endMarker] = [TABLE_START, TABLE_END]): string {
  const block = `${startMarker}\n${table}\n${endMarker}`;
  if (existing === undefined) return `${block}\n`;
  const start = existing.indexOf(startMarker);
  const end = existing.indexOf(endMarker);
  if (start < 0 || end < start) return `${existing.trimEnd()}\n\n${block}\n`;
  return existing.slice(0, start) + block + existing.slice(end + endMarker.length);
}
