import type { NodeId } from '../../identity/index.ts';
import type { ResponseBody } from '../../transport/rpc.ts';
import { lengthDelimitedPrefix } from '../../transport/wire-parts.ts';
import {
  Bitset,
  chunkLength,
  decodeManifest,
  type Manifest,
  manifestId,
  sha256,
} from '../chunks/manifest.ts';
import { idFromBytes, idToBytes } from '../ids.ts';
import { type Have, SlotUpdates } from '../proto/broadcast.ts';
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
import { type ChunkState, newChunkState } from './chunk-state.ts';
import {
  ChunkedPlaces,
  type EvictedDownload,
  type EvictionReason,
  isStalled,
} from './chunked-places.ts';
import type { Want } from './downloads.ts';
import { fetchedBytes, missingResponse } from './fetch-response.ts';
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

/**
 * A peer that answers `missing` for a chunk it claims (it advertises the whole artifact, or its
 * `Have` has the chunk), or does not answer in time, this many times in a row for one artifact,
 * is not asked for that artifact again while its link stays up.
 */
export const CHUNK_STRIKES = 3;

/** Keys of stalled downloads remembered with their backoff (the oldest are forgotten first). */
const SHELF_MEMORY = 10_000;

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
  /** When the changed `Have` bitmaps are sent. */
  #haveAt: number | undefined;
  /**
   * Keys of stalled downloads that lost their place, kept out until `until` (see `shelved`),
   * and how many times in a row they stalled.
   */
  readonly #shelf = new Map<string, { until: number; times: number }>();
  /** The earliest `until` of the shelf still ahead (undefined: none, or to be found again). */
  #shelfWake: number | undefined;
  /** The places of the latest scheduling pass (see `places`). */
  #places: ChunkedPlaces | undefined;

  constructor(host: ChunkedHost) {
    this.#host = host;
    this.#fetches = new ChunkFetches(host, this.#chunks);
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
      this.#haveAt,
      this.#fetches.retryAt(now),
      this.#fetches.wakeAt,
      this.#shelfWakeAt(now),
      // A download waits for a place: when the next one stalls, it may take its place.
      this.#places?.blocked ? this.#nextStall(now) : undefined,
    ];
  }

  /** When the next download in progress that has not stalled yet will have stalled. */
  #nextStall(now: number): number | undefined {
    const { chunkStallMs } = this.#host.limits;
    let at: number | undefined;
    for (const s of this.#chunks.values()) {
      if (s.phase !== 'downloading' || isStalled(s, now, chunkStallMs)) continue;
      const t = (s.progressAt ?? s.createdAt) + chunkStallMs;
      if (at === undefined || t < at) at = t;
    }
    return at;
  }

  // -------------------------------------------------------------------------------------------
  // Places: which chunked downloads may start, which yield (chunked-places.ts)

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
        shelved: (key, at) => this.shelved(key, at),
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
   * Whether `key` is kept out for now: a stalled download of it lost its place a short while
   * ago. A backoff, not the core's dismissal (which is for good): a download stalls when its
   * sources do not serve it, and those may be honest but slow or cut off for a while (its
   * artifact must still arrive, eventually) as well as a liar (whose advert must not take the
   * place back at once). The backoff starts at `chunkStallMs` and doubles each time the key
   * stalls again, up to `retryMaxMs` (or `chunkStallMs` if longer): a liar's artifact takes a
   * place again only now and then, and only where the fair share lets it.
   */
  shelved(key: string, now: number): boolean {
    const e = this.#shelf.get(key);
    return e !== undefined && now < e.until;
  }

  #shelve(key: string, now: number): void {
    const times = (this.#shelf.get(key)?.times ?? 0) + 1;
    const { chunkStallMs, retryMaxMs } = this.#host.limits;
    const backoff = Math.min(
      Math.max(retryMaxMs, chunkStallMs),
      chunkStallMs * 2 ** Math.min(times - 1, 30),
    );
    const until = now + backoff;
    this.#shelf.delete(key);
    this.#shelf.set(key, { until, times });
    if (this.#shelf.size > SHELF_MEMORY) this.#shelf.delete(this.#shelf.keys().next().value!);
    if (this.#shelfWake === undefined || until < this.#shelfWake) this.#shelfWake = until;
  }

  #shelfWakeAt(now: number): number | undefined {
    if (this.#shelfWake !== undefined && this.#shelfWake <= now) {
      this.#shelfWake = undefined;
      for (const { until } of this.#shelf.values()) {
        if (until > now && (this.#shelfWake === undefined || until < this.#shelfWake)) {
          this.#shelfWake = until;
        }
      }
    }
    return this.#shelfWake;
  }

  /**
   * Forgets `s`, which lost its place for `reason` (counted in `chunks`); a stalled one is
   * shelved. Returns its advert and whole advertisers, to be wanted again: their adverts still
   * stand, and an honest artifact whose sources were only slow must not be lost.
   */
  #evict(s: ChunkState, reason: EvictionReason, now: number): EvictedDownload | undefined {
    this.#count('chunks', { channel: s.channel.name, outcome: reason });
    const advertisers: NodeId[] = [];
    for (const [peer, src] of s.sources) if (src === 'all') advertisers.push(peer);
    // Its expiry runs from its first broadcast (the channel's record goes with the drop).
    const createdAt = s.channel.retention.get(s.key)?.createdAt ?? s.createdAt;
    this.drop(s.key);
    if (reason === 'stalled') this.#shelve(s.key, now);
    if (advertisers.length === 0) return undefined;
    return {
      key: s.key,
      advert: {
        channel: s.channel.name,
        id: s.id,
        size: s.manifest.totalBytes,
        attributes: s.attributes,
        manifestSize: s.manifestBytes.length,
        ageMs: Math.max(0, now - createdAt),
      },
      advertisers,
      createdAt,
    };
  }

  /** What this node holds of a chunked artifact, if anything. */
  info(key: string): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined {
    const s = this.#chunks.get(key);
    if (!s) return undefined;
    return { info: this.#info(s), complete: s.phase === 'held', chunksDone: s.have.count };
  }

  #info(s: ChunkState): ChunkedInfo {
    return {
      size: s.manifest.totalBytes,
      chunkBytes: s.manifest.chunkBytes,
      chunks: s.manifest.hashes.length,
    };
  }

  /** The manifest `bytes`, if its id is `id` and it is within the channel's limits. */
  checkManifest(ch: ChannelState, id: ArtifactId, bytes: Uint8Array): Manifest | undefined {
    const k = ch.cfg.chunking;
    if (!k || bytes.length > k.maxManifestBytes || manifestId(bytes) !== id) return undefined;
    const m = decodeManifest(bytes);
    if (!m || m.totalBytes > ch.cfg.maxArtifactBytes || m.chunkBytes > k.maxChunkBytes) {
      return undefined;
    }
    return m;
  }

  #create(
    ch: ChannelState,
    key: string,
    id: ArtifactId,
    manifest: Manifest,
    manifestBytes: Uint8Array,
    attributes: Uint8Array,
    from: NodeId | undefined,
  ): ChunkState {
    const now = this.#host.now();
    const s = newChunkState(
      ch,
      key,
      id,
      manifest,
      manifestBytes,
      attributes,
      from,
      this.#seq++,
      now,
    );
    this.#chunks.set(key, s);
    this.#host.act({ type: 'chunk-open', channel: ch.name, id, manifest: manifestBytes });
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
      const m = this.checkManifest(ch, a.id, a.manifest);
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
    const m = this.checkManifest(ch, want.id, bytes);
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
    for (const s of this.#chunks.values()) if (s.have.count > 0) this.#haveChanged(s);
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
    const id = idFromBytes(h.id);
    const s = id === undefined ? undefined : this.#chunks.get(`${ch.name}:${id}`);
    if (!s) return; // not an artifact we are getting: nothing to learn
    const n = s.manifest.hashes.length;
    if (h.bitmap.length !== Bitset.bytesFor(n)) {
      this.#count('adverts', { channel: ch.name, outcome: 'malformed', peer });
      return;
    }
    const now = this.#host.now();
    s.haveFrom.set(peer, now);
    s.activeAt = now;
    if (s.sources.get(peer) === 'all') return;
    s.sources.set(peer, new Bitset(n, h.bitmap));
  }

  #haveChanged(s: ChunkState): void {
    s.haveDirty = true;
    this.#haveAt ??= this.#host.now() + this.#host.limits.haveIntervalMs;
  }

  /**
   * If they are due, sends the changed have bitmaps to every peer that does not advertise the
   * whole artifact.
   */
  flushHaves(now: number): void {
    if (this.#haveAt === undefined || now < this.#haveAt) return;
    this.#haveAt = undefined;
    const byPeer = new Map<NodeId, Map<ChannelState, Have[]>>();
    for (const s of this.#chunks.values()) {
      if (!s.haveDirty) continue;
      s.haveDirty = false;
      const have: Have = {
        id: idToBytes(s.id) as Uint8Array<ArrayBuffer>,
        bitmap: s.have.bits.slice() as Uint8Array<ArrayBuffer>,
      };
      for (const peer of this.#host.up.keys()) {
        if (s.sources.get(peer) === 'all') continue;
        let byChannel = byPeer.get(peer);
        if (!byChannel) {
          byChannel = new Map();
          byPeer.set(peer, byChannel);
        }
        const list = byChannel.get(s.channel) ?? [];
        list.push(have);
        byChannel.set(s.channel, list);
      }
    }
    const perMessage = this.#host.maxUpdatesPerMessage;
    for (const [peer, byChannel] of byPeer) {
      for (const [ch, haves] of byChannel) {
        for (let i = 0; i < haves.length; i += perMessage) {
          this.#host.act({
            type: 'send',
            peer,
            lane: ch.cfg.lane,
            body: SlotUpdates.encode({
              channel: ch.number,
              updates: [],
              haves: haves.slice(i, i + perMessage),
            }),
            channel: ch.name,
            slots: [],
          });
        }
      }
    }
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
    const bytes = fetchedBytes(result);
    if (bytes === 'retry') {
      this.#count('chunks', { channel, outcome: 'retried' });
      // Answered `missing` (or empty), or not at all: a strike if the peer claims the chunk.
      const timeout = !result.ok && result.reason === 'timeout';
      if (result.ok || timeout) {
        const src = s.sources.get(peer);
        if (src === 'all' || src?.has(index)) {
          this.#strike(s, peer, timeout ? 'chunk_timeout' : 'chunk_missing');
        }
      }
      return;
    }
    if (bytes === 'malformed') {
      this.#fault(s, peer, 'missing_body');
      return;
    }
    if (
      bytes.length !== chunkLength(s.manifest, index) ||
      !Buffer.from(sha256(bytes)).equals(s.manifest.hashes[index]!)
    ) {
      this.#fault(s, peer, 'bad_hash');
      return;
    }
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

  /**
   * `peer` did not serve a chunk it claims: counted against it; after `CHUNK_STRIKES` in a row
   * it is not asked for this artifact again.
   */
  #strike(s: ChunkState, peer: NodeId, reason: 'chunk_missing' | 'chunk_timeout'): void {
    this.#count('peer_faults', { channel: s.channel.name, peer, reason });
    const n = (s.strikes.get(peer) ?? 0) + 1;
    s.strikes.set(peer, n);
    if (n >= CHUNK_STRIKES && !s.faulty.has(peer)) {
      this.#count('chunks', { channel: s.channel.name, outcome: 'faulty' });
      s.faulty.add(peer);
      s.struckOut.add(peer);
    }
  }

  #fault(s: ChunkState, peer: NodeId, reason: string): void {
    this.#count('chunks', { channel: s.channel.name, outcome: 'faulty' });
    this.#count('peer_faults', { channel: s.channel.name, peer, reason });
    s.faulty.add(peer);
    s.struckOut.delete(peer); // wrong bytes: for good
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
    this.#haveChanged(s);
    this.#progress(s);
    if (s.have.full && s.phase === 'downloading') {
      s.phase = 'validating';
      if (s.downloadStartedAt !== undefined) {
        this.#host.timing('download_duration', channel, now - s.downloadStartedAt);
      }
      const artifact: DeliveredArtifact = {
        channel,
        id,
        bytes: new Uint8Array(0),
        attributes: s.attributes,
        from: s.from ?? this.#host.self,
        chunked: this.#info(s),
      };
      this.#host.validate(s.channel, s.key, artifact, undefined);
    }
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
    this.#host.act({
      type: 'deliver',
      artifact: {
        channel,
        id: s.id,
        bytes: new Uint8Array(0),
        attributes: s.attributes,
        from: s.from ?? this.#host.self,
        chunked: this.#info(s),
      },
    });
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
