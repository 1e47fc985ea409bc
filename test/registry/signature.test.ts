import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { Registry as PromRegistry } from 'prom-client';
import { IdentityError, RegistrySignatureError } from '../../src/errors.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import {
  canonicalJson,
  generateOperatorKeyPair,
  InMemoryRegistryClient,
  type OperatorKeyPair,
  parseRegistry,
  type RegistryDocument,
  registrySigningBytes,
  signRegistry,
} from '../../src/registry/index.ts';
import { atVersion, documentWith, identities, metricValue } from './fixtures.ts';

function signatureError(fn: () => unknown): RegistrySignatureError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RegistrySignatureError, `expected RegistrySignatureError, got ${err}`);
    return err;
  }
  assert.fail('expected a RegistrySignatureError');
}

/** Rewrites the JSON with every object's keys in reverse order (same content). */
function reordered(value: unknown): unknown {
  if (Array.isArray(value) || typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).reverse();
  return Object.fromEntries(entries.map(([k, v]) => [k, reordered(v)]));
}

describe('registry signatures', () => {
  let ids: NodeIdentity[];
  let operator: OperatorKeyPair;
  let other: OperatorKeyPair;
  let doc: RegistryDocument;
  before(async () => {
    ids = await identities(2);
    operator = generateOperatorKeyPair();
    other = generateOperatorKeyPair();
    doc = documentWith([
      ['subnet-a', ids[0]!],
      ['subnet-b', ids[1]!],
    ]);
  });

  it('canonical JSON sorts keys recursively and has no whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [true, null], c: 'x' } }),
      '{"a":{"c":"x","d":[true,null]},"b":1}',
    );
  });

  it('signs the canonical JSON of the document without its signature', () => {
    const signed = signRegistry(doc, operator.privateKeyPem);
    const { signature, ...unsigned } = signed;
    assert.ok(signature);
    const bytes = Buffer.from(canonicalJson(unsigned), 'utf8');
    assert.deepEqual(registrySigningBytes(signed), bytes);
    const key = createPublicKey(operator.publicKeyPem);
    assert.ok(verify(null, bytes, key, Buffer.from(signature.value, 'base64')));
    assert.equal(
      signature.publicKey,
      key.export({ type: 'spki', format: 'der' }).toString('base64'),
    );
  });

  it('verifies with the operator key, whatever the key order and whitespace of the file', () => {
    const signed = signRegistry(doc, operator.privateKeyPem);
    const text = JSON.stringify(reordered(signed), null, 4);
    const registry = parseRegistry(text, { operatorPublicKey: operator.publicKeyPem });
    assert.equal(registry.signed, true);
    assert.equal(registry.version, doc.version);
  });

  it('refuses an unsigned document when an operator key is configured', () => {
    const err = signatureError(() =>
      parseRegistry(JSON.stringify(doc), { operatorPublicKey: operator.publicKeyPem }),
    );
    assert.match(err.message, /not signed/);
  });

  it('refuses a document changed after signing', () => {
    const signed = signRegistry(doc, operator.privateKeyPem);
    const tampered = { ...signed, version: signed.version + 1 };
    const err = signatureError(() =>
      parseRegistry(JSON.stringify(tampered), { operatorPublicKey: operator.publicKeyPem }),
    );
    assert.match(err.message, /does not verify/);
    // Without a configured key, a present signature must still verify (with its own key).
    signatureError(() => parseRegistry(JSON.stringify(tampered)));
  });

  it('refuses a document signed by another key than the configured one', () => {
    const signed = signRegistry(doc, other.privateKeyPem);
    const err = signatureError(() =>
      parseRegistry(JSON.stringify(signed), { operatorPublicKey: operator.publicKeyPem }),
    );
    assert.match(err.message, /not by the configured operator key/);
  });

  it('without a configured key, accepts unsigned documents (signed: false)', () => {
    assert.equal(parseRegistry(JSON.stringify(doc)).signed, false);
    const signed = signRegistry(doc, other.privateKeyPem);
    assert.equal(parseRegistry(JSON.stringify(signed)).signed, true);
  });

  it('refuses a configured key that is not an Ed25519 public key', () => {
    assert.throws(
      () => parseRegistry(JSON.stringify(doc), { operatorPublicKey: operator.privateKeyPem }),
      IdentityError,
    );
  });

  it('a client with a key rejects unsigned and badly signed versions, keeps the last good one', async () => {
    const metrics = new PromRegistry();
    const good = signRegistry(doc, operator.privateKeyPem);
    const client = new InMemoryRegistryClient(good, {
      operatorPublicKey: operator.publicKeyPem,
      logger: silentLogger(),
      metrics,
    });
    const adopted: number[] = [];
    client.subscribe((registry) => adopted.push(registry.version));

    const unsigned = client.publish(atVersion(doc, 10));
    const wrongKey = client.publish(signRegistry(atVersion(doc, 11), other.privateKeyPem));
    const tampered = client.publish({
      ...signRegistry(atVersion(doc, 12), operator.privateKeyPem),
      version: 13,
    });

    assert.deepEqual(
      [unsigned, wrongKey, tampered].map((r) => (r.adopted ? 'adopted' : r.reason)),
      ['unsigned', 'bad_signature', 'bad_signature'],
    );
    assert.deepEqual(adopted, []);
    assert.equal(client.current()?.version, doc.version);
    assert.equal(client.current()?.signed, true);
    const rejected = (reason: string) =>
      metricValue(metrics, 'subnet_p2p_registry_updates_rejected_total', { reason });
    assert.equal(await rejected('unsigned'), 1);
    assert.equal(await rejected('bad_signature'), 2);
    assert.equal(await metricValue(metrics, 'subnet_p2p_registry_version'), doc.version);

    const next = client.publish(signRegistry(atVersion(doc, 14), operator.privateKeyPem));
    assert.equal(next.adopted, true);
    assert.deepEqual(adopted, [14]);
  });
});
