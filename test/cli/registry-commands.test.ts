import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { parseRegistry } from '../../src/registry/index.ts';
import { ok, registryLab } from './registry-lab.ts';
import { type CliRun, isCleanError, runCli } from './run-cli.ts';

interface ShowJson {
  version: number;
  signed: boolean;
  signature: { key: string; checkedAgainst: string } | null;
  subnets: Record<string, { nodeId: string; address: string }[]>;
}

function failed(run: CliRun, message: RegExp): void {
  assert.equal(run.status, 1, `expected exit 1, got ${run.status}: ${run.stdout}${run.stderr}`);
  assert.ok(isCleanError(run), `expected one clean error line, got: ${run.stderr}`);
  assert.match(run.stderr, message);
}

describe('subnet-p2p registry commands, end to end', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  let nodes: NodeIdentity[];
  let certs: string[];
  let operatorKey: string;
  let operatorPub: string;

  before(async () => {
    ({ dir, cleanup, file, nodes, certs, operatorKey, operatorPub } = await registryLab(3));
  });
  after(() => cleanup());

  const show = async (...extra: string[]): Promise<ShowJson> =>
    JSON.parse(
      ok(await runCli(['registry', 'show', '--file', file, '--json', ...extra])),
    ) as ShowJson;

  it('init, add-node x3 in two subnets, remove-node, sign, show; every change bumps the version', async () => {
    ok(await runCli(['registry', 'init', '--file', file]));
    failed(
      await runCli(['registry', 'init', '--file', file]),
      /refusing to overwrite existing registry/,
    );
    assert.equal((await show()).version, 0);

    const placements: [string, string][] = [
      ['subnet-a', '127.0.0.1:4101'],
      ['subnet-a', '127.0.0.1:4102'],
      ['subnet-b', '[::1]:4103'],
    ];
    for (const [i, [subnet, address]] of placements.entries()) {
      const out = ok(
        await runCli([
          'registry',
          'add-node',
          '--file',
          file,
          '--subnet',
          subnet,
          '--address',
          address,
          '--cert',
          certs[i]!,
        ]),
      );
      assert.equal(out, `${nodes[i]!.nodeId}\n`);
    }
    assert.equal((await show()).version, 3);

    const addAgain = (subnet: string, address: string) =>
      runCli([
        'registry',
        'add-node',
        '--file',
        file,
        '--subnet',
        subnet,
        '--address',
        address,
        '--cert',
        certs[0]!,
      ]);
    failed(await addAgain('subnet-b', '127.0.0.1:4109'), /already in subnet 'subnet-a'/);
    failed(await addAgain('subnet-c', '127.0.0.1:99999'), /bad address/);
    assert.equal((await show()).version, 3, 'refused edits change nothing');

    ok(await runCli(['registry', 'remove-node', '--file', file, '--node', nodes[1]!.nodeId]));
    failed(
      await runCli(['registry', 'remove-node', '--file', file, '--node', nodes[1]!.nodeId]),
      /not in the registry/,
    );
    assert.equal((await show()).version, 4);

    failed(
      await runCli(['registry', 'show', '--file', file, '--public-key', operatorPub]),
      /not signed/,
    );
    ok(await runCli(['registry', 'sign', '--file', file, '--key', operatorKey]));
    const signed = await show('--public-key', operatorPub);
    assert.equal(signed.version, 4, 'signing does not bump the version');
    assert.equal(signed.signed, true);
    assert.equal(signed.signature?.checkedAgainst, 'operator-key');
    assert.deepEqual(signed.subnets, {
      'subnet-a': [{ nodeId: nodes[0]!.nodeId, address: '127.0.0.1:4101' }],
      'subnet-b': [{ nodeId: nodes[2]!.nodeId, address: '[::1]:4103' }],
    });

    const text = ok(
      await runCli(['registry', 'show', '--file', file, '--public-key', operatorPub]),
    );
    assert.match(text, /^version: +4$/m);
    assert.match(text, /^signature: valid, by the operator key sha256:[0-9a-f]{16}$/m);
    assert.match(
      text,
      new RegExp(`^subnet subnet-a: 1 node\\n  ${nodes[0]!.nodeId}  127\\.0\\.0\\.1:4101$`, 'm'),
    );
    assert.match(text, new RegExp(`^  ${nodes[2]!.nodeId}  \\[::1\\]:4103$`, 'm'));
  });

  it('writes a file that the library accepts with the operator key', async () => {
    const registry = parseRegistry(await readFile(file, 'utf8'), {
      operatorPublicKey: await readFile(operatorPub, 'utf8'),
    });
    assert.equal(registry.version, 4);
    assert.equal(registry.signed, true);
    assert.equal(registry.nodes.size, 2);
  });

  it('the next edit without --key drops the signature and bumps the version, in --out', async () => {
    // A signed registry is never replaced by an unsigned version (registry-sign-in-one-step).
    const next = join(dir, 'next.json');
    ok(
      await runCli([
        ...['registry', 'add-node', '--file', file, '--out', next, '--subnet', 'subnet-b'],
        ...['--address', 'node2.example.org:4102', '--cert', certs[1]!],
      ]),
    );
    const after = JSON.parse(
      ok(await runCli(['registry', 'show', '--file', next, '--json'])),
    ) as ShowJson;
    assert.equal(after.version, 5);
    assert.equal(after.signed, false);
    assert.equal(after.signature, null);
    assert.equal((await show()).version, 4, '--file is left as it was');
  });

  it('show names the offending field of a malformed file, without a stack trace', async () => {
    const bad = join(dir, 'bad.json');
    const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(bad, JSON.stringify({ ...doc, version: -3 }));
    failed(
      await runCli(['registry', 'show', '--file', bad]),
      /^error: invalid registry field 'version'/,
    );
    failed(
      await runCli(['registry', 'show', '--file', join(dir, 'missing.json')]),
      /cannot read registry file/,
    );
  });

  it('exits 2 on usage errors', async () => {
    assert.equal((await runCli(['registry', 'add-node', '--file', file])).status, 2);
    assert.equal((await runCli(['registry', 'frobnicate'])).status, 2);
  });
});
