import { createHash } from 'node:crypto';
import type { ArtifactId } from './types.ts';

/** The id of an artifact: SHA-256 of its bytes, hex. */
export function artifactId(bytes: Uint8Array): ArtifactId {
  return createHash('sha256').update(bytes).digest('hex') as ArtifactId;
}

/** The 32 id bytes of an artifact id, for the wire. */
export function idToBytes(id: ArtifactId): Uint8Array {
  return Buffer.from(id, 'hex');
}

/** An id from its wire bytes, or undefined unless they are exactly 32 bytes. */
export function idFromBytes(bytes: Uint8Array): ArtifactId | undefined {
  if (bytes.length !== 32) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex') as ArtifactId;
}

const HEX_ID = /^[0-9a-f]{64}$/;

/** Whether `text` is an artifact id (64 lower-case hex characters). */
export function isArtifactId(text: string): text is ArtifactId {
  return HEX_ID.test(text);
}
