import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { IdentityError } from '../../src/errors.ts';
import {
  generateIdentity,
  identityFromPem,
  nodeIdFromPublicKeyDer,
  parseNodeCertificate,
  parseNodeId,
} from '../../src/identity/index.ts';
import { principalToText } from '../../src/identity/node-id.ts';
import { forgedCertificate } from '../helpers/raw-peer.ts';

describe('NodeIds and node certificates', () => {
  it('derives the NodeId from the public key, in the principal text form', async () => {
    const id = await generateIdentity();
    const spki = createPublicKey(id.privateKeyPem).export({ type: 'spki', format: 'der' });
    assert.equal(nodeIdFromPublicKeyDer(spki), id.nodeId);
    assert.match(id.nodeId, /^([a-z2-7]{5}-){10}[a-z2-7]{3}$/);
    assert.equal(parseNodeId(id.nodeId), id.nodeId);
  });

  it("uses the Internet Computer's principal text encoding", () => {
    // Well-known principals: the management canister (no bytes) and the anonymous one.
    assert.equal(principalToText(new Uint8Array(0)), 'aaaaa-aa');
    assert.equal(principalToText(Uint8Array.of(0x04)), '2vxsx-fae');
  });

  it('rejects a NodeId with a bad checksum, alphabet or shape', async () => {
    const { nodeId } = await generateIdentity();
    const flipped = `${nodeId.slice(0, -1)}${nodeId.endsWith('a') ? 'b' : 'a'}`;
    for (const bad of [flipped, nodeId.toUpperCase(), nodeId.replaceAll('-', ''), 'aaaaa-aa', '']) {
      assert.throws(() => parseNodeId(bad), IdentityError, bad);
    }
  });

  it('accepts a self-signed certificate whose CN is the NodeId of its key', async () => {
    const id = await generateIdentity();
    const cert = parseNodeCertificate(id.certificatePem);
    assert.equal(cert.nodeId, id.nodeId);
    assert.ok(cert.der.equals(id.certificateDer));
    assert.ok(parseNodeCertificate(cert.der).der.equals(cert.der));
  });

  it("rejects a certificate claiming another node's NodeId", async () => {
    const victim = await generateIdentity();
    const forged = await forgedCertificate(victim.nodeId);
    assert.throws(
      () => parseNodeCertificate(forged.certificatePem),
      /does not match its public key/,
    );
  });

  it('rejects a key and a certificate that do not belong together', async () => {
    const [a, b] = [await generateIdentity(), await generateIdentity()];
    assert.throws(() => identityFromPem(a.privateKeyPem, b.certificatePem), IdentityError);
    assert.throws(() => parseNodeCertificate('not a certificate'), IdentityError);
  });
});
