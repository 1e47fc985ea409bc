/**
 * A hand-driven TLS peer for adversarial tests: it holds a key and certificate (valid or not)
 * and writes whatever bytes the test wants.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { encodeSelfSignedCertificate } from '../../src/identity/certificate.ts';
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
    // No app digest: a peer that predates it.
    hello: {
      protocolVersion: PROTOCOL_VERSION,
      nodeId,
      subnet,
      registryVersion: 0,
      bulkWindow: 0,
      appDigest: new Uint8Array(0),
    },
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
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = encodeSelfSignedCertificate(privateKey, {
    commonName: cn,
    serialNumber: Uint8Array.of(1),
    basicConstraints: false,
  });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certificatePem: new X509Certificate(der).toString(),
  };
}
