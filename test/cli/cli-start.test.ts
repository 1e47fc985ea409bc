// The CLI starts at once because it loads only what the command run needs: `--version` and
// `--help` load commander and no other package (each command imports its implementation when it
// runs). Checked on the installed form, bin/subnet-p2p.js -> dist/ (built by npm test), with a
// module hook in the child that records every package resolved.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeModuleHook } from '../helpers/module-hook.ts';

const BIN = fileURLToPath(new URL('../../bin/subnet-p2p.js', import.meta.url));

const HOOK = `
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const pkg = /[\\\\/]node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(resolved.url);
  if (pkg) process.stderr.write('package: ' + pkg[1] + '\\n');
  return resolved;
}
`;

describe('the CLI loads only what the command needs', () => {
  let dir: string;
  let recorder: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'subnet-p2p-cli-start-'));
    recorder = writeModuleHook(dir, HOOK);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The packages `subnet-p2p ...args` resolved (ESM imports; CommonJS requires add none here). */
  function packagesOf(args: string[]): string[] {
    const run = spawnSync(process.execPath, ['--import', recorder, BIN, ...args], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 0, run.stderr);
    const names = [...run.stderr.matchAll(/^package: (\S+)$/gm)].map((m) => m[1]!);
    return [...new Set(names)].sort();
  }

  it('--version and --help load commander only', () => {
    assert.deepEqual(packagesOf(['--version']), ['commander']);
    assert.deepEqual(packagesOf(['--help']), ['commander']);
    assert.deepEqual(packagesOf(['sim', '--help']), ['commander']);
  });

  it('keygen loads the identity and registry modules, not the node, daemon or simulator', () => {
    const loaded = packagesOf(['keygen', '--out', join(dir, 'keys')]);
    for (const pkg of ['pino', 'prom-client', 'protons-runtime']) {
      assert.ok(!loaded.includes(pkg), `${pkg} loaded by keygen: ${loaded.join(', ')}`);
    }
  });
});
