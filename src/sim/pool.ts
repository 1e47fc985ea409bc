import type { Artifact, ArtifactId, ArtifactPool } from '../broadcast/index.ts';

/**
 * The bytes of every artifact held anywhere in a simulation, once: nodes holding the same
 * artifact share one buffer (its id is the SHA-256 of its bytes, so they are equal), so a
 * thousand nodes cost one copy. Counted by reference.
 */
export class ArtifactBytes {
  readonly #bytes = new Map<ArtifactId, { bytes: Uint8Array; refs: number }>();

  intern(id: ArtifactId, bytes: Uint8Array): Uint8Array {
    const e = this.#bytes.get(id);
    if (e) {
      e.refs++;
      return e.bytes;
    }
    this.#bytes.set(id, { bytes, refs: 1 });
    return bytes;
  }

  release(id: ArtifactId): void {
    const e = this.#bytes.get(id);
    if (e && --e.refs === 0) this.#bytes.delete(id);
  }

  /** Distinct artifacts held. */
  get size(): number {
    return this.#bytes.size;
  }
}

/** A node's pool in the simulator: like InMemoryPool (unbounded), with shared bytes. */
export class SimPool implements ArtifactPool {
  readonly #artifacts = new Map<ArtifactId, Artifact>();
  readonly #shared: ArtifactBytes;
  #bytes = 0;

  constructor(shared: ArtifactBytes) {
    this.#shared = shared;
  }

  has(id: ArtifactId): boolean {
    return this.#artifacts.has(id);
  }

  get(id: ArtifactId): Artifact | undefined {
    return this.#artifacts.get(id);
  }

  put(artifact: Artifact): void {
    if (this.#artifacts.has(artifact.id)) return;
    const bytes = this.#shared.intern(artifact.id, artifact.bytes);
    this.#artifacts.set(artifact.id, { ...artifact, bytes });
    this.#bytes += bytes.length;
  }

  delete(id: ArtifactId): void {
    const a = this.#artifacts.get(id);
    if (!a) return;
    this.#artifacts.delete(id);
    this.#shared.release(id);
    this.#bytes -= a.bytes.length;
  }

  /** Drops everything (the node crashed). */
  clear(): void {
    for (const id of this.#artifacts.keys()) this.#shared.release(id);
    this.#artifacts.clear();
    this.#bytes = 0;
  }

  get size(): number {
    return this.#artifacts.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
