import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Registry as PromRegistry } from 'prom-client';
import { RegistryVersionError } from '../../src/errors.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import {
  addNode,
  generateOperatorKeyPair,
  InMemoryRegistryClient,
  initRegistry,
  type Registry,
  removeNode,
  signRegistry,
} from '../../src/registry/index.ts';
import { atVersion, documentWith, identities, metricValue } from './fixtures.ts';

describe('registry versions only grow', () => {
  let ids: NodeIdentity[];
  before(async () => {
    ids = await identities(3);
  });

  it('adopts strictly newer versions and ignores equal and lower ones', async () => {
    const metrics = new PromRegistry();
    const client = new InMemoryRegistryClient(undefined, { logger: silentLogger(), metrics });
    const seen: number[] = [];
    client.subscribe((registry: Registry) => seen.push(registry.version));
    const doc = documentWith([['subnet-a', ids[0]!]]);

    assert.equal(client.current(), undefined);
    assert.equal(client.publish(atVersion(doc, 5)).adopted, true);
    const equal = client.publish(atVersion(doc, 5));
    const lower = client.publish(atVersion(doc, 4));
    assert.equal(client.publish(atVersion(doc, 6)).adopted, true);
    const lowerAgain = client.publish(JSON.stringify(atVersion(doc, 0)));

    for (const result of [equal, lower, lowerAgain]) {
      assert.equal(result.adopted, false);
      assert.ok(!result.adopted && result.reason === 'not_newer');
      assert.ok(!result.adopted && result.error instanceof RegistryVersionError);
    }
    assert.deepEqual(seen, [5, 6]);
    assert.equal(client.current()?.version, 6);
    assert.equal(await metricValue(metrics, 'subnet_p2p_registry_version'), 6);
    assert.equal(await metricValue(metrics, 'subnet_p2p_registry_updates_adopted_total'), 2);
    assert.equal(
      await metricValue(metrics, 'subnet_p2p_registry_updates_rejected_total', {
        reason: 'not_newer',
      }),
      3,
    );
  });

  it('starts from an initial version and refuses anything not above it', () => {
    const doc = documentWith([['subnet-a', ids[0]!]]);
    const client = new InMemoryRegistryClient(atVersion(doc, 3), { logger: silentLogger() });
    assert.equal(client.current()?.version, 3);
    assert.equal(client.publish(atVersion(doc, 3)).adopted, false);
    assert.equal(client.publish(atVersion(doc, 4)).adopted, true);
  });

  it('every edit adds exactly one to the version and drops the signature; signing does not', () => {
    const operator = generateOperatorKeyPair();
    let doc = initRegistry();
    assert.equal(doc.version, 0);
    doc = addNode(doc, {
      subnet: 'subnet-a',
      address: '127.0.0.1:4100',
      certificatePem: ids[0]!.certificatePem,
    });
    assert.equal(doc.version, 1);
    doc = signRegistry(doc, operator.privateKeyPem);
    assert.equal(doc.version, 1);
    assert.ok(doc.signature);
    doc = addNode(doc, {
      subnet: 'subnet-b',
      address: '[::1]:4101',
      certificatePem: ids[1]!.certificatePem,
    });
    assert.equal(doc.version, 2);
    assert.equal(doc.signature, undefined);
    doc = removeNode(signRegistry(doc, operator.privateKeyPem), ids[0]!.nodeId);
    assert.equal(doc.version, 3);
    assert.equal(doc.signature, undefined);
  });
});
