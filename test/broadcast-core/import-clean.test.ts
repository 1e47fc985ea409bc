/**
 * The protocol core is import-clean: importing it loads no module that does I/O or keeps
 * process-wide state (node:net, tls, http, fs, ..., prom-client), so it runs anywhere a
 * deterministic state machine should (the simulator, a browser, a worker). Checked twice: on the
 * static import graph of the sources, and at run time, in a plain node process (no tsx, which
 * itself loads fs and net) that imports the core transpiled file by file, whose
 * `process.moduleLoadList` is compared with that of an empty module.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { loadedBy } from '../helpers/import-graph.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The core's entry module: what the driver and the simulator import. */
const CORE = join(ROOT, 'src/broadcast/core/core.ts');

/** Node built-ins the core must not load (as `node:x` or `x`). */
const FORBIDDEN_BUILTINS = [
  'net',
  'tls',
  'http',
  'https',
  'http2',
  'fs',
  'fs/promises',
  'dgram',
  'child_process',
  'cluster',
  'worker_threads',
];
/** Packages the core must not load. */
const FORBIDDEN_PACKAGES = ['prom-client', 'pino'];

function forbidden(specifier: string): boolean {
  const bare = specifier.replace(/^node:/, '');
  return (
    FORBIDDEN_BUILTINS.includes(bare) ||
    FORBIDDEN_PACKAGES.some((p) => specifier === p || specifier.startsWith(`${p}/`))
  );
}

/** The built-in modules (`NativeModule x`) a plain node process loads when it imports `file`. */
function nativeModulesLoading(file: string): Set<string> {
  const script =
    'await import(process.argv[1]); ' +
    "console.log(JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith('NativeModule '))))";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return new Set((JSON.parse(r.stdout) as string[]).map((m) => m.slice('NativeModule '.length)));
}

/**
 * The built-ins that importing `entry` adds to a bare node process: its modules are transpiled
 * one by one (types stripped, `.ts` imports rewritten to `.js`) into a folder inside the
 * repository (so that packages resolve from node_modules), then imported by plain node.
 */
async function builtinsAddedBy(entry: string): Promise<string[]> {
  const out = join(ROOT, 'node_modules', '.cache', `import-clean-${process.pid}`);
  try {
    for (const file of loadedBy(entry).files) {
      const { outputText } = ts.transpileModule(await readFile(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
          rewriteRelativeImportExtensions: true,
        },
      });
      const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'package.json'), '{ "type": "module" }');
    const empty = join(out, 'empty.js');
    writeFileSync(empty, 'export {};\n');
    const baseline = nativeModulesLoading(empty);
    const loaded = nativeModulesLoading(join(out, relative(ROOT, entry)).replace(/\.ts$/, '.js'));
    return [...loaded].filter((m) => !baseline.has(m)).sort();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const isForbiddenNative = (m: string) => FORBIDDEN_BUILTINS.includes(m);

describe('import-clean core', () => {
  it('imports no I/O module or metrics library, statically', () => {
    const { files, external } = loadedBy(CORE);
    const bad = [...external].filter(([spec]) => forbidden(spec));
    assert.deepEqual(
      bad.map(([spec, from]) => `${spec} (from ${relative(ROOT, from)})`),
      [],
      'the core imports a module that does I/O',
    );
    // The transport's socket layer is out of reach too (not only its built-ins).
    const transport = [...files].filter((f) =>
      /src\/transport\/(transport|link|index)\.ts$/.test(f),
    );
    assert.deepEqual(
      transport.map((f) => relative(ROOT, f)),
      [],
    );
  });

  it('loads no I/O built-in at run time', async () => {
    const added = await builtinsAddedBy(CORE);
    assert.deepEqual(added.filter(isForbiddenNative), [], `built-ins added: ${added.join(', ')}`);
  });

  it('would see them: the transport loads tls and net', async () => {
    const transport = join(ROOT, 'src/transport/transport.ts');
    assert.ok([...loadedBy(transport).external.keys()].some(forbidden));
    const added = await builtinsAddedBy(transport);
    assert.ok(added.includes('tls') && added.includes('net'), `added: ${added.join(', ')}`);
  });
});
