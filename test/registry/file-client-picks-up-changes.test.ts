import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { Registry as PromRegistry } from 'prom-client';
import {
  AbortError,
  ConfigError,
  RegistryFormatError,
  RegistrySignatureError,
} from '../../src/errors.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import {
  addNode,
  FileRegistryClient,
  generateOperatorKeyPair,
  membersOf,
  type RegistryDocument,
  removeNode,
  signRegistry,
  writeRegistryFile,
} from '../../src/registry/index.ts';
import { documentWith, identities, metricValue, nextAdoption, tempDir } from './fixtures.ts';

describe('the file registry client picks up a changed file', () => {
  let ids: NodeIdentity[];
  let doc: RegistryDocument;
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  const clients: FileRegistryClient[] = [];

  before(async () => {
    ids = await identities(3);
    doc = documentWith([
      ['subnet-a', ids[0]!],
      ['subnet-a', ids[1]!],
    ]);
  });
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    file = join(dir, 'registry.json');
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await cleanup();
  });

  async function open(
    options: Parameters<typeof FileRegistryClient.open>[1] = {},
  ): Promise<FileRegistryClient> {
    const client = await FileRegistryClient.open(file, {
      pollIntervalMs: 50,
      logger: silentLogger(),
      ...options,
    });
    clients.push(client);
    return client;
  }

  it('reads the file at start, then adopts each newer version written to it', async () => {
    await writeRegistryFile(file, doc);
    const metrics = new PromRegistry();
    const client = await open({ metrics });
    assert.equal(client.current().version, 2);
    assert.equal(await metricValue(metrics, 'subnet_p2p_registry_version'), 2);

    const added = addNode(doc, {
      subnet: 'subnet-b',
      address: 'node3.example.org:4102',
      certificatePem: ids[2]!.certificatePem,
    });
    let adoption = nextAdoption(client);
    await writeRegistryFile(file, added);
    let registry = await adoption;
    assert.equal(registry.version, 3);
    assert.equal(client.current(), registry);
    assert.deepEqual(
      membersOf(registry, 'subnet-b').map((n) => n.address),
      ['node3.example.org:4102'],
    );

    adoption = nextAdoption(client);
    await writeRegistryFile(file, removeNode(added, ids[0]!.nodeId));
    registry = await adoption;
    assert.equal(registry.version, 4);
    assert.equal(registry.nodes.has(ids[0]!.nodeId), false);
    assert.equal(await metricValue(metrics, 'subnet_p2p_registry_version'), 4);
    assert.equal(await metricValue(metrics, 'subnet_p2p_registry_updates_adopted_total'), 3);
  });

  it('also notices a file rewritten in place', async () => {
    await writeRegistryFile(file, doc);
    const client = await open();
    const adoption = nextAdoption(client);
    await writeFile(file, JSON.stringify({ ...doc, version: 7 }));
    assert.equal((await adoption).version, 7);
  });

  it('with an operator key, adopts signed versions', async () => {
    const operator = generateOperatorKeyPair();
    await writeRegistryFile(file, signRegistry(doc, operator.privateKeyPem));
    const client = await open({ operatorPublicKey: operator.publicKeyPem });
    assert.equal(client.current().signed, true);
    const adoption = nextAdoption(client);
    await writeRegistryFile(file, signRegistry({ ...doc, version: 3 }, operator.privateKeyPem));
    assert.equal((await adoption).version, 3);
  });

  it('refuses to start on a missing, malformed or unsigned file', async () => {
    await assert.rejects(open(), (err) => err instanceof ConfigError && /ENOENT/.test(err.message));
    await writeFile(file, JSON.stringify({ ...doc, version: 'one' }));
    await assert.rejects(
      open(),
      (err) => err instanceof RegistryFormatError && err.field === 'version',
    );
    await writeRegistryFile(file, doc);
    const operator = generateOperatorKeyPair();
    await assert.rejects(
      open({ operatorPublicKey: operator.publicKeyPem }),
      RegistrySignatureError,
    );
    const aborted = AbortSignal.abort();
    await assert.rejects(open({ signal: aborted }), AbortError);
    await assert.rejects(open({ pollIntervalMs: 0 }), ConfigError);
  });

  it('stops polling when closed or aborted', async () => {
    await writeRegistryFile(file, doc);
    const controller = new AbortController();
    const client = await open({ signal: controller.signal });
    controller.abort();
    await client.close();
    await writeRegistryFile(file, { ...doc, version: 9 });
    assert.equal(await client.checkNow(), undefined);
    assert.equal(client.current().version, 2);
  });
});
