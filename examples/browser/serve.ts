/**
 * A tiny static file server on 127.0.0.1 for the demo (and its browser test): the built page at
 * `/`, and optionally a run folder of the HAM10000 pipeline at `/run/`, so the page can load
 * `/run/model/model.json` and `/run/run.json`.
 *
 *     npm run demo:browser                      build, serve, pick model files in the page
 *     npm run demo:browser -- --run runs/demo/run   build, serve and preload that run's model
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildDemo, DEFAULT_OUT_DIR } from './build';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

export interface StaticServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

/** Serves `root` at `/` and each `mounts[prefix]` folder at `/prefix/`; never a file outside them. */
export async function serveStatic(root: string, mounts: Record<string, string> = {}, port = 0): Promise<StaticServer> {
  const server = http.createServer((request, response) => {
    const file = resolveFile(new URL(request.url ?? '/', 'http://localhost').pathname, root, mounts);
    if (file === null || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    fs.createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

function resolveFile(pathname: string, root: string, mounts: Record<string, string>): string | null {
  const decoded = decodeURIComponent(pathname);
  const [, first = '', ...rest] = decoded.split('/');
  const [base, relative] = first in mounts ? [mounts[first], rest.join('/')] : [root, decoded.slice(1) || 'index.html'];
  const file = path.resolve(base, relative);
  return file.startsWith(path.resolve(base) + path.sep) ? file : null;
}

async function main(): Promise<void> {
  const runFlag = process.argv.indexOf('--run');
  const run = runFlag >= 0 ? process.argv[runFlag + 1] : undefined;
  if (run !== undefined && !fs.existsSync(path.join(run, 'model', 'model.json'))) {
    throw new Error(`demo:browser: --run must be a run folder holding model/model.json; '${run}' does not. Give a 'ham10000 train --out' folder, or RUN/run of 'npm run demo -- --out RUN'.`);
  }
  await buildDemo(DEFAULT_OUT_DIR);
  const server = await serveStatic(DEFAULT_OUT_DIR, run ? { run: path.resolve(run) } : {}, Number(process.env.PORT ?? 8080));
  console.log(`Open ${server.url}/${run ? '?model=/run/model/model.json' : ''}  (Ctrl-C stops)`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
