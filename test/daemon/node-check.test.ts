// `subnet-p2p node --check --config F`: exit 0 and a summary for a good config, without starting
// anything or writing anything; exit 2 and the `error:` line naming the field for a config, or a
// file it names, that the node could not start with.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateOperatorKeyPair, writeOperatorKeyPair } from '../../src/registry/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { cli, writeConfig } from './helpers.ts';
import { type OneNode, oneSignedNode, unlist } from './lifecycle-helpers.ts';

describe('subnet-p2p node --check', { timeout: slow(60_000), concurrency: 2 }, () => {
  let dir: string;
  let node: OneNode;
  let good: Record<string, unknown>;

  before(async () => {
    dir = await tempDir('subnet-p2p-check-');
    node = await oneSignedNode(dir);
    // Another operator's key: the registry's signature does not verify with it.
    await writeOperatorKeyPair(join(dir, 'other-operator'), generateOperatorKeyPair());
    await writeFile(join(dir, 'garbage.json'), '{"identityDir": ');
    // The signed registry with its node's address changed afterwards.
    const text = await readFile(node.registryFile, 'utf8');
    assert.ok(text.includes(node.address));
    await writeFile(join(dir, 'tampered.json'), text.replace(node.address, '127.0.0.1:1'));
    await writeFile(join(dir, 'not-a-folder'), 'a file where dataDir should be');
    await mkdir(join(dir, 'unlisted'));
    good = {
      identityDir: 'node0',
      registryFile: 'registry.json',
      registryPublicKey: 'operator/operator.pub',
      subnet: 's1',
      listen: node.address,
      api: '127.0.0.1:4180',
    };
  });
  after(() => removeTempDir(dir));

  it('a good config: exit 0, a summary, and nothing started or written', async () => {
    const path = await writeConfig(dir, 'good', good);
    const run = await cli(['node', '--check', '--config', path]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^config ok: .*good\.json\n/);
    assert.match(run.stdout, new RegExp(`node +${node.identity.nodeId}\n`));
    assert.match(
      run.stdout,
      new RegExp(`subnet +s1, listed at ${node.address} in registry version 1\n`),
    );
    assert.match(run.stdout, /versions signed by operator key sha256:[0-9a-f]{16}/);
    assert.match(run.stdout, /api +http:\/\/127\.0\.0\.1:4180\n/);
    assert.match(run.stdout, /channels +consensus, ingress\n/);
    // The data folder the node would create is not created by the check.
    assert.equal(existsSync(join(dir, 'node0', 'data')), false);
  });

  it('a node its registry does not list: exit 0, saying it would exit', async () => {
    // A registry of its own, one version on, without the node.
    const sub = await oneSignedNode(join(dir, 'unlisted'));
    const version = await unlist(sub);
    const run = await cli(['node', '--check', '--config', sub.config]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`NOT listed in registry version ${version}: the node would exit 60000 ms after`),
    );
  });

  const cases: [string, () => Record<string, unknown> | string, string, RegExp][] = [
    ['a config that is not JSON', () => '{"subnet": "s1",', 'config', /not valid JSON/],
    ['an unknown setting', () => ({ ...good, logFromat: 'pretty' }), 'logFromat', /not a known/],
    ['a bad log format', () => ({ ...good, logFormat: 'xml' }), 'logFormat', /Invalid enum/],
    [
      'a missing identity',
      () => ({ ...good, identityDir: 'nowhere' }),
      'identityDir',
      /cannot read/,
    ],
    [
      "a registry that another operator's key does not verify",
      () => ({ ...good, registryPublicKey: 'other-operator/operator.pub' }),
      'registryFile',
      /is signed by key sha256:[0-9a-f]{16}, not by the configured operator key/,
    ],
    [
      'a registry changed after it was signed',
      () => ({ ...good, registryFile: 'tampered.json' }),
      'registryFile',
      /signature/i,
    ],
    [
      'a registry that is not one',
      () => ({ ...good, registryFile: 'garbage.json' }),
      'registryFile',
      /./,
    ],
    [
      'a missing operator key',
      () => ({ ...good, registryPublicKey: 'op.pub' }),
      'registryPublicKey',
      /./,
    ],
    [
      'a data folder that is a file',
      () => ({ ...good, dataDir: 'not-a-folder' }),
      'dataDir',
      /is not a folder/,
    ],
    [
      'a data folder under a file',
      () => ({ ...good, dataDir: 'not-a-folder/data' }),
      'dataDir',
      /is not a folder/,
    ],
    [
      'an API token file that does not exist',
      () => ({ ...good, apiTokenFile: 'no-token' }),
      'apiTokenFile',
      /cannot read .*no-token \(ENOENT\)/,
    ],
    [
      'API TLS files that do not exist',
      () => ({ ...good, apiTls: { cert: 'api.crt', key: 'api.key' } }),
      'apiTls.cert',
      /cannot read .*api\.crt \(ENOENT\)/,
    ],
    [
      'API TLS files that are not PEM',
      () => ({ ...good, apiTls: { cert: 'garbage.json', key: 'garbage.json' } }),
      'apiTls',
      /not a usable certificate and key/,
    ],
  ];

  for (const [i, [what, config, field, problem]] of cases.entries()) {
    it(`${what}: exit 2, naming '${field}'`, async () => {
      const c = config();
      const path =
        typeof c === 'string' ? join(dir, `case${i}.json`) : await writeConfig(dir, `case${i}`, c);
      if (typeof c === 'string') await writeFile(path, c);
      const run = await cli(['node', '--check', '--config', path]);
      assert.equal(run.status, 2, `${run.stdout}${run.stderr}`);
      assert.equal(run.stdout, '');
      const line = new RegExp(
        `^error: invalid config field '${field.replaceAll('.', '\\.')}[.a-z]*': (.+)\\n$`,
      );
      const m = line.exec(run.stderr);
      assert.ok(m, run.stderr);
      assert.match(m[1]!, problem);
    });
  }
});
