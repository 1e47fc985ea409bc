/**
 * A hand-driven TLS peer for adversarial tests: it holds a key and certificate (valid or not)
 * and writes whatever bytes the test wants.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { once } from 'node:events';
import * as tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import type { NodeId } from '../../src/identity/index.ts';
import { FLAG_END, FLAG_START, FRAME_HEADER_BYTES } from '../../src/transport/frame.ts';
import { ALPN, type Lane } from '../../src/transport/index.ts';
import { encodeWire, PROTOCOL_VERSION } from '../../src/transport/messages.ts';

/** Connects with the given key and certificate; resolves after the TLS handshake. */
export async function rawConnect(
  address: string,
  creds: { privateKeyPem: string; certificatePem: string },
): Promise<tls.TLSSocket> {
  const [host, port] = address.split(':') as [string, string];
  const socket = tls.connect({
    host,
    port: Number(port),
    key: creds.privateKeyPem,
    cert: creds.certificatePem,
    minVersion: 'TLSv1.3',
    rejectUnauthorized: false,
    ALPNProtocols: [ALPN],
  });
  socket.on('error', () => {});
  // Read and discard: a socket nobody reads never sees the peer's FIN.
  socket.resume();
  await once(socket, 'secureConnect');
  return socket;
}

/** One frame, header and payload, with whatever fields the test wants. */
export function frame(lane: number, flags: number, payload: Uint8Array, length?: number): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(length ?? payload.length, 0);
  out[4] = lane;
  out[5] = flags;
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A complete Hello frame for `nodeId` in `subnet`. */
export function helloFrame(nodeId: NodeId, subnet: string): Buffer {
  const hello = encodeWire({
    kind: 'hello',
    hello: { protocolVersion: PROTOCOL_VERSION, nodeId, subnet, registryVersion: 0, bulkWindow: 0 },
  });
  return frame(0, FLAG_START | FLAG_END, hello);
}

/** An application message as one frame. */
export function messageFrame(lane: Lane, body: Uint8Array): Buffer {
  return frame(lane, FLAG_START | FLAG_END, encodeWire({ kind: 'message', body }));
}

/**
 * A self-signed Ed25519 certificate whose CN claims `cn` (someone else's NodeId) under a
 * fresh key: what an impostor would present.
 */
export async function forgedCertificate(
  cn: string,
): Promise<{ privateKeyPem: string; certificatePem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const keys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date('9999-12-31T23:59:59Z'),
    signingAlgorithm: { name: 'Ed25519' },
    keys,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKeyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`;
  return { privateKeyPem, certificatePem: cert.toString('pem') };
}
