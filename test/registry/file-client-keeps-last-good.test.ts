import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { Registry as PromRegistry } from 'prom-client';
import {
  ConfigError,
  RegistryFormatError,
  RegistrySignatureError,
  RegistryVersionError,
} from '../../src/errors.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { writeFileAtomic } from '../../src/registry/files.ts';
import {
  FileRegistryClient,
  generateOperatorKeyPair,
  type OperatorKeyPair,
  type RegistryDocument,
  signRegistry,
  writeRegistryFile,
} from '../../src/registry/index.ts';
import {
  atVersion,
  documentWith,
  identities,
  metricValue,
  nextAdoption,
  nextRejection,
  tempDir,
} from './fixtures.ts';

describe('a running file client keeps its last good version', () => {
  let ids: NodeIdentity[];
  let doc: RegistryDocument;
  let operator: OperatorKeyPair;
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  let client: FileRegistryClient | undefined;

  before(async () => {
    ids = await identities(2);
    doc = documentWith([
      ['subnet-a', ids[0]!],
      ['subnet-b', ids[1]!],
    ]);
    operator = generateOperatorKeyPair();
  });
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    file = join(dir, 'registry.json');
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await cleanup();
  });

  const signed = (version: number) => signRegistry(atVersion(doc, version), operator.privateKeyPem);

  it('rejects a file over maxRegistryBytes without parsing it, and keeps the last good version', async () => {
    await writeRegistryFile(file, signed(5));
    client = await FileRegistryClient.open(file, {
      operatorPublicKey: operator.publicKeyPem,
      pollIntervalMs: 50,
      logger: silentLogger(),
      maxRegistryBytes: 64 * 1024,
    });
    const good = client.current();
    const rejection = nextRejection(client);
    await writeFileAtomic(file, `${JSON.stringify(signed(6))}${' '.repeat(64 * 1024)}`);
    const r = await rejection;
    assert.equal(r.reason, 'malformed');
    assert.ok(r.error instanceof RegistryFormatError);
    assert.match(r.error.message, /more than the limit of 65536/);
    assert.equal(client.current(), good);
  });

  it('rejects malformed, unsigned, badly signed, older and unreadable files, then adopts a good one', async () => {
    await writeRegistryFile(file, signed(5));
    const metrics = new PromRegistry();
    client = await FileRegistryClient.open(file, {
      operatorPublicKey: operator.publicKeyPem,
      pollIntervalMs: 50,
      logger: silentLogger(),
      metrics,
    });
    const adopted: number[] = [];
    client.subscribe((registry) => adopted.push(registry.version));
    const good = client.current();

    // Every write is atomic, so each gives exactly one verdict; wait for it.
    const verdict = async (write: () => Promise<void>) => {
      const rejection = nextRejection(client!);
      await write();
      return rejection;
    };

    const malformed = await verdict(() =>
      writeFileAtomic(file, '{"format": "subnet-p2p-registry/1", "vers'),
    );
    assert.equal(malformed.reason, 'malformed');
    assert.ok(malformed.error instanceof RegistryFormatError);

    const badAddress = await verdict(() => {
      const text = JSON.stringify(signed(6)).replace('127.0.0.1:4100', '127.0.0.1:0');
      return writeFileAtomic(file, text);
    });
    assert.equal(badAddress.reason, 'malformed');
    assert.ok(badAddress.error instanceof RegistryFormatError);
    assert.equal(badAddress.error.field, `subnets.subnet-a.nodes.${ids[0]!.nodeId}.address`);

    const unsigned = await verdict(() => writeRegistryFile(file, atVersion(doc, 7)));
    assert.equal(unsigned.reason, 'unsigned');
    assert.ok(unsigned.error instanceof RegistrySignatureError);

    const tampered = await verdict(() => writeRegistryFile(file, { ...signed(8), version: 9 }));
    assert.equal(tampered.reason, 'bad_signature');

    const older = await verdict(() => writeRegistryFile(file, signed(4)));
    assert.equal(older.reason, 'not_newer');
    assert.ok(older.error instanceof RegistryVersionError);

    const missing = await verdict(() => rm(file));
    assert.equal(missing.reason, 'unreadable');
    assert.ok(missing.error instanceof ConfigError);

    assert.equal(client.current(), good, 'the last good version is kept');
    assert.deepEqual(adopted, []);
    const rejected = (reason: string) =>
      metricValue(metrics, 'subnet_p2p_registry_updates_rejected_total', { reason });
    assert.equal(await rejected('malformed'), 2);
    assert.equal(await rejected('unsigned'), 1);
    assert.equal(await rejected('bad_signature'), 1);
    assert.equal(await rejected('not_newer'), 1);
    assert.equal(await rejected('unreadable'), 1);
    assert.equal(await metricValue(metrics, 'subnet_p2p_registry_version'), 5);

    const adoption = nextAdoption(client);
    await writeRegistryFile(file, signed(10));
    assert.equal((await adoption).version, 10);
    assert.deepEqual(adopted, [10]);
  });

  it('reports a bad file once, not at every poll', async () => {
    await writeRegistryFile(file, doc);
    const metrics = new PromRegistry();
    client = await FileRegistryClient.open(file, {
      pollIntervalMs: 50,
      logger: silentLogger(),
      metrics,
    });
    const rejection = nextRejection(client);
    await writeFileAtomic(file, 'not json');
    assert.equal((await rejection).reason, 'malformed');
    // Further checks see the same file: no new verdict.
    assert.equal(await client.checkNow(), undefined);
    assert.equal(await client.checkNow(), undefined);
    assert.equal(
      await metricValue(metrics, 'subnet_p2p_registry_updates_rejected_total', {
        reason: 'malformed',
      }),
      1,
    );
  });

  it('survives a subscriber that throws', async () => {
    await writeRegistryFile(file, doc);
    client = await FileRegistryClient.open(file, { pollIntervalMs: 50, logger: silentLogger() });
    client.subscribe(() => {
      throw new Error('subscriber bug');
    });
    let adoption = nextAdoption(client);
    await writeRegistryFile(file, atVersion(doc, 3));
    assert.equal((await adoption).version, 3);
    adoption = nextAdoption(client);
    await writeRegistryFile(file, atVersion(doc, 4));
    assert.equal((await adoption).version, 4);
  });
});
