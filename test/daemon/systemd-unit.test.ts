// The shipped systemd unit, deploy/subnet-p2p.service, passes `systemd-analyze verify` without a
// single warning (an unknown or misspelt setting is only a warning there). ExecStart names
// /usr/local/bin/subnet-p2p, which verify requires to exist: the check runs on a copy whose
// ExecStart runs this checkout's CLI with this Node instead.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeTempDir, runGroup, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { onPath } from './lifecycle-helpers.ts';

const UNIT = fileURLToPath(new URL('../../deploy/subnet-p2p.service', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/subnet-p2p.js', import.meta.url));
const INSTALLED = '/usr/local/bin/subnet-p2p';

const analyze = onPath('systemd-analyze');

describe('deploy/subnet-p2p.service', { timeout: slow(60_000) }, () => {
  let dir: string;
  let text: string;

  before(async () => {
    dir = await tempDir('subnet-p2p-unit-');
    text = await readFile(UNIT, 'utf8');
  });
  after(() => removeTempDir(dir));

  it('is a hardened notify service that reloads with SIGHUP', () => {
    const settings = new Map(
      text
        .split('\n')
        .filter((l) => /^[A-Z][A-Za-z]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    const want: Record<string, string> = {
      Type: 'notify',
      NotifyAccess: 'all',
      ExecStart: `${INSTALLED} node --config /etc/subnet-p2p/node.json`,
      ExecReload: '/bin/kill -HUP $MAINPID',
      Restart: 'on-failure',
      RestartPreventExitStatus: '2',
      User: 'subnet-p2p',
      StateDirectory: 'subnet-p2p',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      NoNewPrivileges: 'yes',
      PrivateTmp: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
    };
    for (const [key, value] of Object.entries(want)) assert.equal(settings.get(key), value, key);
    assert.ok(Number(settings.get('LimitNOFILE')) >= 65536);
    // V8 needs writable code pages: this setting would stop the node at its first JIT.
    assert.equal(settings.has('MemoryDenyWriteExecute'), false);
  });

  it('passes systemd-analyze verify without a warning', {
    skip: analyze === undefined && 'systemd-analyze is not installed here',
  }, async () => {
    assert.ok(text.includes(`ExecStart=${INSTALLED} `));
    const copy = join(dir, 'subnet-p2p.service');
    await writeFile(
      copy,
      text.replace(`ExecStart=${INSTALLED} `, `ExecStart=${process.execPath} ${BIN} `),
    );
    const run = await runGroup(analyze!, ['verify', copy], { timeoutMs: slow(30_000) });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, '');
  });

  it('and fails it for a unit with a misspelt setting (the check can fail)', {
    skip: analyze === undefined && 'systemd-analyze is not installed here',
  }, async () => {
    const copy = join(dir, 'bad', 'subnet-p2p.service');
    await mkdir(join(dir, 'bad'));
    const bad = text
      .replace(`ExecStart=${INSTALLED} `, `ExecStart=${process.execPath} ${BIN} `)
      .replace('ProtectHome=yes', 'ProtectHomes=yes');
    await writeFile(copy, bad);
    const run = await runGroup(analyze!, ['verify', copy], { timeoutMs: slow(30_000) });
    assert.match(run.stderr, /Unknown key 'ProtectHomes'/);
  });
});
