/**
 * Merges benchmark JSON files of one machine (tfjs runs of `npm run bench` and the Python
 * benchmark of scripts/bench, same schema) into one table, so every backend stands side by side:
 *
 *   npx tsx benchmarks/merge.ts --markdown docs/benchmarks.md bench-results/a.json bench-results/python-b.json
 */
import * as fs from 'node:fs';
import { Command } from 'commander';
import { markdownTable, spliceTable, type BenchDocument } from './report';

/** One document holding every run's results; each run's command stays visible. */
export function mergeDocuments(docs: BenchDocument[]): BenchDocument {
  if (docs.length === 0) throw new Error('merge: give at least one JSON file written by npm run bench or python_bench.py');
  return {
    machine: docs[0].machine,
    createdAt: docs.map((doc) => doc.createdAt).sort().at(-1)!,
    command: docs.map((doc) => doc.command).join('` ; `'),
    results: docs.flatMap((doc) => doc.results),
    absent: docs.flatMap((doc) => doc.absent),
    failed: docs.flatMap((doc) => doc.failed ?? []),
  };
}

if (require.main === module) {
  const program = new Command()
    .argument('<files...>', 'benchmark JSON files')
    .option('--markdown <file>', 'write the table into this file, between <!-- bench:start --> and <!-- bench:end -->')
    .parse();
  const docs = program.args.map((file) => JSON.parse(fs.readFileSync(file, 'utf8')) as BenchDocument);
  const table = markdownTable(mergeDocuments(docs));
  const target = program.opts<{ markdown?: string }>().markdown;
  if (target) {
    fs.writeFileSync(target, spliceTable(fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : undefined, table));
  } else {
    console.log(table);
  }
}
