/**
 * The application's handle on one broadcast channel: broadcast, abort, look up, and receive.
 * @module
 */
import { createReadStream } from 'node:fs';
import { ChunkingOffError } from '../errors.ts';
import { Fifo } from '../util/fifo.ts';
import type {
  Artifact,
  ArtifactId,
  ChannelStats,
  ChunkedInfo,
  ChunkProgress,
  DeliveredArtifact,
  HeldArtifactInfo,
  RemovalReason,
} from './types.ts';

/** Options of {@link Channel.broadcast}. */
export interface BroadcastOptions {
  /** Application attributes, at most 256 bytes; they travel in the advert (priority input). */
  attributes?: Uint8Array;
  /** Push the artifact inline to every peer whatever its size (no advert round trip). */
  urgent?: boolean;
  /**
   * How old the artifact already is, ms (default 0): it expires `maxAgeMs` after its first
   * broadcast, also when broadcast again after a restart. At or past `maxAgeMs` it is refused
   * (ERR_ARTIFACT_EXPIRED).
   */
  ageMs?: number;
}

/** A page of {@link Channel.list}. */
export interface HeldPage {
  artifacts: HeldArtifactInfo[];
  /** The cursor of the next page (pass it as `after`); undefined on the last page. */
  next: number | undefined;
}

/**
 * One channel (one artifact type) of a node. Obtained from `node.channel(name)`.
 *
 * Byte arrays handed out (`get()`, delivered artifacts) are the node's own copies, shared
 * between readers: treat them as read-only.
 */
export interface Channel {
  /** The channel's name. */
  readonly name: string;
  /**
   * Starts broadcasting `bytes` (copied) and returns its id (SHA-256, hex). Idempotent for an
   * artifact this node already broadcasts. The slot update leaves at the end of the current
   * burst of synchronous calls, batched with the others. A full channel makes room by evicting
   * the oldest artifacts of the owner holding the most (docs/protocol.md, Lifecycle and
   * retention). Throws ERR_ARTIFACT_TOO_LARGE (bytes or attributes over the channel's bounds),
   * ERR_ARTIFACT_EXPIRED (`ageMs` at or past `maxAgeMs`), ERR_QUEUE_FULL (a custom pool refused
   * it), ERR_NODE_STOPPED.
   */
  broadcast(bytes: Uint8Array, opts?: BroadcastOptions): ArtifactId;
  /**
   * Stops broadcasting `id` (our own or a relayed artifact): its slot is withdrawn at every
   * peer, it leaves the pool, and any download of it stops; it will not be fetched again.
   * Returns whether the node had it in any form (slot, pool or download).
   */
  abort(id: ArtifactId): boolean;
  /** The artifact's bytes, if this node holds it (its own, or received and accepted). */
  get(id: ArtifactId): Uint8Array | undefined;
  /**
   * A stream of the artifacts this node accepts from now on (not its own broadcasts). Each call
   * returns an independent iterator, subscribed at the call. Each iterator buffers at most
   * `maxBufferedDeliveries` (default 10 000) artifacts its reader has not taken yet; when full,
   * the oldest is dropped and counted in `subnet_p2p_broadcast_deliveries_dropped_total{channel}`
   * (the artifact stays in the pool: `get()` still finds it). The iterator ends, after its
   * buffered artifacts, when the node stops; leaving a `for await` loop early unsubscribes it.
   */
  received(): AsyncIterableIterator<DeliveredArtifact>;
  /**
   * Asks the channel's priority function again, now, about every advertised artifact not held
   * yet (it is also asked periodically). Call it when the answers would change.
   */
  reprioritize(): void;
  /**
   * Broadcasts a chunked artifact read from a stream, an iterable of byte arrays, or a file
   * path, holding one chunk in memory at a time (the channel needs `chunking`). Resolves with
   * its id once it is in the chunk store and advertised. `ageMs` as for {@link broadcast}.
   */
  broadcastStream(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | string,
    opts?: { attributes?: Uint8Array; ageMs?: number },
  ): Promise<ArtifactId>;
  /**
   * The bytes of a chunked artifact this node holds, chunk by chunk, read from the chunk store
   * (nothing if it holds no such artifact; for one held in part, the chunks up to the first
   * missing one).
   */
  stream(id: ArtifactId): AsyncIterable<Uint8Array>;
  /** What this node holds of a chunked artifact, if anything. */
  chunked(id: ArtifactId): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined;
  /** Calls `listener` at each chunk verified and stored; returns the unsubscribe function. */
  onProgress(listener: (progress: ChunkProgress) => void): () => void;
  /**
   * Removes every artifact held (whole or in part), advertised to this node, or being validated
   * for which `predicate` is true: withdrawn from peers, dropped from the pool and the chunk
   * store, and not fetched again when peers advertise it. Idempotent. Returns how many were
   * held or wanted.
   *
   * @example
   * // Drop everything older than a minute.
   * channel.purge((a) => a.ageMs > 60_000);
   */
  purge(predicate: (artifact: HeldArtifactInfo) => boolean): number;
  /**
   * Raises the watermark of the numeric attribute `field` (read by the channel's
   * `numericAttribute`, JSON by default) to `value`, and purges every artifact whose `field` is
   * below it; adverts of such artifacts are not fetched from then on. A watermark only rises:
   * a lower `value` changes nothing. Returns how many were removed.
   *
   * @example
   * // A consensus layer, at each finalized height:
   * blocks.broadcast(block, { attributes: new TextEncoder().encode(JSON.stringify({ height })) });
   * blocks.purgeBelow('height', finalizedHeight);
   */
  purgeBelow(field: string, value: number): number;
  /**
   * The artifacts the channel holds, whole or in part, in the order they were admitted: at
   * most `limit` (default 100, at most 10 000) after the cursor `after`.
   */
  list(opts?: { after?: number; limit?: number }): HeldPage;
  /** The channel's use of its bounds: slots, artifacts and bytes held, per owner. */
  stats(): ChannelStats;
  /**
   * Calls `listener` when a held artifact leaves the channel (expired, purged, evicted,
   * aborted, rejected); returns the unsubscribe function.
   */
  onRemoved(listener: (id: ArtifactId, reason: RemovalReason) => void): () => void;
}

/** What a channel needs from the node (the broadcast driver). */
export interface ChannelHost {
  add(channel: string, bytes: Uint8Array, opts: BroadcastOptions): ArtifactId;
  abort(channel: string, id: ArtifactId): boolean;
  get(channel: string, id: ArtifactId): Artifact | undefined;
  reprioritize(channel: string): void;
  purge(channel: string, predicate: (artifact: HeldArtifactInfo) => boolean): number;
  purgeBelow(channel: string, field: string, value: number): number;
  list(channel: string, opts: { after?: number; limit?: number }): HeldPage;
  stats(channel: string): ChannelStats;
  /** One delivery dropped from a full buffer. */
  deliveryDropped(channel: string): void;
  /** Chunked artifacts (optional: a host without them refuses streams). */
  addStream?(
    channel: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts: { attributes?: Uint8Array; ageMs?: number },
  ): Promise<ArtifactId>;
  stream?(channel: string, id: ArtifactId): AsyncIterable<Uint8Array>;
  chunkedInfo?(
    channel: string,
    id: ArtifactId,
  ): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined;
}

export const DEFAULT_MAX_BUFFERED_DELIVERIES = 10_000;

/**
 * The node's side of a channel: implements {@link Channel} for the application, and takes the
 * driver's deliveries (`deliver`) and the node's shutdown (`end`).
 */
export class ChannelEndpoint implements Channel {
  readonly name: string;
  readonly #host: ChannelHost;
  readonly #maxBuffered: number;
  readonly #subscribers = new Set<Subscription>();
  readonly #progress = new Set<(progress: ChunkProgress) => void>();
  readonly #removed = new Set<(id: ArtifactId, reason: RemovalReason) => void>();
  #ended = false;

  constructor(name: string, host: ChannelHost, opts: { maxBufferedDeliveries?: number } = {}) {
    this.name = name;
    this.#host = host;
    this.#maxBuffered = opts.maxBufferedDeliveries ?? DEFAULT_MAX_BUFFERED_DELIVERIES;
  }

  broadcast(bytes: Uint8Array, opts: BroadcastOptions = {}): ArtifactId {
    // A copy: the pool keeps these bytes, and the caller may reuse its buffer.
    const own = new Uint8Array(bytes);
    const attributes = opts.attributes && new Uint8Array(opts.attributes);
    return this.#host.add(this.name, own, { attributes, urgent: opts.urgent, ageMs: opts.ageMs });
  }

  purge(predicate: (artifact: HeldArtifactInfo) => boolean): number {
    return this.#host.purge(this.name, predicate);
  }

  purgeBelow(field: string, value: number): number {
    return this.#host.purgeBelow(this.name, field, value);
  }

  list(opts: { after?: number; limit?: number } = {}): HeldPage {
    return this.#host.list(this.name, opts);
  }

  stats(): ChannelStats {
    return this.#host.stats(this.name);
  }

  onRemoved(listener: (id: ArtifactId, reason: RemovalReason) => void): () => void {
    this.#removed.add(listener);
    return () => this.#removed.delete(listener);
  }

  /** A held artifact of this channel left it. */
  removed(id: ArtifactId, reason: RemovalReason): void {
    for (const l of this.#removed) l(id, reason);
  }

  abort(id: ArtifactId): boolean {
    return this.#host.abort(this.name, id);
  }

  get(id: ArtifactId): Uint8Array | undefined {
    return this.#host.get(this.name, id)?.bytes;
  }

  reprioritize(): void {
    this.#host.reprioritize(this.name);
  }

  broadcastStream(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | string,
    opts: { attributes?: Uint8Array; ageMs?: number } = {},
  ): Promise<ArtifactId> {
    const input = typeof source === 'string' ? createReadStream(source) : source;
    const attributes = opts.attributes && new Uint8Array(opts.attributes);
    if (!this.#host.addStream) return Promise.reject(new ChunkingOffError(this.name));
    return this.#host.addStream(this.name, input, { attributes, ageMs: opts.ageMs });
  }

  stream(id: ArtifactId): AsyncIterable<Uint8Array> {
    return this.#host.stream?.(this.name, id) ?? (async function* () {})();
  }

  chunked(
    id: ArtifactId,
  ): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined {
    return this.#host.chunkedInfo?.(this.name, id);
  }

  onProgress(listener: (progress: ChunkProgress) => void): () => void {
    this.#progress.add(listener);
    return () => this.#progress.delete(listener);
  }

  /** A chunked download of this channel progressed. */
  progress(progress: ChunkProgress): void {
    for (const l of this.#progress) l(progress);
  }

  received(): AsyncIterableIterator<DeliveredArtifact> {
    const sub = new Subscription(this.#maxBuffered, () => this.#host.deliveryDropped(this.name));
    if (this.#ended) sub.end();
    else {
      this.#subscribers.add(sub);
      sub.onReturn = () => this.#subscribers.delete(sub);
    }
    return sub;
  }

  /** Hands an accepted artifact to every subscriber. */
  deliver(artifact: DeliveredArtifact): void {
    for (const sub of this.#subscribers) sub.push(artifact);
  }

  /** The node stopped: every iterator ends once its buffer is drained. */
  end(): void {
    this.#ended = true;
    for (const sub of this.#subscribers) sub.end();
    this.#subscribers.clear();
  }

  /** Number of live `received()` iterators. */
  get subscribers(): number {
    return this.#subscribers.size;
  }
}

type Waiter = (result: IteratorResult<DeliveredArtifact>) => void;

/** One `received()` iterator: a bounded FIFO that drops its oldest entry when full. */
class Subscription implements AsyncIterableIterator<DeliveredArtifact> {
  readonly #max: number;
  readonly #onDrop: () => void;
  #buffer = new Fifo<DeliveredArtifact>();
  readonly #waiters: Waiter[] = [];
  #done = false;
  onReturn: (() => void) | undefined;

  constructor(max: number, onDrop: () => void) {
    this.#max = max;
    this.#onDrop = onDrop;
  }

  push(artifact: DeliveredArtifact): void {
    if (this.#done) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter({ value: artifact, done: false });
      return;
    }
    if (this.#buffer.length >= this.#max) {
      this.#buffer.shift();
      this.#onDrop();
    }
    this.#buffer.push(artifact);
  }

  /** No more artifacts will come; what is buffered can still be read. */
  end(): void {
    this.#done = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<DeliveredArtifact>> {
    if (this.#buffer.length > 0) {
      return Promise.resolve({ value: this.#buffer.shift()!, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Unsubscribes and drops the buffer (called by `break` in a for-await loop). */
  return(): Promise<IteratorResult<DeliveredArtifact>> {
    this.#buffer.drain();
    this.end();
    this.onReturn?.();
    this.onReturn = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<DeliveredArtifact> {
    return this;
  }
}
