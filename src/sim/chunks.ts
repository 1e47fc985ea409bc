import { cutChunks, ManifestBuilder } from '../broadcast/chunks/manifest.ts';
import type { ArtifactId } from '../broadcast/index.ts';

/** A chunked artifact as its origin cuts it: manifest, id (the manifest's SHA-256), chunks. */
export interface ChunkedArtifact {
  manifest: Uint8Array;
  id: ArtifactId;
  /** Views into the artifact's bytes (not copies), `chunkBytes` each but the last. */
  chunks: Uint8Array[];
}

/** Cuts `bytes` into chunks of `chunkBytes` and builds the manifest (docs/protocol.md). */
export function chunkArtifact(bytes: Uint8Array, chunkBytes: number): ChunkedArtifact {
  const chunks = cutChunks(bytes, chunkBytes);
  const builder = new ManifestBuilder(chunkBytes);
  for (const chunk of chunks) builder.add(chunk);
  const { encoded: manifest, id } = builder.build();
  return { manifest, id, chunks };
}
