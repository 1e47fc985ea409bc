// `subnet-p2p node` with a bad config, as a real process: exit code 2 and one error line that
// names the field.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { cli, cliOk, writeConfig } from './helpers.ts';

describe('subnet-p2p node with a bad config', { timeout: slow(60_000), concurrency: 2 }, () => {
  let dir: string;
  let good: Record<string, unknown>;

  before(async () => {
    dir = await tempDir('subnet-p2p-badconfig-');
    await cliOk(['keygen', '--out', join(dir, 'node1')]);
    await cliOk(['registry', 'init', '--file', join(dir, 'registry.json')]);
    await writeFile(join(dir, 'garbage.json'), '{"format": 1');
    good = {
      identityDir: 'node1',
      registryFile: 'registry.json',
      subnet: 's1',
      listen: '127.0.0.1:0',
      api: '127.0.0.1:0',
    };
  });
  after(() => removeTempDir(dir));

  const cases: [string, () => Record<string, unknown>, string][] = [
    ['a missing field', () => ({ ...good, subnet: undefined }), 'subnet'],
    ['a bad address', () => ({ ...good, listen: 'nowhere' }), 'listen'],
    ['an unknown setting', () => ({ ...good, apiPort: 80 }), 'apiPort'],
    [
      'a bad channel setting',
      () => ({ ...good, channels: { ingress: { lane: 'fast' } } }),
      'channels.ingress.lane',
    ],
    [
      'an artifact size no message can carry',
      () => ({ ...good, channels: { ingress: { maxArtifactBytes: 2 ** 40, chunking: null } } }),
      'channels.ingress.maxArtifactBytes',
    ],
    [
      'an artifact size no manifest can describe',
      () => ({ ...good, channels: { ingress: { maxArtifactBytes: 2 ** 40 } } }),
      'channels.ingress.maxArtifactBytes',
    ],
    [
      'a bad chunking setting',
      () => ({ ...good, channels: { ingress: { chunking: { chunkBytes: -1 } } } }),
      'channels.ingress.chunking.chunkBytes',
    ],
    ['an identity folder without keys', () => ({ ...good, identityDir: '.' }), 'identityDir'],
    ['a missing registry file', () => ({ ...good, registryFile: 'nope.json' }), 'registryFile'],
    [
      'a malformed registry file',
      () => ({ ...good, registryFile: 'garbage.json' }),
      'registryFile',
    ],
    [
      'an unreadable operator key',
      () => ({ ...good, registryPublicKey: 'nope.pub' }),
      'registryPublicKey',
    ],
  ];

  for (const [i, [what, config, field]] of cases.entries()) {
    it(`${what}: exit 2, naming '${field}'`, async () => {
      // One file per case: two cases may name the same field, and they run two at a time.
      const path = await writeConfig(dir, `case${i}-${field.replaceAll('.', '-')}`, config());
      const run = await cli(['node', '--config', path]);
      assert.equal(run.status, 2, `${run.stdout}${run.stderr}`);
      assert.match(run.stderr, new RegExp(`^error: invalid config field '${field}': .+\\n$`));
    });
  }

  it('a config file that is not JSON: exit 2, naming config', async () => {
    const run = await cli(['node', '--config', join(dir, 'garbage.json')]);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^error: invalid config field 'config': .*not valid JSON/);
  });
});
