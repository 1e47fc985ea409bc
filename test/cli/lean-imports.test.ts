// The report stack (vega, vega-lite, @resvg/resvg-js, dejavu-fonts-ttf: about 40 MB, optional)
// is loaded only for a report or a chart: not by the library entry, not by the CLI at start.
// A module hook in the child process refuses to resolve anything inside those packages, so an
// import of one of them anywhere below an entry point makes that entry point fail to load.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeModuleHook } from '../helpers/module-hook.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

/** Resolved URLs (ESM) or paths (CJS) inside the report stack's packages. */
const REPORT_STACK = String.raw`[\\/]node_modules[\\/](vega[^\\/]*|@resvg[\\/][^\\/]+|dejavu-fonts-ttf)[\\/]`;

const HOOK = `
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (new RegExp(${JSON.stringify(REPORT_STACK)}).test(resolved.url)) {
    throw new Error('report stack loaded: ' + resolved.url + ' from ' + context.parentURL);
  }
  return resolved;
}
`;

/** What an entry point must not have loaded through require() (CJS), checked after it. */
const CHECK_CJS = `
const { createRequire } = await import('node:module');
const cache = Object.keys(createRequire(process.cwd() + '/').cache);
const loaded = cache.filter((f) => new RegExp(${JSON.stringify(REPORT_STACK)}).test(f));
if (loaded.length > 0) throw new Error('report stack loaded: ' + loaded.join(', '));
`;

describe('lean imports: the report stack is not loaded at start', () => {
  let dir: string;
  let guard: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lean-imports-'));
    guard = writeModuleHook(dir, HOOK);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs node with tsx and the guard, from the repository's root. */
  function node(args: string[]) {
    return spawnSync(process.execPath, ['--import', 'tsx', '--import', guard, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  /** Imports each module in one process, then checks the CommonJS modules loaded. */
  function importAll(modules: string[]) {
    const imports = modules.map((m) => `await import(${JSON.stringify(`./${m}`)});`).join('\n');
    return node(['--input-type=module', '-e', `${imports}\n${CHECK_CJS}`]);
  }

  it('the library entry and the CLI import without it', () => {
    const run = importAll(['src/index.ts', 'src/cli/main.ts', 'src/sim/index.ts']);
    assert.equal(run.status, 0, run.stderr);
  });

  it('subnet-p2p --version and sim --help run without it', () => {
    const v = node(['src/cli/main.ts', '--version']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `${version}\n`);
    const help = node(['src/cli/main.ts', 'sim', '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--report <dir>/);
  });

  it('the guard catches the report stack when something does load it (control)', () => {
    const run = importAll(['src/sim/report.ts']);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /report stack loaded: \S+node_modules\/(vega|@resvg|dejavu)/);
  });
});
