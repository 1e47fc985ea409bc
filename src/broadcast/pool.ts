import { QueueFullError } from '../errors.ts';
import type { Artifact, ArtifactId } from './types.ts';

/**
 * Where a channel keeps the artifacts a node holds (its own and accepted ones). Synchronous:
 * the protocol core reads it while it decides. Applications may plug in their own.
 */
export interface ArtifactPool {
  has(id: ArtifactId): boolean;
  get(id: ArtifactId): Artifact | undefined;
  /** Stores an artifact; throws {@link QueueFullError} if the pool is at its bound. */
  put(artifact: Artifact): void;
  delete(id: ArtifactId): void;
  /** Artifacts held. */
  readonly size: number;
  /** Bytes held. */
  readonly bytes: number;
}

/** The default pool: a Map, bounded in bytes (default 1 GiB). */
export class InMemoryPool implements ArtifactPool {
  readonly #artifacts = new Map<ArtifactId, Artifact>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(opts: { maxBytes?: number } = {}) {
    this.#maxBytes = opts.maxBytes ?? 1024 ** 3;
  }

  has(id: ArtifactId): boolean {
    return this.#artifacts.has(id);
  }

  get(id: ArtifactId): Artifact | undefined {
    return this.#artifacts.get(id);
  }

  put(artifact: Artifact): void {
    if (this.#artifacts.has(artifact.id)) return;
    const size = artifact.bytes.length;
    if (this.#bytes + size > this.#maxBytes) {
      throw new QueueFullError(
        `pool holds ${this.#bytes} bytes; ${size} more would exceed its limit of ${this.#maxBytes}`,
      );
    }
    this.#artifacts.set(artifact.id, artifact);
    this.#bytes += size;
  }

  delete(id: ArtifactId): void {
    const a = this.#artifacts.get(id);
    if (!a) return;
    this.#artifacts.delete(id);
    this.#bytes -= a.bytes.length;
  }

  get size(): number {
    return this.#artifacts.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
