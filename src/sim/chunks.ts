import { createHash } from 'node:crypto';
import { type ArtifactId, encodeManifest, manifestId } from '../broadcast/index.ts';

/** A chunked artifact as its origin cuts it: manifest, id (the manifest's SHA-256), chunks. */
export interface ChunkedArtifact {
  manifest: Uint8Array;
  id: ArtifactId;
  /** Views into the artifact's bytes (not copies), `chunkBytes` each but the last. */
  chunks: Uint8Array[];
}

/** Cuts `bytes` into chunks of `chunkBytes` and builds the manifest (docs/protocol.md). */
export function chunkArtifact(bytes: Uint8Array, chunkBytes: number): ChunkedArtifact {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length || chunks.length === 0; at += chunkBytes) {
    chunks.push(bytes.subarray(at, at + chunkBytes));
  }
  const hashes = chunks.map((c) => createHash('sha256').update(c).digest());
  const manifest = encodeManifest({ chunkBytes, totalBytes: bytes.length, hashes });
  return { manifest, id: manifestId(manifest), chunks };
}
