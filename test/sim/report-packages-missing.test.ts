// The report's chart packages (vega, vega-lite, @resvg/resvg-js, dejavu-fonts-ttf) are optional:
// when one is missing, `sim --report` and loadReport() fail with ERR_REPORT_UNAVAILABLE, saying
// what to install, never with a stack trace of ERR_MODULE_NOT_FOUND.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  loadReport,
  REPORT_INSTALL_COMMAND,
  type ReportModule,
  ReportUnavailableError,
} from '../../src/sim/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const INSTALL =
  'npm install vega@6.4.0 vega-lite@6.4.1 @resvg/resvg-js@2.6.2 dejavu-fonts-ttf@2.37.3';

/** An import that fails as Node's does for a module that is not there. */
function failing(code: string, message: string): () => Promise<ReportModule> {
  return () => Promise.reject(Object.assign(new Error(message), { code }));
}

describe('the report packages are optional', () => {
  it('names the missing package and the command that installs them all', async () => {
    assert.equal(REPORT_INSTALL_COMMAND, INSTALL);
    const cases: [string, string, string][] = [
      // ESM import of a package (vega, vega-lite, resvg from report.ts).
      [
        'ERR_MODULE_NOT_FOUND',
        "Cannot find package 'vega' imported from /app/node_modules/subnet-p2p/dist/sim/report.js",
        'vega',
      ],
      // CJS resolution of the font, and resvg's native binding for this platform.
      [
        'MODULE_NOT_FOUND',
        "Cannot find module 'dejavu-fonts-ttf/package.json'\nRequire stack:\n- /app/report.js",
        'dejavu-fonts-ttf',
      ],
      [
        'MODULE_NOT_FOUND',
        "Cannot find module '@resvg/resvg-js-linux-x64-gnu'",
        '@resvg/resvg-js-linux-x64-gnu',
      ],
    ];
    for (const [code, message, missing] of cases) {
      const err = await loadReport(failing(code, message)).then(
        () => assert.fail('loaded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ReportUnavailableError, String(err));
      assert.equal(err.code, 'ERR_REPORT_UNAVAILABLE');
      assert.equal(err.missing, missing);
      assert.ok(err.message.includes(`'${missing}' is not installed`), err.message);
      assert.ok(err.message.endsWith(`install them with: ${INSTALL}`), err.message);
      assert.equal((err.cause as Error).message, message, 'the original error is the cause');
    }
  });

  it('reads the error of a package that is really not installed', async () => {
    const absent = 'subnet-p2p-test-absent-package';
    const err = await loadReport(() => import(absent) as Promise<ReportModule>).then(
      () => assert.fail('loaded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ReportUnavailableError, String(err));
    assert.equal(err.missing, absent);
  });

  it('rethrows anything else as it is (a missing file of ours is a bug, not a package)', async () => {
    const ours = failing(
      'ERR_MODULE_NOT_FOUND',
      "Cannot find module '/app/dist/sim/stats.js' imported from /app/dist/sim/report.js",
    );
    await assert.rejects(loadReport(ours), (e: Error) => !(e instanceof ReportUnavailableError));
    const other = failing('ERR_INVALID_ARG_TYPE', 'something else');
    await assert.rejects(loadReport(other), { code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('loads the report module when the packages are there', async () => {
    const report = await loadReport();
    assert.equal(typeof report.writeReport, 'function');
    assert.equal(typeof report.renderSvg, 'function');
  });

  describe('sim --report without vega', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'sim-report-missing-'));
      // A module hook that makes `vega` missing, as Node reports a package that is not installed.
      writeFileSync(
        join(dir, 'hide-vega.mjs'),
        [
          'export async function resolve(specifier, context, next) {',
          "  if (specifier === 'vega') {",
          '    const err = new Error("Cannot find package \'vega\' imported from " + context.parentURL);',
          "    err.code = 'ERR_MODULE_NOT_FOUND';",
          '    throw err;',
          '  }',
          '  return next(specifier, context);',
          '}',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'register.mjs'),
        `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hide-vega.mjs')).href)});\n`,
      );
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('fails at once with one clean error line saying what to install', () => {
      const out = join(dir, 'report');
      const run = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '--import',
          pathToFileURL(join(dir, 'register.mjs')).href,
          'src/cli/main.ts',
          'sim',
          '--scenario',
          'steady',
          '--nodes',
          '3',
          '--load',
          '0.05',
          '--report',
          out,
        ],
        { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(run.status, 1, run.stderr);
      assert.equal(
        run.stderr,
        "error: charts need the optional packages vega, vega-lite, @resvg/resvg-js and dejavu-fonts-ttf ('vega' is not installed); " +
          `install them with: ${INSTALL}\n`,
      );
      assert.equal(run.stdout, '', 'it failed before running the scenario');
      assert.equal(existsSync(out), false);
    });
  });
});
