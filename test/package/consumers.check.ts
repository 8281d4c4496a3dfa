/**
 * `npm run check:package`: the package as a user gets it. `npm pack` (whose prepack builds), then
 * fresh projects that install the tarball from the npm registry:
 * - full: @tensorflow/tfjs (the union package) and every optional peer, TypeScript and @types/node;
 * - bare: only the required peers, as a browser app would install it;
 * - skew: @tensorflow/tfjs 4.20, older than the peer range.
 * Then publint and @arethetypeswrong/cli on the tarball. Runs under node's test runner (not jest:
 * it needs the registry and about two minutes), from .ci/run.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  dependencies?: Record<string, string>;
};
const TFJS = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')).version as string;
/** The Node pipeline's optional peers: never installed by the core. */
const NODE_PEERS = ['sharp', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'];
const PIPELINE_PEERS = [...NODE_PEERS, 'commander', 'cli-progress', 'csv-parse'];
const SKEW_TFJS = '4.20.0';
/** How npm is told to install: from the cache when it can, nothing else. */
const NPM_INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'];

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string): Ran {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(command: string, args: string[], cwd: string): string {
  const result = run(command, args, cwd);
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed in ${cwd}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** `npm install` in the background, so the three projects install side by side. */
function install(cwd: string, specs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', [...NPM_INSTALL, ...specs], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm install in ${cwd} failed (${code}):\n${stderr}`))));
  });
}

function project(dir: string, files: Record<string, string>): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir), private: true, version: '1.0.0' }));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const peer = (name: string) => `${name}@${pkg.peerDependencies[name]}`;

/** The same checks written for require and for import: one copy of each class across entries. */
function identityScript(kind: 'cjs' | 'esm'): string {
  const load =
    kind === 'cjs'
      ? `const tf = require('@tensorflow/tfjs');\nconst trust = require('tfjs-trust');\nconst node = require('tfjs-trust/node');\nconst ham = require('tfjs-trust/ham10000');\nrequire('tfjs-trust/wasm-training');\nconst os = require('node:os'), fs = require('node:fs'), path = require('node:path');\n`
      : `import * as tf from '@tensorflow/tfjs';\nimport * as trust from 'tfjs-trust';\nimport * as node from 'tfjs-trust/node';\nimport * as ham from 'tfjs-trust/ham10000';\nimport 'tfjs-trust/wasm-training';\nimport * as os from 'node:os';\nimport * as fs from 'node:fs';\nimport * as path from 'node:path';\n`;
  return `${load}
(async () => {
  await tf.setBackend('cpu');
  const built = await ham.buildClassifier({ arch: 'compact', imageSize: 16, numClasses: 3, trainingExamples: 10, seed: 1 });
  const head = built.model.layers[built.model.layers.length - 1];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-trust-${kind}-'));
  await node.saveModel(built.model, dir);
  const reloaded = await node.loadModel(dir);
  const reloadedHead = reloaded.layers[reloaded.layers.length - 1];
  let error;
  try { await node.selectBackend({ backend: 'tpu' }); } catch (e) { error = e; }
  console.log(JSON.stringify({
    builtHead: head instanceof trust.DenseFlipout,
    reloadedHead: reloadedHead instanceof trust.DenseFlipout,
    variational: reloadedHead instanceof trust.VariationalLayer,
    nodeError: error instanceof trust.TrustError,
    errorName: error && error.name,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;
}

const TS_SOURCE = `import { DenseFlipout, TrustError } from 'tfjs-trust';
import { selectBackend, type SelectedBackend } from 'tfjs-trust/node';
import * as ham from 'tfjs-trust/ham10000';
import * as wasmTraining from 'tfjs-trust/wasm-training';
export const used: unknown[] = [DenseFlipout, TrustError, selectBackend, ham, wasmTraining];
export type Selected = SelectedBackend;
`;

function tsconfig(options: Record<string, string>): string {
  // skipLibCheck as `tsc --init` sets it: tfjs' own declarations do not pass strict checks.
  return JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, target: 'es2020', types: ['node'], ...options }, files: ['../../src/index.ts'] });
}

/** The external modules a built file reaches through its static imports (ESM) or requires (CJS), chunks followed. */
function externalImports(entry: string): string[] {
  const seen = new Set<string>();
  const external = new Set<string>();
  // Statements only (esbuild writes one per line start), not the same words inside an error message.
  const pattern = /^(?:import|export|\})[^"'\n]*\bfrom\s*["']([^"']+)["'];?$|^import\s*["']([^"']+)["'];?$|\brequire\(["']([^"']+)["']\)/gm;
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const match of fs.readFileSync(file, 'utf8').matchAll(pattern)) {
      const id = match[1] ?? match[2] ?? match[3];
      if (id.startsWith('.')) walk(path.resolve(path.dirname(file), id));
      else external.add(id);
    }
  };
  walk(entry);
  return [...external].sort();
}

let tmp = '';
let tarball = '';
let full = '';
let bare = '';
let skew = '';

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-trust-package-'));
  // A real `npm pack`: its prepack script builds dist/, as on a fresh clone.
  ok('npm', ['pack', '--pack-destination', tmp], ROOT);
  tarball = path.join(tmp, `${pkg.name}-${pkg.version}.tgz`);
  fs.mkdirSync(path.join(tmp, 'unpacked'));
  ok('tar', ['-xzf', tarball, '-C', path.join(tmp, 'unpacked')], tmp);
  full = project(path.join(tmp, 'full'), {
    'identity.cjs': identityScript('cjs'),
    'identity.mjs': identityScript('esm'),
    'src/index.ts': TS_SOURCE,
    'ts/node10/tsconfig.json': tsconfig({ module: 'commonjs', moduleResolution: 'node' }),
    'ts/node16/tsconfig.json': tsconfig({ module: 'node16', moduleResolution: 'node16' }),
    'ts/bundler/tsconfig.json': tsconfig({ module: 'esnext', moduleResolution: 'bundler' }),
  });
  bare = project(path.join(tmp, 'bare'), {});
  skew = project(path.join(tmp, 'skew'), {});
  await Promise.all([
    install(full, [tarball, `@tensorflow/tfjs@${TFJS}`, ...PIPELINE_PEERS.map(peer), `typescript@${pkg.devDependencies.typescript}`, `@types/node@${pkg.devDependencies['@types/node']}`]),
    install(bare, [tarball, `@tensorflow/tfjs-core@${TFJS}`, `@tensorflow/tfjs-layers@${TFJS}`]),
    install(skew, [tarball, `@tensorflow/tfjs@${SKEW_TFJS}`]),
  ]);
});

after(() => {
  if (tmp && !process.env.TFJS_TRUST_KEEP_PACKAGE_CHECK) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('ships the build, the README and the full Apache-2.0 license, and no sources', () => {
    const files = ok('tar', ['-tzf', tarball], tmp).split('\n').filter(Boolean);
    for (const file of ['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/index.js', 'package/dist/index.mjs', 'package/dist/index.d.ts', 'package/dist/ham10000/cli.js']) {
      assert.ok(files.includes(file), `${file} missing from the tarball`);
    }
    assert.deepEqual(files.filter((file) => /^package\/(src|test|scripts)\//.test(file)), []);
    const license = ok('tar', ['-xzOf', tarball, 'package/LICENSE'], tmp);
    assert.match(license, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
    assert.match(license, /END OF TERMS AND CONDITIONS/);
  });

  it('has a browser core that reaches only tfjs and its own isomorphic dependencies (no Node module, no optional peer)', () => {
    const dist = path.join(tmp, 'unpacked', 'package', 'dist');
    const allowed = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', ...Object.keys(pkg.dependencies ?? {})];
    for (const entry of ['index.mjs', 'index.js']) {
      const reached = externalImports(path.join(dist, entry));
      assert.deepEqual(reached.filter((id) => !allowed.includes(id)), [], entry);
      assert.ok(reached.includes('@tensorflow/tfjs-core'), `${entry} reaches ${reached.join(', ')}: the scan found no import`);
    }
  });

  it('passes publint', () => {
    const dir = path.join(tmp, 'unpacked');
    const out = ok(path.join(ROOT, 'node_modules/.bin/publint'), ['--strict', '--pack', 'false', path.join(dir, 'package')], tmp);
    // --strict fails on warnings; suggestions (as "sideEffects", a decision of its own) are printed only.
    assert.doesNotMatch(out, /^(Warnings|Errors):/m, out);
  });

  it('passes @arethetypeswrong/cli (node10, node16 CJS and ESM, bundler)', () => {
    ok(path.join(ROOT, 'node_modules/.bin/attw'), [tarball, '--format', 'ascii'], tmp);
  });
});

describe('a browser app (required peers only)', () => {
  it('installs nothing native and nothing for the CLI', (t) => {
    const size = (dir: string) => `${(Number(ok('du', ['-sk', dir], tmp).split('\t')[0]) / 1024).toFixed(1)} MB`;
    t.diagnostic(`node_modules ${size(path.join(bare, 'node_modules'))}, of which tfjs-trust ${size(path.join(bare, 'node_modules', 'tfjs-trust'))}`);
    const installed = ok('npm', ['ls', '--all', '--parseable'], bare)
      .split('\n')
      .map((line) => path.relative(path.join(bare, 'node_modules'), line));
    for (const name of [...PIPELINE_PEERS, '@img']) {
      assert.ok(!installed.some((dir) => dir === name || dir.startsWith(`${name}/`) || dir.includes(`/node_modules/${name}`)), `${name} was installed`);
    }
  });

  it('imports the core in CJS and ESM', () => {
    ok('node', ['-e', "const t = require('tfjs-trust'); if (typeof t.DenseFlipout !== 'function') process.exit(3);"], bare);
    ok('node', ['--input-type=module', '-e', "import { DenseFlipout } from 'tfjs-trust'; if (typeof DenseFlipout !== 'function') process.exit(3);"], bare);
  });

  const oneLine = (entry: string, peers: string[]) =>
    new RegExp(`${entry.replace(/[/]/g, '\\/')} needs ${peers.join(', ').replace(/[/]/g, '\\/')} \\(optional peer dependencies of tfjs-trust, not installed\\)\\. ` +
      `Fix: npm install ${peers.map((name) => `${name}@${pkg.peerDependencies[name]}`.replace(/[/^.]/g, '\\$&')).join(' ')}$`, 'm');

  for (const [entry, peers] of [['tfjs-trust/ham10000', PIPELINE_PEERS], ['tfjs-trust/node', NODE_PEERS]] as const) {
    it(`refuses ${entry} in one line naming the npm install to run (CJS and ESM)`, () => {
      for (const args of [['-e', `require('${entry}')`], ['--input-type=module', '-e', `import '${entry}'`]]) {
        const result = run('node', args, bare);
        assert.equal(result.status, 1);
        const errorLines = result.stderr.split('\n').filter((line) => line.includes(' needs '));
        assert.equal(errorLines.length, 1, result.stderr);
        assert.match(errorLines[0], /^TrustError: /);
        assert.match(errorLines[0], oneLine(entry, [...peers]));
      }
    });
  }

  it('the ham10000 command says what to install in one line and exits 1', () => {
    const result = run(path.join(bare, 'node_modules/.bin/ham10000'), ['--help'], bare);
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^ham10000: error: /);
    assert.match(result.stderr.trimEnd(), oneLine('the ham10000 command', PIPELINE_PEERS));
  });
});

describe('a Node app with @tensorflow/tfjs and the optional peers', () => {
  for (const kind of ['cjs', 'esm'] as const) {
    it(`shares one copy of each class across the entries under ${kind === 'cjs' ? 'require' : 'import'}`, () => {
      const out = ok('node', [`identity.${kind === 'cjs' ? 'cjs' : 'mjs'}`], full);
      assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { builtHead: true, reloadedHead: true, variational: true, nodeError: true, errorName: 'ArgumentError' });
    });
  }

  it('has a single tfjs-core', () => {
    const versions = new Set(ok('npm', ['ls', '--all', '@tensorflow/tfjs-core'], full).match(/@tensorflow\/tfjs-core@[\d.]+/g));
    assert.deepEqual([...versions], [`@tensorflow/tfjs-core@${TFJS}`]);
  });

  for (const resolution of ['node10', 'node16', 'bundler']) {
    it(`type-checks every entry under moduleResolution ${resolution}`, () => {
      ok('node', [path.join(full, 'node_modules/typescript/bin/tsc'), '-p', `ts/${resolution}`], full);
    });
  }

  it('ham10000 --version prints the version; --help marks required options and shows defaults', () => {
    const bin = path.join(full, 'node_modules/.bin/ham10000');
    assert.equal(ok(bin, ['--version'], full).trim(), pkg.version);
    const help = ok(bin, ['evaluate', '--help'], full);
    assert.match(help, /--model <run>\s+run folder of a trained model \(required\)/);
    assert.match(help, /--samples <n>\s+Monte Carlo samples per image \(default: 30\)/);
    assert.match(help, /--backend <name>[\s\S]*default: the fastest present/);
  });
});

describe(`an app on @tensorflow/tfjs ${SKEW_TFJS}`, () => {
  it('really has two copies of tfjs-core (the case this guards)', () => {
    const listed = run('npm', ['ls', '--all', '@tensorflow/tfjs-core'], skew).stdout;
    assert.match(listed, new RegExp(`tfjs-core@${SKEW_TFJS.replace(/\./g, '\\.')}`));
    assert.match(listed, new RegExp(`tfjs-core@${TFJS.replace(/\./g, '\\.')}`));
  });

  it('gets one error at import naming both versions and the fix, under require and import, tfjs loaded first or not', () => {
    const orders = [
      ['-e', "require('@tensorflow/tfjs'); require('tfjs-trust')"],
      ['--input-type=module', '-e', "import '@tensorflow/tfjs'; import 'tfjs-trust';"],
      ['-e', "require('tfjs-trust'); require('@tensorflow/tfjs')"],
      ['--input-type=module', '-e', "import 'tfjs-trust'; import '@tensorflow/tfjs';"],
    ];
    for (const args of orders) {
      const result = run('node', args, skew);
      assert.equal(result.status, 1);
      const lines = result.stderr.split('\n').filter((line) => /tfjs-core|already registered/.test(line));
      assert.equal(lines.length, 1, result.stderr);
      assert.equal(
        lines[0],
        `TrustError: tfjs-trust: two copies of @tensorflow/tfjs-core, ${SKEW_TFJS} (the app's) and ${TFJS} (tfjs-trust's); once both load they share one engine ` +
          `but not the Tensor class, so tensors break. Fix: use one version in ${pkg.peerDependencies['@tensorflow/tfjs-core']} everywhere (npm install @tensorflow/tfjs@${TFJS}, ` +
          `or the @tensorflow/* packages you use at ${TFJS}), then \`npm ls @tensorflow/tfjs-core\` must list a single version (npm dedupe).`,
      );
    }
  });
});
