// `registry add-node` and `remove-node` sign in the same step (`--key`) and write atomically:
// no unsigned version is ever published in place of a signed registry, and a reader never sees
// part of a file.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { addNodeCommand, removeNodeCommand } from '../../src/cli/registry-actions.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { parseRegistry } from '../../src/registry/index.ts';
import { ok, registryLab } from './registry-lab.ts';
import { isCleanError, runCli } from './run-cli.ts';

describe('registry add-node and remove-node with --key, --out, or neither', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  let nodes: NodeIdentity[];
  let certs: string[];
  let operatorKey: string;
  let operatorPub: string;
  let publicKey: string;

  before(async () => {
    ({ dir, cleanup, file, nodes, certs, operatorKey, operatorPub } = await registryLab(2));
    publicKey = await readFile(operatorPub, 'utf8');
    ok(await runCli(['registry', 'init', '--file', file]));
  });
  after(() => cleanup());

  const addNode = (i: number, ...extra: string[]) =>
    runCli([
      ...['registry', 'add-node', '--file', file, '--subnet', 's1'],
      ...['--address', `127.0.0.1:${4101 + i}`, '--cert', certs[i]!, ...extra],
    ]);
  /** The file as the library reads it, its signature checked against the operator key. */
  const verified = async (path = file) =>
    parseRegistry(await readFile(path, 'utf8'), { operatorPublicKey: publicKey });

  it('add-node --key writes a new version that verifies against the operator key', async () => {
    // The file from init is unsigned: an unsigned edit in place replaces no signed version.
    assert.equal(ok(await addNode(0)), `${nodes[0]!.nodeId}\n`);
    assert.equal(ok(await addNode(1, '--key', operatorKey)), `${nodes[1]!.nodeId}\n`);
    const registry = await verified();
    assert.equal(registry.version, 2);
    assert.equal(registry.signed, true);
    assert.equal(registry.nodes.size, 2);
    ok(await runCli(['registry', 'show', '--file', file, '--public-key', operatorPub]));
  });

  it('without --key, an edit of a signed registry is refused and changes nothing', async () => {
    const before = await readFile(file, 'utf8');
    const remove = (...extra: string[]) =>
      runCli(['registry', 'remove-node', '--file', file, '--node', nodes[1]!.nodeId, ...extra]);
    for (const run of [await remove(), await remove('--out', file)]) {
      assert.equal(run.status, 1, run.stderr);
      assert.ok(isCleanError(run), run.stderr);
      assert.match(run.stderr, /holds a signed registry.*--key <operator\.key>.*--out <file>/);
    }
    assert.equal(await readFile(file, 'utf8'), before, 'the signed file is untouched');
    // --out elsewhere: the unsigned version goes there, for signing later.
    const next = join(dir, 'next.json');
    ok(await remove('--out', next));
    assert.equal(await readFile(file, 'utf8'), before);
    const unsigned = parseRegistry(await readFile(next, 'utf8'));
    assert.equal(unsigned.version, 3);
    assert.equal(unsigned.signed, false);
    // ... but not over another signed file.
    const other = join(dir, 'other.json');
    ok(
      await runCli([
        'registry',
        'remove-node',
        '--file',
        file,
        '--node',
        nodes[1]!.nodeId,
        '--key',
        operatorKey,
        '--out',
        other,
      ]),
    );
    assert.equal((await verified(other)).version, 3);
    const refused = await addNode(1, '--file', next, '--out', other);
    assert.equal(refused.status, 1, refused.stderr);
    assert.equal((await verified(other)).version, 3);
  });

  it('remove-node --key signs too; a bad key changes nothing', async () => {
    const before = await readFile(file, 'utf8');
    const bad = await runCli([
      ...['registry', 'remove-node', '--file', file, '--node', nodes[1]!.nodeId],
      ...['--key', join(dir, 'missing.key')],
    ]);
    assert.equal(bad.status, 1, bad.stderr);
    assert.ok(isCleanError(bad), bad.stderr);
    assert.equal(await readFile(file, 'utf8'), before);
    ok(
      await runCli([
        ...['registry', 'remove-node', '--file', file, '--node', nodes[1]!.nodeId],
        ...['--key', operatorKey],
      ]),
    );
    const registry = await verified();
    assert.equal(registry.version, 3);
    assert.equal(registry.signed, true);
    assert.deepEqual([...registry.nodes.keys()], [nodes[0]!.nodeId]);
  });

  it('a reader polling the file during 50 signed edits only ever sees whole, signed versions', async () => {
    const start = (await verified()).version;
    const stop = new SharedArrayBuffer(4);
    const worker = new Worker(new URL('./registry-reader.mjs', import.meta.url), {
      workerData: { file, publicKey, stop },
      execArgv: [],
    });
    const ready = once(worker, 'message');
    try {
      await ready;
      const io = { stdout: () => {}, stderr: () => {} };
      const options = { file, key: operatorKey };
      for (let i = 0; i < 50; i++) {
        if (i % 2 === 0) {
          await addNodeCommand(
            { ...options, subnet: 's1', address: '127.0.0.1:4102', cert: certs[1]! },
            io,
          );
        } else {
          await removeNodeCommand({ ...options, node: nodes[1]!.nodeId });
        }
      }
      const report = once(worker, 'message');
      Atomics.store(new Int32Array(stop), 0, 1);
      const [{ reads, versions, failures, failed }] = (await report) as [
        {
          reads: number;
          versions: number[];
          failures: string[];
          failed: number;
        },
      ];
      assert.equal(failed, 0, `the reader saw ${failed} bad reads, e.g. ${failures.join('; ')}`);
      assert.equal(versions.at(-1), start + 50, 'the reader saw the last version');
      assert.ok(versions.length > 1, `the reader read during the writes (${reads} reads)`);
      assert.equal((await verified()).version, start + 50);
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
      await worker.terminate();
    }
  });
});
