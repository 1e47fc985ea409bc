import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadIdentity, parseNodeId } from '../../src/identity/index.ts';
import { loadOperatorPrivateKey, loadOperatorPublicKey } from '../../src/registry/index.ts';
import { tempDir } from '../registry/fixtures.ts';
import { isCleanError, runCli } from './run-cli.ts';

describe('subnet-p2p keygen', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(() => cleanup());

  it('writes a 0600 key and its certificate, prints the NodeId, and refuses to overwrite', async () => {
    const out = join(dir, 'node-1');
    const run = await runCli(['keygen', '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    const nodeId = parseNodeId(run.stdout.trimEnd());
    assert.equal(run.stdout, `${nodeId}\n`);
    assert.equal((await stat(join(out, 'node.key'))).mode & 0o777, 0o600);
    assert.equal((await loadIdentity(out)).nodeId, nodeId);

    const key = await readFile(join(out, 'node.key'), 'utf8');
    const again = await runCli(['keygen', '--out', out]);
    assert.equal(again.status, 1);
    assert.equal(again.stdout, '');
    assert.ok(isCleanError(again), again.stderr);
    assert.match(again.stderr, /refusing to overwrite existing key file .*node\.key/);
    assert.equal(await readFile(join(out, 'node.key'), 'utf8'), key, 'the key is untouched');
  });

  it('with --operator, writes operator.key (0600) and operator.pub, prints the public key path', async () => {
    const run = await runCli(['keygen', '--operator', '--out', dir]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `${join(dir, 'operator.pub')}\n`);
    assert.equal((await stat(join(dir, 'operator.key'))).mode & 0o777, 0o600);
    const publicKey = await loadOperatorPublicKey(join(dir, 'operator.pub'));
    const privateKey = await loadOperatorPrivateKey(join(dir, 'operator.key'));
    assert.equal(publicKey.asymmetricKeyType, 'ed25519');
    assert.equal(privateKey.asymmetricKeyType, 'ed25519');

    const again = await runCli(['keygen', '--operator', '--out', dir]);
    assert.equal(again.status, 1);
    assert.ok(isCleanError(again), again.stderr);
    assert.match(again.stderr, /refusing to overwrite existing key file .*operator\.key/);
  });

  it('exits 2 on a usage error', async () => {
    const run = await runCli(['keygen']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /required option '--out <dir>'/);
  });
});
