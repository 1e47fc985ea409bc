import 'reflect-metadata';
import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { IdentityError } from '../errors.ts';
import { type NodeId, nodeIdFromPublicKeyDer, parseNodeId } from './node-id.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A parsed node certificate: who it names, and whether its key is the named one. */
export interface CertificateInfo {
  /** The NodeId in the subject CN. */
  nodeId: NodeId;
  /** The certificate, DER. */
  der: Buffer;
  /** The certificate, PEM. */
  pem: string;
}

/**
 * Creates the self-signed Ed25519 certificate of a node: subject and issuer CN = NodeId,
 * valid from one day ago until 9999-12-31 (the registry, not the clock, decides validity).
 */
export async function createSelfSignedCertificate(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const nodeId = nodeIdFromPublicKeyDer(spki);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: `CN=${nodeId}`,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date('9999-12-31T23:59:59Z'),
    signingAlgorithm: { name: 'Ed25519' },
    keys,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return cert.toString('pem');
}

/**
 * Parses a node certificate (PEM or DER) and checks that it is self-authenticating: an
 * Ed25519 key, a subject CN that is a valid NodeId, and that NodeId derived from the key.
 * Throws {@link IdentityError} saying which check failed.
 */
export function parseNodeCertificate(input: string | Uint8Array): CertificateInfo {
  let cert: NodeX509;
  try {
    cert = new NodeX509(input);
  } catch (cause) {
    throw new IdentityError('not an X.509 certificate (expected PEM or DER)', { cause });
  }
  if (cert.publicKey.asymmetricKeyType !== 'ed25519') {
    throw new IdentityError(
      `certificate key is ${cert.publicKey.asymmetricKeyType ?? 'unknown'}, expected ed25519`,
    );
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  if (cn === undefined) throw new IdentityError('certificate subject has no CN');
  const nodeId = parseNodeId(cn);
  const derived = nodeIdFromPublicKeyDer(cert.publicKey.export({ type: 'spki', format: 'der' }));
  if (derived !== nodeId) {
    throw new IdentityError(
      `certificate CN ${nodeId} does not match its public key (which is node ${derived})`,
    );
  }
  return { nodeId, der: Buffer.from(cert.raw), pem: cert.toString() };
}
