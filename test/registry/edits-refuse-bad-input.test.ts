import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { RegistryEditError } from '../../src/errors.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import {
  addNode,
  initRegistry,
  membersOf,
  parseAddress,
  parseRegistry,
  peersOf,
  type RegistryDocument,
  readRegistryFile,
  removeNode,
  writeRegistryFile,
} from '../../src/registry/index.ts';
import { documentWith, identities, tempDir } from './fixtures.ts';

describe('registry edits', () => {
  let ids: NodeIdentity[];
  let doc: RegistryDocument;
  before(async () => {
    ids = await identities(4);
    doc = documentWith([
      ['subnet-a', ids[0]!],
      ['subnet-a', ids[1]!],
      ['subnet-b', ids[2]!],
    ]);
  });

  const add = (subnet: string, address: string, identity: NodeIdentity) =>
    addNode(doc, { subnet, address, certificatePem: identity.certificatePem });

  it('refuses a node already listed, in the same subnet or another', () => {
    assert.throws(() => add('subnet-a', '127.0.0.1:5000', ids[0]!), RegistryEditError);
    assert.throws(() => add('subnet-b', '127.0.0.1:5000', ids[0]!), /one subnet/);
  });

  it('refuses a bad subnet name, address or certificate', () => {
    assert.throws(() => add('Subnet A', '127.0.0.1:5000', ids[3]!), /subnet name/);
    assert.throws(() => add('subnet-c', '127.0.0.1', ids[3]!), /bad address/);
    assert.throws(
      () => addNode(doc, { subnet: 'subnet-c', address: '[::1]:1', certificatePem: 'x' }),
      /bad node certificate/,
    );
  });

  it('refuses to remove an unknown node, and drops a subnet left empty', () => {
    assert.throws(() => removeNode(doc, ids[3]!.nodeId), RegistryEditError);
    const removed = removeNode(doc, ids[2]!.nodeId);
    assert.deepEqual(Object.keys(removed.subnets), ['subnet-a']);
    assert.equal(removed.version, doc.version + 1);
  });

  it('does not change the document it is given', () => {
    const before = JSON.stringify(doc);
    add('subnet-c', '[::1]:5000', ids[3]!);
    removeNode(doc, ids[0]!.nodeId);
    assert.equal(JSON.stringify(doc), before);
  });

  it('builds a registry with sorted members and peers', () => {
    const registry = parseRegistry(JSON.stringify(add('subnet-b', '[::1]:4200', ids[3]!)));
    const members = membersOf(registry, 'subnet-b');
    assert.deepEqual(
      members.map((n) => n.nodeId),
      [ids[2]!.nodeId, ids[3]!.nodeId].sort(),
    );
    assert.deepEqual(
      registry.subnets.get(members[0]!.subnet),
      members.map((n) => n.nodeId),
    );
    assert.deepEqual(
      peersOf(registry, ids[3]!.nodeId).map((n) => n.nodeId),
      [ids[2]!.nodeId],
    );
    assert.deepEqual(membersOf(registry, 'no-such-subnet'), []);
    const record = registry.nodes.get(ids[3]!.nodeId)!;
    assert.deepEqual(record.certificateDer, ids[3]!.certificateDer);
    assert.deepEqual(parseAddress(record.address), { host: '::1', port: 4200 });
  });

  it('writes files atomically, leaves no temporary file, and init refuses to overwrite', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = join(dir, 'registry.json');
      await writeRegistryFile(file, initRegistry(), { exclusive: true });
      await assert.rejects(
        writeRegistryFile(file, initRegistry(), { exclusive: true }),
        RegistryEditError,
      );
      await writeRegistryFile(file, doc);
      assert.deepEqual(await readRegistryFile(file), doc);
      assert.deepEqual(await readdir(dir), ['registry.json']);
      assert.match(await readFile(file, 'utf8'), /^\{\n {2}"format": "subnet-p2p-registry\/1"/);
    } finally {
      await cleanup();
    }
  });
});
