import type { NodeId } from '../../identity/index.ts';
import type { ResponseBody } from '../../transport/rpc.ts';
import { lengthDelimitedPrefix } from '../../transport/wire-parts.ts';
import type { Manifest } from '../chunks/manifest.ts';
import type { Have } from '../proto/broadcast.ts';
import type {
  ArtifactId,
  ChunkedInfo,
  ChunkRead,
  DeliveredArtifact,
  FetchResult,
  Validation,
} from '../types.ts';
import type { ChannelState } from './channel-state.ts';
import { ChunkFetches, type ChunkFetchHost } from './chunk-fetches.ts';
import { HaveBitmaps } from './chunk-haves.ts';
import {
  type ChunkOrigin,
  type ChunkState,
  checkManifest,
  chunkedInfo,
  newChunkState,
} from './chunk-state.ts';
import { verifiedChunk } from './chunk-verify.ts';
import {
  ChunkedPlaces,
  type EvictedDownload,
  type EvictionReason,
  evictedDownload,
  nextStall,
} from './chunked-places.ts';
import { Shelf } from './chunked-shelf.ts';
import type { Want } from './downloads.ts';
import { missingResponse } from './fetch-response.ts';
import type { CounterName, TimingName } from './observer.ts';
import type { SlotEntry } from './slot-table.ts';

/**
 * What the chunked artifacts use of the core that owns them; the core keeps the slot tables,
 * the downloads of whole artifacts (and of manifests), validation and the clock.
 */
export interface ChunkedHost extends ChunkFetchHost {
  /** `Have` entries in one message (as slot updates: `maxUpdatesPerMessage`). */
  readonly maxUpdatesPerMessage: number;
  count(name: CounterName, labels: Record<string, string>): void;
  /** A duration measured in `channel`, ms (see `CoreObserver.timing`). */
  timing(name: TimingName, channel: string, ms: number): void;
  /** Takes a slot for an artifact and advertises it to the peers; false if none is free. */
  advertise(ch: ChannelState, entry: Omit<SlotEntry, 'commit' | 'createdAt'>): boolean;
  /** Asks the application to validate a complete artifact. */
  validate(
    ch: ChannelState,
    key: string,
    artifact: DeliveredArtifact,
    pushedBy: NodeId | undefined,
  ): void;
  /** Remembers `key` as rejected or aborted: it is not fetched again. */
  dismiss(key: string): void;
  /** `key` was forgotten here (evicted or rejected): the core stops counting it as held. */
  dropped(key: string, reason: 'evicted' | 'rejected'): void;
}

export { CHUNK_STRIKES } from './chunk-verify.ts';

/**
 * The chunked artifacts a node holds in whole or in part (keyed `channel:id`): their
 * manifests, chunks held, sources (whole advertisers and partial holders' `Have` bitmaps),
 * chunk fetches (through {@link ChunkFetches}), chunk-store writes, validation and delivery
 * once complete, relay, eviction of dormant ones, and the answers to peers' chunk requests.
 * The core hands it what concerns chunked artifacts; it queues its actions through the core.
 */
export class ChunkedArtifacts {
  readonly #host: ChunkedHost;
  readonly #chunks = new Map<string, ChunkState>();
  readonly #fetches: ChunkFetches;
  #seq = 0;
  readonly #haves: HaveBitmaps;
  /** Stalled downloads kept out for a while (see `shelved`). */
  readonly #shelf: Shelf;
  /** The places of the latest scheduling pass (see `places`). */
  #places: ChunkedPlaces | undefined;

  constructor(host: ChunkedHost) {
    this.#host = host;
    this.#fetches = new ChunkFetches(host, this.#chunks);
    this.#haves = new HaveBitmaps(host, this.#chunks);
    this.#shelf = new Shelf(host.limits);
  }

  #count(name: CounterName, labels: Record<string, string>): void {
    this.#host.count(name, labels);
  }

  has(key: string): boolean {
    return this.#chunks.has(key);
  }

  /** Chunks in flight or being written. */
  get inFlight(): number {
    return this.#fetches.inFlight;
  }

  /** Times at which the core should be woken for chunked artifacts (some undefined). */
  wakeTimes(): (number | undefined)[] {
    const now = this.#host.now();
    return [
      this.#haves.wakeAt,
      this.#fetches.retryAt(now),
      this.#fetches.wakeAt,
      this.#shelf.wakeAt(now),
      // A download waits for a place: when the next one stalls, it may take its place.
      this.#places?.blocked
        ? nextStall(this.#chunks.values(), now, this.#host.limits.chunkStallMs)
        : undefined,
    ];
  }

  // -------------------------------------------------------------------------------------------
  // Places: which chunked downloads may start, which yield (chunked-places.ts)

  /** Whether this node keeps no chunked artifact, held or in progress. */
  get none(): boolean {
    return this.#chunks.size === 0;
  }

  /**
   * The places of chunked downloads for one scheduling pass, given the core's wants: the core
   * asks `admit` about each chunked want that could start, then wants again what lost its
   * place (`evicted`). `cancel` stops and forgets a manifest fetch that lost its place.
   */
  places(
    wants: Iterable<Want>,
    isUp: (peer: NodeId) => boolean,
    cancel: (want: Want) => void,
    now: number,
  ): ChunkedPlaces {
    this.#places = new ChunkedPlaces(
      {
        limits: this.#host.limits,
        // Kept out for now: a stalled download of it lost its place a while ago.
        shelved: (key, at) => this.#shelf.has(key, at),
        evict: (s, reason, at) => this.#evict(s, reason, at),
        preempt: (want) => {
          this.#count('chunks', { channel: want.channel, outcome: 'preempted' });
          cancel(want);
        },
      },
      this.#chunks.values(),
      wants,
      isUp,
      now,
    );
    return this.#places;
  }

  /**
   * Forgets `s`, which lost its place for `reason` (counted in `chunks`); a stalled one is
   * shelved. Returns its advert and whole advertisers, to be wanted again: their adverts still
   * stand, and an honest artifact whose sources were only slow must not be lost.
   */
  #evict(s: ChunkState, reason: EvictionReason, now: number): EvictedDownload | undefined {
    this.#count('chunks', { channel: s.channel.name, outcome: reason });
    // Before the drop: its expiry runs from its first broadcast (the channel's record).
    const again = evictedDownload(s, now);
    this.drop(s.key);
    if (reason === 'stalled') this.#shelf.add(s.key, now);
    return again;
  }

  /** What this node holds of a chunked artifact, if anything. */
  info(key: string): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined {
    const s = this.#chunks.get(key);
    if (!s) return undefined;
    return { info: chunkedInfo(s), complete: s.phase === 'held', chunksDone: s.have.count };
  }

  /** A new chunked artifact (see {@link newChunkState}), opened in the chunk store. */
  #create(...args: ChunkOrigin): ChunkState {
    const s = newChunkState(...args, this.#seq++, this.#host.now());
    this.#chunks.set(s.key, s);
    this.#host.act({
      type: 'chunk-open',
      channel: s.channel.name,
      id: s.id,
      manifest: s.manifestBytes,
    });
    return s;
  }

  /** A chunked artifact whose chunks are all in the chunk store: held, and advertised. */
  addHeld(
    ch: ChannelState,
    key: string,
    id: ArtifactId,
    m: Manifest,
    manifest: Uint8Array,
    attributes: Uint8Array,
  ): void {
    const s = this.#create(ch, key, id, m, manifest, attributes, undefined);
    for (let i = 0; i < s.have.size; i++) s.have.add(i);
    s.phase = 'held';
    this.#advertise(s, undefined);
  }

  /** See `BroadcastCore.resume`; returns how many artifacts were taken up. */
  resume(
    ch: ChannelState,
    stored: readonly { id: ArtifactId; manifest: Uint8Array; chunks: readonly number[] }[],
  ): number {
    let n = 0;
    for (const a of stored) {
      const key = `${ch.name}:${a.id}`;
      const m = checkManifest(ch, a.id, a.manifest);
      if (!m || this.#chunks.has(key)) continue;
      const s = this.#create(ch, key, a.id, m, a.manifest, new Uint8Array(0), undefined);
      for (const i of a.chunks) if (i < s.have.size) s.have.add(i);
      if (s.have.full) {
        s.phase = 'held';
        if (ch.cfg.relay === 'relay') this.#advertise(s, undefined);
      }
      n++;
    }
    return n;
  }

  #advertise(s: ChunkState, pushedBy: NodeId | undefined): boolean {
    return this.#host.advertise(s.channel, {
      id: s.id,
      size: s.manifest.totalBytes,
      manifestSize: s.manifestBytes.length,
      attributes: s.attributes,
      inline: undefined,
      pushedBy,
    });
  }

  /** A verified manifest arrived: its chunks are fetched from now on. */
  manifestFetched(ch: ChannelState, want: Want, peer: NodeId, bytes: Uint8Array): void {
    const m = checkManifest(ch, want.id, bytes);
    if (!m) {
      this.#count('peer_faults', { channel: ch.name, peer, reason: 'bad_manifest' });
      this.#host.dismiss(want.key);
      return;
    }
    const s = this.#create(ch, want.key, want.id, m, bytes.slice(), want.attributes, peer);
    s.priority = want.priority;
    s.downloadStartedAt = want.firstFetchAt;
    for (const p of want.advertisers.keys()) if (!want.faulty.has(p)) s.sources.set(p, 'all');
    this.#progress(s);
  }

  // -------------------------------------------------------------------------------------------
  // Peers and what they hold

  /** A link came up: every bitmap with a chunk in it is sent again (to every peer). */
  peerUp(): void {
    this.#haves.peerUp();
  }

  /**
   * The link to `peer` is down: it is no source of anything; a peer struck out only for its
   * silence or `missing` answers gets a fresh start on its next link.
   */
  peerDown(peer: NodeId): void {
    for (const s of this.#chunks.values()) {
      s.sources.delete(peer);
      if (s.struckOut.delete(peer)) {
        s.faulty.delete(peer);
        s.strikes.delete(peer);
      }
    }
  }

  /** `peer` no longer advertises `key` whole (a partial holder's bitmap stays). */
  withdrawn(key: string, peer: NodeId): void {
    const s = this.#chunks.get(key);
    if (s?.sources.get(peer) === 'all') s.sources.delete(peer);
  }

  /**
   * `peer` advertises `key` (of `size`, with a manifest of `manifestSize` bytes): the outcome
   * to count if it is a chunked artifact this node has, else undefined.
   */
  advertised(
    key: string,
    peer: NodeId,
    size: number,
    manifestSize: number,
  ): 'malformed' | 'duplicate' | 'accepted' | undefined {
    const s = this.#chunks.get(key);
    if (!s) return undefined;
    if (size !== s.manifest.totalBytes || manifestSize !== s.manifestBytes.length) {
      return 'malformed';
    }
    if (s.phase === 'held') return 'duplicate';
    s.sources.set(peer, 'all');
    s.activeAt = this.#host.now();
    return 'accepted';
  }

  /** A peer's bitmap of the chunks it holds of an artifact we are getting. */
  applyHave(peer: NodeId, ch: ChannelState, h: Have): void {
    this.#haves.apply(peer, ch, h);
  }

  /** Sends the changed have bitmaps, if they are due. */
  flushHaves(now: number): void {
    this.#haves.flush(now);
  }

  // -------------------------------------------------------------------------------------------
  // Chunks

  /** Starts the chunk fetches that can start. */
  start(now: number): void {
    this.#fetches.start(now);
  }

  /** The result of chunk fetch `token`: a verified chunk is handed to the store. */
  onFetched(token: number, result: FetchResult, now: number): void {
    const done = this.#fetches.end(token);
    if (!done) return;
    const { s, index, peer, at } = done;
    const channel = s.channel.name;
    if (s.phase !== 'downloading' || s.have.has(index)) return;
    const bytes = verifiedChunk(s, index, peer, result, (name, labels) =>
      this.#count(name, labels),
    );
    if (!bytes) return;
    this.#count('chunks', { channel, outcome: 'fetched' });
    this.#fetches.measured(peer, bytes.length, at, now);
    s.progressAt = now;
    s.strikes.delete(peer);
    s.bytesFrom.set(peer, (s.bytesFrom.get(peer) ?? 0) + bytes.length);
    s.tried.delete(index);
    // Being written counts against the bound of chunks in flight (memory).
    s.writing.add(index);
    this.#fetches.writeStarted();
    this.#host.act({ type: 'chunk-write', channel, id: s.id, index, bytes });
  }

  /** See `BroadcastCore.onChunkWritten`. */
  written(channel: string, id: ArtifactId, index: number, ok: boolean, now: number): void {
    const s = this.#chunks.get(`${channel}:${id}`);
    if (!s?.writing.delete(index)) return;
    this.#fetches.writesEnded(1);
    if (!ok) {
      this.#count('chunks', { channel, outcome: 'write_failed' });
      s.notBefore.set(index, now + this.#host.limits.retryBaseMs);
      return;
    }
    this.#count('chunks', { channel, outcome: 'written' });
    s.activeAt = now;
    s.have.add(index);
    this.#haves.changed(s);
    this.#progress(s);
    if (s.have.full && s.phase === 'downloading') {
      s.phase = 'validating';
      if (s.downloadStartedAt !== undefined) {
        this.#host.timing('download_duration', channel, now - s.downloadStartedAt);
      }
      this.#host.validate(s.channel, s.key, this.#delivered(s), undefined);
    }
  }

  /** `s` as the application gets it (its bytes are in the chunk store). */
  #delivered(s: ChunkState): DeliveredArtifact {
    const { channel, id, attributes } = s;
    const from = s.from ?? this.#host.self;
    return {
      channel: channel.name,
      id,
      bytes: new Uint8Array(0),
      attributes,
      from,
      chunked: chunkedInfo(s),
    };
  }

  #progress(s: ChunkState): void {
    this.#host.act({
      type: 'progress',
      progress: {
        channel: s.channel.name,
        id: s.id,
        chunksDone: s.have.count,
        chunks: s.have.size,
        bytesFrom: Object.fromEntries(s.bytesFrom),
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // Validation, eviction, serving

  /**
   * The application's verdict on `key`, if it is a chunked artifact (returns whether it was):
   * accepted, it is held, delivered and relayed; otherwise forgotten and dismissed.
   */
  validated(key: string, verdict: Validation, pushedBy: NodeId | undefined): boolean {
    const s = this.#chunks.get(key);
    if (!s) return false;
    const channel = s.channel.name;
    if (verdict !== 'accept') {
      if (verdict === 'reject' && s.from !== undefined) {
        this.#count('peer_faults', { channel, peer: s.from, reason: 'rejected' });
      }
      this.drop(s.key, 'rejected');
      this.#host.dismiss(s.key);
      return true;
    }
    s.phase = 'held';
    s.tried.clear();
    s.notBefore.clear();
    this.#shelf.delete(key);
    this.#host.act({ type: 'deliver', artifact: this.#delivered(s) });
    this.#count('delivered', { channel });
    const now = this.#host.now();
    const createdAt = s.channel.retention.get(s.key)?.createdAt;
    if (createdAt !== undefined) this.#host.timing('delivery_latency', channel, now - createdAt);
    if (s.channel.cfg.relay === 'relay') {
      const relayed = this.#advertise(s, pushedBy);
      this.#count(relayed ? 'relayed' : 'relay_skipped', { channel });
    }
    return true;
  }

  /**
   * Forgets a chunked artifact (cancels its fetches, drops it from the store); `reason` is what
   * the core reports if it still counted it as held.
   */
  drop(key: string, reason: 'evicted' | 'rejected' = 'evicted'): boolean {
    const s = this.#chunks.get(key);
    if (!s) return false;
    this.#fetches.cancel(s);
    this.#fetches.writesEnded(s.writing.size);
    this.#chunks.delete(key);
    this.#host.act({ type: 'chunk-delete', channel: s.channel.name, id: s.id });
    this.#host.dropped(key, reason);
    return true;
  }

  /**
   * The answer to a request for part `part` of `key` (0: the manifest, i + 1: chunk i, read
   * from the store by the driver), or undefined if `key` is no chunked artifact of this node.
   */
  serve(key: string, part: number): ResponseBody | ChunkRead | undefined {
    const s = this.#chunks.get(key);
    if (!s) return undefined;
    if (part === 0) return [lengthDelimitedPrefix(1, s.manifestBytes.length), s.manifestBytes];
    const index = part - 1;
    if (index < s.have.size && s.have.has(index)) {
      return { type: 'read-chunk', channel: s.channel.name, id: s.id, index };
    }
    return missingResponse();
  }
}
