/**
 * The TypeScript blocks of the guides as programs, so a test can type-check and run them and the
 * docs cannot drift from the code. The blocks of one page form one program, in order (a later
 * block may use what an earlier one defined); their imports are hoisted, and the package's
 * specifiers (`tfjs-trust`, `tfjs-trust/node`, …) point at the source.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

export const ROOT = path.resolve(__dirname, '..', '..');

/** The pages whose blocks run: the README, getting started and every guide. */
export function documentedPages(): string[] {
  const guides = path.join(ROOT, 'docs', 'guides');
  const pages = fs.readdirSync(guides).filter((file) => file.endsWith('.md')).map((file) => path.join(guides, file));
  return [path.join(ROOT, 'README.md'), path.join(ROOT, 'docs', 'getting-started.md'), ...pages.sort()];
}

/** Where each public entry point of the package lives in the source. */
const ENTRY_POINTS: Record<string, string> = {
  'tfjs-trust': 'src/index',
  'tfjs-trust/node': 'src/node/index',
  'tfjs-trust/ham10000': 'src/ham10000/index',
  'tfjs-trust/wasm-training': 'src/backends/wasm_training',
};

export interface CodeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

const FENCE = /^```(\w*)[^\n]*\n([\s\S]*?)^```\s*$/gm;

export function typescriptBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  for (const match of markdown.matchAll(FENCE)) {
    if (['ts', 'typescript'].includes(match[1])) {
      blocks.push({ line: markdown.slice(0, match.index).split('\n').length, code: match[2] });
    }
  }
  return blocks;
}

/**
 * One CommonJS program: the blocks' imports (identical ones once), then their statements in an
 * async main, so top-level `await` works; a thrown error exits non-zero.
 */
export function programOf(blocks: CodeBlock[], page: string): string {
  const imports: string[] = [];
  const statements: string[] = [];
  for (const block of blocks) {
    const source = ts.createSourceFile('block.ts', block.code, ts.ScriptTarget.ES2022, true);
    statements.push(`  // ${path.relative(ROOT, page)}:${block.line}`);
    for (const statement of source.statements) {
      const text = statement.getText(source);
      if (ts.isImportDeclaration(statement)) {
        const rewritten = rewriteSpecifier(text, (statement.moduleSpecifier as ts.StringLiteral).text);
        if (!imports.includes(rewritten)) imports.push(rewritten);
      } else {
        statements.push(text.replace(/^/gm, '  '));
      }
    }
  }
  return [...imports, '', 'async function main(): Promise<void> {', ...statements, '}', '', 'main().catch((error: unknown) => {', '  console.error(error);', '  process.exit(1);', '});', ''].join('\n');
}

function rewriteSpecifier(importText: string, specifier: string): string {
  const entry = ENTRY_POINTS[specifier];
  return entry === undefined ? importText : importText.replace(`'${specifier}'`, `'${path.join(ROOT, entry)}'`);
}

/** Type errors of the programs (files already written), one message each, with file and line. */
export function typeErrors(files: string[]): string[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file !== undefined && files.includes(path.resolve(diagnostic.file.fileName)))
    .map((diagnostic) => {
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      return `${path.basename(diagnostic.file!.fileName)}:${line + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
}
