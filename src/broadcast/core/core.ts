import { crc32 } from 'node:zlib';
import {
  ArtifactTooLargeError,
  ConfigError,
  QueueFullError,
  UnknownChannelError,
} from '../../errors.ts';
import type { NodeId } from '../../identity/index.ts';
import {
  type ConnId,
  type Lane,
  lengthDelimitedPrefix,
  type ResponseBody,
  ZERO_COPY_MIN_BYTES,
} from '../../transport/index.ts';
import {
  advertFits,
  Bitset,
  chunkLength,
  decodeManifest,
  type Manifest,
  manifestId,
  sha256,
} from '../chunks/manifest.ts';
import { MAX_ATTRIBUTES_BYTES } from '../config.ts';
import { artifactId, idFromBytes, idToBytes } from '../ids.ts';
import type { ArtifactPool } from '../pool.ts';
import {
  FetchRequest,
  FetchResponse,
  type Have,
  type SlotUpdate,
  SlotUpdates,
} from '../proto/broadcast.ts';
import type {
  AdvertInfo,
  Artifact,
  ArtifactId,
  ChannelConfig,
  ChunkedInfo,
  ChunkRead,
  CommitNumber,
  CoreAction,
  DeliveredArtifact,
  DownloadLimits,
  FetchResult,
  SlotNumber,
  Validation,
} from '../types.ts';
import { Downloads, type Want } from './downloads.ts';
import type { CoreObserver } from './observer.ts';
import { PeerSlots } from './peer-slots.ts';
import { type SlotEntry, SlotTable } from './slot-table.ts';

/** Bounds of the messages the core writes and reads. */
export interface MessageLimits {
  /** Slot updates in one message; a peer's message with more is malformed. Default 1000. */
  maxUpdatesPerMessage: number;
  /** Inline artifact bytes in one message we write (one larger artifact goes alone). Default 256 KiB. */
  maxInlineBytesPerMessage: number;
}

export const DEFAULT_MESSAGE_LIMITS: Readonly<MessageLimits> = Object.freeze({
  maxUpdatesPerMessage: 1000,
  maxInlineBytesPerMessage: 256 * 1024,
});

export interface CoreOptions {
  self: NodeId;
  /** Resolved channel configurations, by name. */
  channels: ReadonlyMap<string, ChannelConfig>;
  /** One pool per channel. */
  pools: ReadonlyMap<string, ArtifactPool>;
  downloads: DownloadLimits;
  messages?: Partial<MessageLimits>;
  observer: CoreObserver;
  /**
   * Whether members `a` and `b` keep a link (the topology). Default: always (a full mesh).
   * It decides which relayed adverts say `pushed` (see `DownloadLimits.pushRelayDelayMs`).
   */
  linked?: (a: NodeId, b: NodeId) => boolean;
}

interface ChannelState {
  name: string;
  /** On the wire: CRC32 of the name. */
  number: number;
  cfg: ChannelConfig;
  table: SlotTable;
  pool: ArtifactPool;
}

interface Validating {
  key: string;
  channel: ChannelState;
  artifact: DeliveredArtifact;
  /** The peer that pushed it inline: its origin, which pushed it to every peer. */
  pushedBy: NodeId | undefined;
}

/** A chunked artifact this node holds in whole or in part. */
interface ChunkState {
  key: string;
  channel: ChannelState;
  id: ArtifactId;
  manifest: Manifest;
  manifestBytes: Uint8Array;
  attributes: Uint8Array;
  /** Chunks verified and written to the chunk store (served to peers). */
  have: Bitset;
  phase: 'downloading' | 'validating' | 'held';
  /** Who can serve chunks: advertisers of the whole artifact ('all'), partial holders (bitmap). */
  sources: Map<NodeId, Bitset | 'all'>;
  inflight: Map<number, { token: number; peer: NodeId; at: number }>;
  writing: Set<number>;
  /** Per chunk, the peers tried in this round (a round ends when every holder was tried). */
  tried: Map<number, Set<NodeId>>;
  /** Per chunk, no attempt before this time (after a full round failed). */
  notBefore: Map<number, number>;
  /** Peers that served a wrong chunk: never asked again for this artifact. */
  faulty: Set<NodeId>;
  bytesFrom: Map<NodeId, number>;
  haveDirty: boolean;
  priority: number;
  seq: number;
  /** The first advertiser (reported as `from` on delivery). */
  from: NodeId | undefined;
  /** Per peer, when its last `Have` for this artifact arrived. */
  haveFrom: Map<NodeId, number>;
  /** When this node started getting it. */
  createdAt: number;
  /** Created, last given a source, or last stored a chunk (a dormant one may be evicted). */
  activeAt: number;
  /** Where chunks start (per artifact and node: every node can compute every node's). */
  idHash: number;
}

/** Missing chunks a scheduling pass looks at per artifact, from its rotation point. */
const CHUNK_WINDOW = 64;
/** Chunk fetch tokens start here, apart from the download scheduler's. */
const CHUNK_TOKEN_BASE = 2 ** 40;

/** The wire number of a channel: CRC32 of its name (all nodes agree without coordination). */
export function channelNumber(name: string): number {
  return crc32(name) >>> 0;
}

/** The list of `peer` and `channel` in a two-level map, created empty if missing. */
function perPeerChannel<T>(map: Map<NodeId, Map<string, T[]>>, peer: NodeId, channel: string): T[] {
  let byChannel = map.get(peer);
  if (!byChannel) {
    byChannel = new Map();
    map.set(peer, byChannel);
  }
  let list = byChannel.get(channel);
  if (!list) {
    list = [];
    byChannel.set(channel, list);
  }
  return list;
}

/** How many keys of rejected or ignored artifacts are remembered, so they are not fetched again. */
const DISMISSED_MEMORY = 10_000;

/**
 * The broadcast protocol as a deterministic state machine, with no I/O: methods take events
 * (with the current time) and queue actions, which `takeActions()` hands to a driver. The
 * real-network driver and the simulator run this same code.
 *
 * Sending: each channel's live artifacts hold slots; every peer gets every slot update
 * (inline for small or urgent artifacts, else an advert), the whole table again when its link
 * comes back, and an explicit withdrawal on abort. Receiving: per peer and channel the newest
 * update of each slot is kept; adverts feed the download scheduler, downloads are verified
 * (hash, advertised size), validated by the application, delivered, and relayed.
 */
export class BroadcastCore {
  readonly self: NodeId;
  readonly #channels = new Map<string, ChannelState>();
  readonly #byNumber = new Map<number, ChannelState>();
  readonly #limits: DownloadLimits;
  readonly #msg: MessageLimits;
  readonly #obs: CoreObserver;
  readonly #up = new Map<NodeId, ConnId>();
  readonly #peerSlots = new Map<NodeId, Map<string, PeerSlots>>();
  readonly #outbox = new Map<NodeId, Map<string, SlotUpdate[]>>();
  /** Relayed adverts of pushed artifacts, due at `#laterAt` (see `pushRelayDelayMs`). */
  readonly #later = new Map<NodeId, Map<string, { update: SlotUpdate; id: ArtifactId }[]>>();
  #laterAt: number | undefined;
  readonly #linked: (a: NodeId, b: NodeId) => boolean;
  /**
   * This node's delay for relayed adverts of pushed artifacts: between half and all of
   * `pushRelayDelayMs`, fixed per node (from its id). Staggered so, of two relayers, the
   * earlier one's advert reaches the later one before it sends its own, which it then
   * suppresses: half the relayed adverts of a full mesh go unsent.
   */
  readonly #relayDelayMs: number;
  readonly #downloads: Downloads;
  readonly #validating = new Map<number, Validating>();
  readonly #validatingKeys = new Set<string>();
  readonly #dismissed = new Set<string>();
  readonly #chunks = new Map<string, ChunkState>();
  readonly #chunkTokens = new Map<number, { key: string; index: number }>();
  readonly #chunkLoad = new Map<NodeId, number>();
  /** Per peer, measured chunk throughput, bytes per ms (moving average). */
  readonly #throughput = new Map<NodeId, number>();
  #chunksInFlight = 0;
  #nextChunkToken = CHUNK_TOKEN_BASE;
  #chunkSeq = 0;
  #haveAt: number | undefined;
  /** When the chunk choice should be looked at again (a share's owner falls silent). */
  #chunkWakeAt: number | undefined;
  #actions: CoreAction[] = [];
  #nextToken = 1;
  #nextReprioritize: number | undefined;
  #wakeAt: number | undefined;
  #scheduleNeeded = false;
  /** The time of the latest event, ms. */
  #now = 0;

  constructor(opts: CoreOptions) {
    this.self = opts.self;
    this.#limits = opts.downloads;
    this.#msg = { ...DEFAULT_MESSAGE_LIMITS, ...opts.messages };
    this.#obs = opts.observer;
    this.#linked = opts.linked ?? (() => true);
    const spread = crc32(opts.self) / 2 ** 32;
    this.#relayDelayMs = Math.round(opts.downloads.pushRelayDelayMs * (0.5 + 0.5 * spread));
    this.#downloads = new Downloads(opts.downloads);
    for (const [name, cfg] of opts.channels) {
      const pool = opts.pools.get(name);
      if (!pool) throw new ConfigError(`channels.${name}`, 'has no pool');
      const number = channelNumber(name);
      const clash = this.#byNumber.get(number);
      if (clash) {
        throw new ConfigError(
          `channels.${name}`,
          `its wire number collides with channel '${clash.name}'; rename one`,
        );
      }
      const state = { name, number, cfg, table: new SlotTable(cfg.maxSlots), pool };
      this.#channels.set(name, state);
      this.#byNumber.set(number, state);
    }
  }

  #channel(name: string): ChannelState {
    const ch = this.#channels.get(name);
    if (!ch) throw new UnknownChannelError(name);
    return ch;
  }

  #count(name: Parameters<CoreObserver['count']>[0], labels: Record<string, string>, n = 1): void {
    this.#obs.count(name, labels, n);
  }

  // -------------------------------------------------------------------------------------------
  // Local artifacts

  /**
   * Starts broadcasting an artifact of `channel`; returns its id. Idempotent for an artifact
   * already held. Throws ERR_UNKNOWN_CHANNEL, ERR_ARTIFACT_TOO_LARGE, ERR_QUEUE_FULL (no free
   * slot, or the pool is full).
   */
  add(
    channel: string,
    bytes: Uint8Array,
    opts: { attributes?: Uint8Array; urgent?: boolean },
    now: number,
  ): ArtifactId {
    const ch = this.#channel(channel);
    const attributes = opts.attributes ?? new Uint8Array(0);
    if (bytes.length > ch.cfg.maxArtifactBytes) {
      throw new ArtifactTooLargeError(
        `artifact of ${bytes.length} bytes exceeds channel '${channel}' limit of ${ch.cfg.maxArtifactBytes}`,
      );
    }
    if (attributes.length > MAX_ATTRIBUTES_BYTES) {
      throw new ArtifactTooLargeError(
        `attributes of ${attributes.length} bytes exceed the limit of ${MAX_ATTRIBUTES_BYTES}`,
      );
    }
    const id = artifactId(bytes);
    if (ch.table.has(id)) return id;
    if (ch.table.full) {
      throw new QueueFullError(`channel '${channel}' has all ${ch.cfg.maxSlots} slots in use`);
    }
    ch.pool.put({ channel, id, bytes, attributes });
    const inline = bytes.length <= ch.cfg.pushThresholdBytes || opts.urgent === true;
    this.#advertise(ch, {
      id,
      size: bytes.length,
      attributes,
      inline: inline ? bytes : undefined,
      pushedBy: undefined,
    });
    // We hold it now: stop any download of it.
    this.#forget(`${channel}:${id}`);
    this.#touch(now);
    return id;
  }

  /**
   * Stops broadcasting `id`: frees its slot, tells every peer it is withdrawn, drops it from the
   * pool, and stops downloading it. Returns whether anything was there.
   */
  abort(channel: string, id: ArtifactId, now: number): boolean {
    const ch = this.#channel(channel);
    const removed = ch.table.remove(id);
    if (removed)
      this.#queueToAll(ch, { slot: removed.slot, commit: removed.commit, withdrawn: true });
    const key = `${channel}:${id}`;
    const had = ch.pool.has(id) || this.#dropChunked(key);
    ch.pool.delete(id);
    const wanted = this.#downloads.get(key) !== undefined || this.#validatingKeys.has(key);
    this.#forget(key);
    // Dismissed: a validation in progress will not deliver it, and adverts will not fetch it.
    this.#dismiss(key);
    this.#touch(now);
    return removed !== undefined || had || wanted;
  }

  /** The artifact, if this node holds it. */
  get(channel: string, id: ArtifactId): Artifact | undefined {
    return this.#channel(channel).pool.get(id);
  }

  #advertise(ch: ChannelState, entry: Omit<SlotEntry, 'commit'>): boolean {
    const taken = ch.table.add(entry);
    if (!taken) return false;
    for (const peer of this.#up.keys()) {
      if (this.#peerHas(peer, ch.name, entry.id)) continue;
      const update = this.#update(taken.slot, taken.commit, entry, peer);
      if (update.advert?.pushed) this.#queueLater(peer, ch, update, entry.id);
      else this.#queue(peer, ch, update);
    }
    return true;
  }

  /** The update of a slot for `peer` (an advert says `pushed` if the origin links to the peer). */
  #update(
    slot: SlotNumber,
    commit: CommitNumber,
    e: Omit<SlotEntry, 'commit'>,
    peer: NodeId,
  ): SlotUpdate {
    if (e.inline) {
      return {
        slot,
        commit,
        inline: {
          artifact: e.inline as Uint8Array<ArrayBuffer>,
          attributes: e.attributes as Uint8Array<ArrayBuffer>,
        },
        withdrawn: false,
      };
    }
    return {
      slot,
      commit,
      advert: {
        id: idToBytes(e.id) as Uint8Array<ArrayBuffer>,
        size: e.size,
        attributes: e.attributes as Uint8Array<ArrayBuffer>,
        pushed: e.pushedBy !== undefined && this.#linked(e.pushedBy, peer),
        ...(e.manifestSize !== undefined ? { manifestSize: e.manifestSize } : {}),
      },
      withdrawn: false,
    };
  }

  #queueToAll(ch: ChannelState, update: SlotUpdate): void {
    for (const peer of this.#up.keys()) this.#queue(peer, ch, update);
  }

  #queue(peer: NodeId, ch: ChannelState, update: SlotUpdate): void {
    perPeerChannel(this.#outbox, peer, ch.name).push(update);
    const kind = update.inline ? 'inline' : update.advert ? 'advert' : 'withdrawn';
    this.#count('updates_sent', { channel: ch.name, kind });
  }

  /** Queues a relayed advert of a pushed artifact for the next delayed batch. */
  #queueLater(peer: NodeId, ch: ChannelState, update: SlotUpdate, id: ArtifactId): void {
    perPeerChannel(this.#later, peer, ch.name).push({ update, id });
    this.#laterAt ??= this.#now + this.#relayDelayMs;
  }

  /**
   * The delayed relayed adverts are due: each goes unless the peer has advertised the artifact
   * to us since (it has it) or its slot has changed (a newer update went or will go).
   */
  #releaseLater(): void {
    this.#laterAt = undefined;
    for (const [peer, byChannel] of this.#later) {
      for (const [name, list] of byChannel) {
        const ch = this.#channels.get(name)!;
        for (const { update, id } of list) {
          const current = ch.table.get(update.slot as SlotNumber);
          if (current?.commit !== update.commit || this.#peerHas(peer, name, id)) {
            this.#count('relay_suppressed', { channel: name });
          } else {
            this.#queue(peer, ch, update);
          }
        }
      }
    }
    this.#later.clear();
  }

  #peerHas(peer: NodeId, channel: string, id: ArtifactId): boolean {
    return this.#peerSlots.get(peer)?.get(channel)?.advertises(id) ?? false;
  }

  // -------------------------------------------------------------------------------------------
  // Peers

  /** A link to `peer` is up with connection id `connId`: (re)send every live slot. */
  peerUp(peer: NodeId, connId: ConnId, now: number): void {
    if (this.#up.has(peer)) this.peerDown(peer, this.#up.get(peer)!, now);
    this.#up.set(peer, connId);
    this.#peerSlots.set(peer, new Map());
    for (const ch of this.#channels.values()) {
      for (const [slot, entry] of ch.table.entries()) {
        this.#queue(peer, ch, this.#update(slot, entry.commit, entry, peer));
      }
    }
    for (const s of this.#chunks.values()) if (s.have.count > 0) this.#haveChanged(s);
    this.#touch(now);
  }

  /**
   * A message to `peer` (slot updates of `channel` covering `slots`) could not be sent: queue
   * those slots again, as they are now (a live slot's current update, or a withdrawal at the
   * latest commit, newer than anything the peer holds for it). The driver calls it after a
   * backoff when the transport's queue was full, so that no slot change is lost for good.
   */
  onSendFailed(peer: NodeId, channel: string, slots: readonly SlotNumber[], now: number): void {
    if (!this.#up.has(peer)) return;
    const ch = this.#channel(channel);
    for (const slot of new Set(slots)) {
      const entry = ch.table.get(slot);
      if (!entry) this.#queue(peer, ch, { slot, commit: ch.table.commit, withdrawn: true });
      else if (!this.#peerHas(peer, ch.name, entry.id)) {
        this.#queue(peer, ch, this.#update(slot, entry.commit, entry, peer));
      }
    }
    this.#touch(now);
  }

  /** The link `connId` to `peer` is down: forget what it advertised. */
  peerDown(peer: NodeId, connId: ConnId, now: number): void {
    if (this.#up.get(peer) !== connId) return;
    this.#up.delete(peer);
    this.#outbox.delete(peer);
    this.#later.delete(peer);
    const channels = this.#peerSlots.get(peer);
    this.#peerSlots.delete(peer);
    for (const [channel, slots] of channels ?? []) {
      for (const id of slots.ids()) this.#withdrawAdvert(`${channel}:${id}`, peer);
    }
    for (const s of this.#chunks.values()) s.sources.delete(peer);
    this.#touch(now);
  }

  #withdrawAdvert(key: string, peer: NodeId): void {
    const s = this.#chunks.get(key);
    if (s?.sources.get(peer) === 'all') s.sources.delete(peer);
    const token = this.#downloads.withdrawn(key, peer);
    if (token !== undefined) this.#cancel(token, key);
  }

  #cancel(token: number, key: string): void {
    this.#actions.push({ type: 'cancel-fetch', token });
    this.#count('downloads', { channel: key.slice(0, key.indexOf(':')), outcome: 'cancelled' });
  }

  /** Forgets any download of `key` (we hold it, or it was aborted). */
  #forget(key: string): void {
    const token = this.#downloads.remove(key);
    if (token !== undefined) this.#cancel(token, key);
  }

  #dismiss(key: string): void {
    this.#dismissed.add(key);
    if (this.#dismissed.size > DISMISSED_MEMORY) {
      this.#dismissed.delete(this.#dismissed.values().next().value!);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Receiving slot updates

  /** A batch of slot updates arrived from `peer` on link `connId`, on `lane`. */
  onUpdates(peer: NodeId, connId: ConnId, lane: Lane, body: Uint8Array, now: number): void {
    this.#touch(now);
    if (this.#up.get(peer) !== connId) {
      this.#count('messages_dropped', { reason: 'stale_connection', peer });
      return;
    }
    let batch: SlotUpdates;
    try {
      batch = SlotUpdates.decode(body, { limits: { updates: this.#msg.maxUpdatesPerMessage } });
    } catch {
      this.#count('messages_dropped', { reason: 'malformed', peer });
      return;
    }
    const ch = this.#byNumber.get(batch.channel);
    if (!ch) {
      this.#count('messages_dropped', { reason: 'unknown_channel', peer });
      return;
    }
    if (lane !== ch.cfg.lane) {
      this.#count('messages_dropped', { reason: 'wrong_lane', peer });
      return;
    }
    const byChannel = this.#peerSlots.get(peer)!;
    let slots = byChannel.get(ch.name);
    if (!slots) {
      slots = new PeerSlots();
      byChannel.set(ch.name, slots);
    }
    for (const u of batch.updates) this.#apply(peer, connId, ch, slots, u);
    if (batch.haves.length > this.#msg.maxUpdatesPerMessage) {
      this.#count('messages_dropped', { reason: 'malformed', peer });
      return;
    }
    for (const h of batch.haves) this.#applyHave(peer, ch, h);
  }

  /** A peer's bitmap of the chunks it holds of an artifact we are getting. */
  #applyHave(peer: NodeId, ch: ChannelState, h: Have): void {
    const id = idFromBytes(h.id);
    const s = id === undefined ? undefined : this.#chunks.get(`${ch.name}:${id}`);
    if (!s) return; // not an artifact we are getting: nothing to learn
    const n = s.manifest.hashes.length;
    if (h.bitmap.length !== Bitset.bytesFor(n)) {
      this.#count('adverts', { channel: ch.name, outcome: 'malformed', peer });
      return;
    }
    s.haveFrom.set(peer, this.#now);
    s.activeAt = this.#now;
    if (s.sources.get(peer) === 'all') return;
    s.sources.set(peer, new Bitset(n, h.bitmap));
  }

  #apply(peer: NodeId, connId: ConnId, ch: ChannelState, slots: PeerSlots, u: SlotUpdate): void {
    const outcome = (o: string) => this.#count('adverts', { channel: ch.name, outcome: o, peer });
    if (u.slot >= ch.cfg.maxSlots) {
      outcome('over_limit');
      return;
    }
    const kinds = (u.advert ? 1 : 0) + (u.inline ? 1 : 0) + (u.withdrawn ? 1 : 0);
    if (kinds !== 1) {
      outcome('malformed');
      return;
    }
    let id: ArtifactId | undefined;
    let size = 0;
    let attributes: Uint8Array = new Uint8Array(0);
    if (u.advert) {
      id = idFromBytes(u.advert.id);
      size = u.advert.size;
      attributes = u.advert.attributes;
      if (id === undefined) {
        outcome('malformed');
        return;
      }
    } else if (u.inline) {
      size = u.inline.artifact.length;
      attributes = u.inline.attributes;
      id = artifactId(u.inline.artifact);
    }
    if (attributes.length > MAX_ATTRIBUTES_BYTES) {
      outcome('malformed');
      return;
    }
    const manifestSize = u.advert?.manifestSize ?? 0;
    if (manifestSize > 0 && ch.cfg.chunking === undefined) {
      outcome('malformed');
      return;
    }
    if (
      size > ch.cfg.maxArtifactBytes ||
      (ch.cfg.chunking !== undefined && manifestSize > ch.cfg.chunking.maxManifestBytes)
    ) {
      outcome('oversized');
      return;
    }
    // A chunked advert whose size and manifest size cannot describe one artifact (say a 4 GiB
    // artifact in one chunk) is refused before anything is fetched.
    if (manifestSize > 0 && !advertFits(size, manifestSize, ch.cfg.chunking!.maxChunkBytes)) {
      outcome('malformed');
      return;
    }
    const applied = slots.apply(u.slot as SlotNumber, connId, u.commit as CommitNumber, id);
    if (applied.kind === 'stale') {
      outcome('stale');
      return;
    }
    if (
      applied.replaced !== undefined &&
      applied.replaced !== id &&
      !slots.advertises(applied.replaced)
    ) {
      this.#withdrawAdvert(`${ch.name}:${applied.replaced}`, peer);
    }
    if (id === undefined) return; // withdrawn
    const key = `${ch.name}:${id}`;
    const chunked = this.#chunks.get(key);
    if (chunked) {
      if (size !== chunked.manifest.totalBytes || manifestSize !== chunked.manifestBytes.length) {
        outcome('malformed');
      } else if (chunked.phase === 'held') outcome('duplicate');
      else {
        chunked.sources.set(peer, 'all');
        chunked.activeAt = this.#now;
        outcome('accepted');
      }
      return;
    }
    if (ch.pool.has(id) || this.#validatingKeys.has(key) || this.#dismissed.has(key)) {
      outcome('duplicate');
      return;
    }
    const advert: AdvertInfo = {
      channel: ch.name,
      id,
      size,
      attributes,
      ...(manifestSize > 0 ? { manifestSize } : {}),
    };
    if (u.inline && this.#validating.size < this.#limits.maxPendingValidations) {
      outcome('accepted');
      this.#forget(key);
      this.#validate(
        ch,
        key,
        { channel: ch.name, id, bytes: u.inline.artifact, attributes, from: peer },
        peer,
      );
      return;
    }
    // An advert (or an inline artifact we cannot validate now: we will fetch it later). An
    // advert of an artifact its origin pushed waits a grace period: the push is on its way.
    const grace = u.advert?.pushed ? this.#now + this.#limits.pushGraceMs : 0;
    const want = this.#downloads.advertised(key, advert, peer, ch.cfg.priority, grace);
    outcome(want === undefined ? 'dropped' : want.decision === 'later' ? 'later' : 'accepted');
  }

  // -------------------------------------------------------------------------------------------
  // Downloads

  /** The result of fetch `token`. */
  onFetched(token: number, result: FetchResult, now: number): void {
    if (this.#chunkTokens.has(token)) {
      this.#touch(now);
      this.#onChunkFetched(token, result, now);
      return;
    }
    const done = this.#downloads.finish(token);
    this.#touch(now);
    if (!done) return; // cancelled or superseded
    const { want, peer } = done;
    const ch = this.#channel(want.channel);
    const labels = { channel: ch.name };
    if (!result.ok) {
      this.#retry(want, peer, false);
      return;
    }
    let response: FetchResponse;
    try {
      response = FetchResponse.decode(result.body);
    } catch {
      this.#faulty(want, peer, 'missing_body');
      return;
    }
    if (response.missing || response.artifact.length === 0) {
      this.#retry(want, peer, false);
      return;
    }
    const bytes = response.artifact;
    if (bytes.length > want.advertisers.get(peer)!) {
      this.#faulty(want, peer, 'oversized');
      return;
    }
    if (artifactId(bytes) !== want.id) {
      this.#faulty(want, peer, 'bad_hash');
      return;
    }
    if (ch.pool.has(want.id) || this.#chunks.has(want.key)) {
      this.#count('duplicate_downloads', labels);
      this.#downloads.remove(want.key);
      return;
    }
    this.#count('downloads', { ...labels, outcome: 'succeeded' });
    this.#downloads.remove(want.key);
    if (want.manifestSize !== undefined) {
      this.#manifestFetched(ch, want, peer, bytes);
      return;
    }
    this.#validate(
      ch,
      want.key,
      { channel: ch.name, id: want.id, bytes, attributes: want.attributes, from: peer },
      undefined,
    );
  }

  #retry(want: Want, peer: NodeId, faulty: boolean): void {
    this.#count('downloads', { channel: want.channel, outcome: faulty ? 'faulty' : 'retried' });
    this.#downloads.failed(want, peer, faulty);
  }

  #faulty(want: Want, peer: NodeId, reason: string): void {
    this.#count('peer_faults', { channel: want.channel, peer, reason });
    this.#retry(want, peer, true);
  }

  #validate(
    ch: ChannelState,
    key: string,
    artifact: DeliveredArtifact,
    pushedBy: NodeId | undefined,
  ): void {
    const token = this.#nextToken++;
    this.#validating.set(token, { key, channel: ch, artifact, pushedBy });
    this.#validatingKeys.add(key);
    this.#actions.push({ type: 'validate', token, artifact });
  }

  /** The application's verdict on the artifact of validation `token`. */
  onValidated(token: number, verdict: Validation, now: number): void {
    const v = this.#validating.get(token);
    if (!v) return;
    this.#validating.delete(token);
    this.#validatingKeys.delete(v.key);
    this.#touch(now);
    const { channel: ch, artifact } = v;
    this.#count('validations', { channel: ch.name, verdict });
    if (this.#dismissed.has(v.key)) return; // aborted meanwhile
    const chunked = this.#chunks.get(v.key);
    if (chunked) {
      this.#chunkedValidated(chunked, verdict, v.pushedBy);
      return;
    }
    if (verdict !== 'accept') {
      if (verdict === 'reject') {
        this.#count('peer_faults', { channel: ch.name, peer: artifact.from, reason: 'rejected' });
      }
      this.#dismiss(v.key);
      this.#forget(v.key);
      return;
    }
    if (ch.pool.has(artifact.id)) return;
    // Copies: the bytes may be views into a large received message, which must not be pinned.
    const kept: DeliveredArtifact = {
      ...artifact,
      bytes: artifact.bytes.slice(),
      attributes: artifact.attributes.slice(),
    };
    try {
      ch.pool.put({
        channel: ch.name,
        id: kept.id,
        bytes: kept.bytes,
        attributes: kept.attributes,
      });
    } catch {
      this.#count('pool_full', { channel: ch.name });
      this.#dismiss(v.key);
      this.#forget(v.key);
      return;
    }
    this.#forget(v.key);
    this.#actions.push({ type: 'deliver', artifact: kept });
    this.#count('delivered', { channel: ch.name });
    if (ch.cfg.relay === 'relay') {
      const relayed = this.#advertise(ch, {
        id: kept.id,
        size: kept.bytes.length,
        attributes: kept.attributes,
        inline: undefined,
        pushedBy: v.pushedBy,
      });
      this.#count(relayed ? 'relayed' : 'relay_skipped', { channel: ch.name });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Chunked artifacts

  /**
   * Starts broadcasting a chunked artifact whose chunks are all in the channel's chunk store
   * (the driver imported them): `id` must be the SHA-256 of `manifest`. Idempotent.
   */
  addChunked(
    channel: string,
    id: ArtifactId,
    manifest: Uint8Array,
    attributes: Uint8Array,
    now: number,
  ): ArtifactId {
    const ch = this.#channel(channel);
    const m = this.#checkManifest(ch, id, manifest);
    if (!m)
      throw new ArtifactTooLargeError(`manifest of ${id} is invalid or over the channel's limits`);
    if (attributes.length > MAX_ATTRIBUTES_BYTES) {
      throw new ArtifactTooLargeError(
        `attributes of ${attributes.length} bytes exceed the limit of ${MAX_ATTRIBUTES_BYTES}`,
      );
    }
    const key = `${channel}:${id}`;
    if (ch.table.has(id)) return id;
    if (ch.table.full) {
      throw new QueueFullError(`channel '${channel}' has all ${ch.cfg.maxSlots} slots in use`);
    }
    this.#forget(key);
    const s = this.#chunkState(ch, key, id, m, manifest, attributes, undefined);
    for (let i = 0; i < s.have.size; i++) s.have.add(i);
    s.phase = 'held';
    this.#advertiseChunked(s, undefined);
    this.#touch(now);
    return id;
  }

  /**
   * Artifacts found in the channel's chunk store at start: whole ones are held (and
   * advertised, under relay policy `relay`), partial ones resume downloading, without
   * fetching the chunks already held, as soon as peers advertise them.
   */
  resume(
    channel: string,
    stored: readonly { id: ArtifactId; manifest: Uint8Array; chunks: readonly number[] }[],
    now: number,
  ): number {
    const ch = this.#channel(channel);
    let n = 0;
    for (const a of stored) {
      const key = `${channel}:${a.id}`;
      const m = this.#checkManifest(ch, a.id, a.manifest);
      if (!m || this.#chunks.has(key)) continue;
      const s = this.#chunkState(ch, key, a.id, m, a.manifest, new Uint8Array(0), undefined);
      for (const i of a.chunks) if (i < s.have.size) s.have.add(i);
      if (s.have.full) {
        s.phase = 'held';
        if (ch.cfg.relay === 'relay') this.#advertiseChunked(s, undefined);
      }
      n++;
    }
    this.#touch(now);
    return n;
  }

  /** What this node holds of a chunked artifact, if anything. */
  chunkedInfo(
    channel: string,
    id: ArtifactId,
  ): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined {
    const s = this.#chunks.get(`${channel}:${id}`);
    if (!s) return undefined;
    return { info: this.#info(s), complete: s.phase === 'held', chunksDone: s.have.count };
  }

  /** The driver wrote (ok) or failed to write chunk `index` of `id` to the chunk store. */
  onChunkWritten(channel: string, id: ArtifactId, index: number, ok: boolean, now: number): void {
    this.#touch(now);
    const s = this.#chunks.get(`${channel}:${id}`);
    if (!s?.writing.delete(index)) return;
    this.#chunksInFlight--;
    if (!ok) {
      this.#count('chunks', { channel, outcome: 'write_failed' });
      s.notBefore.set(index, now + this.#limits.retryBaseMs);
      return;
    }
    this.#count('chunks', { channel, outcome: 'written' });
    s.activeAt = now;
    s.have.add(index);
    this.#haveChanged(s);
    this.#progress(s);
    if (s.have.full && s.phase === 'downloading') {
      s.phase = 'validating';
      const artifact: DeliveredArtifact = {
        channel,
        id,
        bytes: new Uint8Array(0),
        attributes: s.attributes,
        from: s.from ?? this.self,
        chunked: this.#info(s),
      };
      this.#validate(s.channel, s.key, artifact, undefined);
    }
  }

  #info(s: ChunkState): ChunkedInfo {
    return {
      size: s.manifest.totalBytes,
      chunkBytes: s.manifest.chunkBytes,
      chunks: s.manifest.hashes.length,
    };
  }

  #checkManifest(ch: ChannelState, id: ArtifactId, bytes: Uint8Array): Manifest | undefined {
    const k = ch.cfg.chunking;
    if (!k || bytes.length > k.maxManifestBytes || manifestId(bytes) !== id) return undefined;
    const m = decodeManifest(bytes);
    if (!m || m.totalBytes > ch.cfg.maxArtifactBytes || m.chunkBytes > k.maxChunkBytes) {
      return undefined;
    }
    return m;
  }

  #chunkState(
    ch: ChannelState,
    key: string,
    id: ArtifactId,
    manifest: Manifest,
    manifestBytes: Uint8Array,
    attributes: Uint8Array,
    from: NodeId | undefined,
  ): ChunkState {
    const s: ChunkState = {
      key,
      channel: ch,
      id,
      manifest,
      manifestBytes,
      attributes,
      have: new Bitset(manifest.hashes.length),
      phase: 'downloading',
      sources: new Map(),
      inflight: new Map(),
      writing: new Set(),
      tried: new Map(),
      notBefore: new Map(),
      faulty: new Set(),
      bytesFrom: new Map(),
      haveDirty: false,
      priority: 0,
      seq: this.#chunkSeq++,
      from,
      haveFrom: new Map(),
      createdAt: this.#now,
      activeAt: this.#now,
      idHash: Number.parseInt(id.slice(0, 8), 16),
    };
    this.#chunks.set(key, s);
    this.#actions.push({ type: 'chunk-open', channel: ch.name, id, manifest: manifestBytes });
    return s;
  }

  #advertiseChunked(s: ChunkState, pushedBy: NodeId | undefined): boolean {
    return this.#advertise(s.channel, {
      id: s.id,
      size: s.manifest.totalBytes,
      manifestSize: s.manifestBytes.length,
      attributes: s.attributes,
      inline: undefined,
      pushedBy,
    });
  }

  /** A verified manifest arrived: its chunks are fetched from now on. */
  #manifestFetched(ch: ChannelState, want: Want, peer: NodeId, bytes: Uint8Array): void {
    const m = this.#checkManifest(ch, want.id, bytes);
    if (!m) {
      this.#count('peer_faults', { channel: ch.name, peer, reason: 'bad_manifest' });
      this.#dismiss(want.key);
      return;
    }
    const s = this.#chunkState(ch, want.key, want.id, m, bytes.slice(), want.attributes, peer);
    s.priority = want.priority;
    for (const p of want.advertisers.keys()) if (!want.faulty.has(p)) s.sources.set(p, 'all');
    this.#progress(s);
  }

  /**
   * Where node `peer` starts in artifact `s`: a point every node can compute for every node
   * (nodes start at different places, and each knows where the others start).
   */
  #startOf(s: ChunkState, peer: NodeId): number {
    return (crc32(`${peer}:chunks`) + s.idHash) % s.have.size;
  }

  /**
   * Who asks a whole holder for each chunk nobody holds in part: the chunks are cut into
   * shares, one per node getting the artifact (this node and every peer up that does not hold
   * it whole), from each one's start point to the next one's. Returns the owner of chunk `i`.
   */
  #shares(s: ChunkState): (i: number) => NodeId {
    const starts: { at: number; peer: NodeId }[] = [
      { at: this.#startOf(s, this.self), peer: this.self },
    ];
    for (const peer of this.#up.keys()) {
      if (s.sources.get(peer) !== 'all') starts.push({ at: this.#startOf(s, peer), peer });
    }
    starts.sort((x, y) => x.at - y.at || (x.peer < y.peer ? -1 : 1));
    return (i) => {
      // The last start at or before i (cyclically: before the first, the last one's share).
      let lo = 0;
      let hi = starts.length - 1;
      let found = starts.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid]!.at <= i) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return starts[found]!.peer;
    };
  }

  /**
   * Starts chunk fetches. Per artifact, from this node's start point, the first CHUNK_WINDOW
   * missing chunks it may take, rarest first: a chunk a partial holder has (asked of partial
   * holders only), or one only whole holders have if it is in this node's share, or its share's
   * owner has sent no `Have` for `chunkOwnerSilenceMs`. So the origin uploads about one copy
   * and the nodes swap the rest.
   */
  #startChunks(now: number): void {
    const limits = this.#limits;
    this.#chunkWakeAt = undefined;
    if (this.#chunksInFlight >= limits.maxChunksInFlight) return;
    const active = [...this.#chunks.values()]
      .filter((s) => s.phase === 'downloading' && s.sources.size > 0)
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      .slice(0, limits.maxChunkedDownloads);
    for (const s of active) {
      const n = s.have.size;
      const start = this.#startOf(s, this.self);
      const owner = this.#shares(s);
      const candidates: { index: number; holders: number; partial: boolean }[] = [];
      for (let k = 0; k < n && candidates.length < CHUNK_WINDOW; k++) {
        const i = (start + k) % n;
        if (s.have.has(i) || s.inflight.has(i) || s.writing.has(i)) continue;
        const notBefore = s.notBefore.get(i);
        if (notBefore !== undefined && notBefore > now) continue;
        let whole = 0;
        let partial = 0;
        let partialUntried = 0;
        const tried = s.tried.get(i);
        for (const [p, src] of s.sources) {
          if (s.faulty.has(p) || !this.#up.has(p)) continue;
          if (src === 'all') whole++;
          else if (src.has(i)) {
            partial++;
            if (!tried?.has(p)) partialUntried++;
          }
        }
        if (partialUntried > 0) {
          candidates.push({ index: i, holders: whole + partial, partial: true });
          continue;
        }
        if (whole === 0) {
          // Every partial holder failed it once: retried after a backoff (see #pickPeer).
          if (partial > 0) candidates.push({ index: i, holders: partial, partial: true });
          continue;
        }
        const o = owner(i);
        // A chunk whose partial holders all failed it goes to a whole holder at once.
        if (o !== this.self && partial === 0) {
          const until = (s.haveFrom.get(o) ?? s.createdAt) + limits.chunkOwnerSilenceMs;
          if (now < until) {
            if (this.#chunkWakeAt === undefined || until < this.#chunkWakeAt) {
              this.#chunkWakeAt = until;
            }
            continue;
          }
        }
        candidates.push({ index: i, holders: whole + partial, partial: false });
      }
      candidates.sort((a, b) => a.holders - b.holders);
      for (const { index, partial } of candidates) {
        if (this.#chunksInFlight >= limits.maxChunksInFlight) return;
        const peer = this.#pickPeer(s, index, partial, now);
        if (peer !== undefined) this.#fetchChunk(s, index, peer, now);
      }
    }
  }

  /**
   * The holder of chunk `index` to ask: only partial holders if `partialOnly` (a whole
   * holder's upload, the origin's above all, is left for chunks nobody else has), then the
   * highest measured throughput per request in flight (an unmeasured peer counts as the best
   * measured).
   */
  #pickPeer(s: ChunkState, index: number, partialOnly: boolean, now: number): NodeId | undefined {
    const tried = s.tried.get(index);
    let best: NodeId | undefined;
    let bestRank = -1;
    let holders = 0;
    const optimistic = Math.max(1, ...this.#throughput.values());
    for (const [peer, src] of s.sources) {
      if (s.faulty.has(peer) || !this.#up.has(peer)) continue;
      if (src === 'all' ? partialOnly : !src.has(index)) continue;
      holders++;
      if (tried?.has(peer)) continue;
      const load = this.#chunkLoad.get(peer) ?? 0;
      if (load >= this.#limits.maxChunksPerPeer) continue;
      const rank = (this.#throughput.get(peer) ?? optimistic) / (load + 1);
      if (rank > bestRank) {
        best = peer;
        bestRank = rank;
      }
    }
    if (best === undefined && holders > 0 && tried && tried.size >= holders) {
      // Every holder failed this chunk once: try them again after a backoff.
      s.tried.delete(index);
      s.notBefore.set(index, now + this.#limits.retryBaseMs);
    }
    return best;
  }

  #fetchChunk(s: ChunkState, index: number, peer: NodeId, now: number): void {
    const token = this.#nextChunkToken++;
    s.inflight.set(index, { token, peer, at: now });
    this.#chunkTokens.set(token, { key: s.key, index });
    this.#chunkLoad.set(peer, (this.#chunkLoad.get(peer) ?? 0) + 1);
    this.#chunksInFlight++;
    let tried = s.tried.get(index);
    if (!tried) {
      tried = new Set();
      s.tried.set(index, tried);
    }
    tried.add(peer);
    const bytes = chunkLength(s.manifest, index);
    const { downloadTimeoutMs, minThroughputBytesPerSec } = this.#limits;
    this.#actions.push({
      type: 'fetch',
      token,
      peer,
      lane: s.channel.cfg.lane,
      body: FetchRequest.encode({
        channel: s.channel.number,
        id: idToBytes(s.id) as Uint8Array<ArrayBuffer>,
        part: index + 1,
      }),
      timeoutMs: Math.ceil(downloadTimeoutMs + (bytes / minThroughputBytesPerSec) * 1000),
    });
  }

  /** Ends chunk fetch `token`; returns its artifact, chunk and peer if still current. */
  #endChunkFetch(
    token: number,
  ): { s: ChunkState; index: number; peer: NodeId; at: number } | undefined {
    const t = this.#chunkTokens.get(token);
    if (!t) return undefined;
    this.#chunkTokens.delete(token);
    const s = this.#chunks.get(t.key);
    const inflight = s?.inflight.get(t.index);
    if (!s || inflight?.token !== token) return undefined;
    s.inflight.delete(t.index);
    this.#chunksInFlight--;
    const load = (this.#chunkLoad.get(inflight.peer) ?? 1) - 1;
    if (load <= 0) this.#chunkLoad.delete(inflight.peer);
    else this.#chunkLoad.set(inflight.peer, load);
    return { s, index: t.index, peer: inflight.peer, at: inflight.at };
  }

  #onChunkFetched(token: number, result: FetchResult, now: number): void {
    const done = this.#endChunkFetch(token);
    if (!done) return;
    const { s, index, peer, at } = done;
    const channel = s.channel.name;
    if (s.phase !== 'downloading' || s.have.has(index)) return;
    const retry = () => this.#count('chunks', { channel, outcome: 'retried' });
    if (!result.ok) {
      retry();
      return;
    }
    let response: FetchResponse;
    try {
      response = FetchResponse.decode(result.body);
    } catch {
      this.#chunkFault(s, peer, 'missing_body');
      return;
    }
    if (response.missing || response.artifact.length === 0) {
      retry();
      return;
    }
    const bytes = response.artifact;
    if (
      bytes.length !== chunkLength(s.manifest, index) ||
      !Buffer.from(sha256(bytes)).equals(s.manifest.hashes[index]!)
    ) {
      this.#chunkFault(s, peer, 'bad_hash');
      return;
    }
    this.#count('chunks', { channel, outcome: 'fetched' });
    const rate = bytes.length / Math.max(1, now - at);
    const old = this.#throughput.get(peer);
    this.#throughput.set(peer, old === undefined ? rate : 0.7 * old + 0.3 * rate);
    s.bytesFrom.set(peer, (s.bytesFrom.get(peer) ?? 0) + bytes.length);
    s.tried.delete(index);
    // Being written counts against the bound of chunks in flight (memory).
    s.writing.add(index);
    this.#chunksInFlight++;
    this.#actions.push({ type: 'chunk-write', channel, id: s.id, index, bytes });
  }

  #chunkFault(s: ChunkState, peer: NodeId, reason: string): void {
    this.#count('chunks', { channel: s.channel.name, outcome: 'faulty' });
    this.#count('peer_faults', { channel: s.channel.name, peer, reason });
    s.faulty.add(peer);
  }

  #haveChanged(s: ChunkState): void {
    s.haveDirty = true;
    this.#haveAt ??= this.#now + this.#limits.haveIntervalMs;
  }

  /** Sends the changed have bitmaps to every peer that does not advertise the whole artifact. */
  #sendHaves(): void {
    this.#haveAt = undefined;
    const byPeer = new Map<NodeId, Map<ChannelState, Have[]>>();
    for (const s of this.#chunks.values()) {
      if (!s.haveDirty) continue;
      s.haveDirty = false;
      const have: Have = {
        id: idToBytes(s.id) as Uint8Array<ArrayBuffer>,
        bitmap: s.have.bits.slice() as Uint8Array<ArrayBuffer>,
      };
      for (const peer of this.#up.keys()) {
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
    for (const [peer, byChannel] of byPeer) {
      for (const [ch, haves] of byChannel) {
        for (let i = 0; i < haves.length; i += this.#msg.maxUpdatesPerMessage) {
          this.#actions.push({
            type: 'send',
            peer,
            lane: ch.cfg.lane,
            body: SlotUpdates.encode({
              channel: ch.number,
              updates: [],
              haves: haves.slice(i, i + this.#msg.maxUpdatesPerMessage),
            }),
            channel: ch.name,
            slots: [],
          });
        }
      }
    }
  }

  #chunkRetryAt(): number | undefined {
    let at: number | undefined;
    for (const s of this.#chunks.values()) {
      if (s.phase !== 'downloading') continue;
      for (const t of s.notBefore.values()) {
        if (t > this.#now && (at === undefined || t < at)) at = t;
      }
    }
    return at;
  }

  #chunkedValidated(s: ChunkState, verdict: Validation, pushedBy: NodeId | undefined): void {
    const channel = s.channel.name;
    if (verdict !== 'accept') {
      if (verdict === 'reject' && s.from !== undefined) {
        this.#count('peer_faults', { channel, peer: s.from, reason: 'rejected' });
      }
      this.#dropChunked(s.key);
      this.#dismiss(s.key);
      return;
    }
    s.phase = 'held';
    s.tried.clear();
    s.notBefore.clear();
    this.#actions.push({
      type: 'deliver',
      artifact: {
        channel,
        id: s.id,
        bytes: new Uint8Array(0),
        attributes: s.attributes,
        from: s.from ?? this.self,
        chunked: this.#info(s),
      },
    });
    this.#count('delivered', { channel });
    if (s.channel.cfg.relay === 'relay') {
      const relayed = this.#advertiseChunked(s, pushedBy);
      this.#count(relayed ? 'relayed' : 'relay_skipped', { channel });
    }
  }

  /**
   * Makes room for a new chunked download by forgetting the artifact held in part that has
   * been dormant longest (no peer offers it, nothing in flight, idle for `downloadTimeoutMs`),
   * if any: one its advertisers aborted must not block the others forever.
   */
  #evictDormant(now: number): boolean {
    let oldest: ChunkState | undefined;
    for (const s of this.#chunks.values()) {
      if (s.phase !== 'downloading' || s.sources.size > 0 || s.inflight.size > 0) continue;
      if (s.writing.size > 0 || now - s.activeAt < this.#limits.downloadTimeoutMs) continue;
      if (!oldest || s.activeAt < oldest.activeAt) oldest = s;
    }
    if (!oldest) return false;
    this.#count('chunks', { channel: oldest.channel.name, outcome: 'evicted' });
    this.#dropChunked(oldest.key);
    return true;
  }

  /** Forgets a chunked artifact (cancels its fetches, drops it from the store). */
  #dropChunked(key: string): boolean {
    const s = this.#chunks.get(key);
    if (!s) return false;
    for (const { token } of [...s.inflight.values()]) {
      this.#endChunkFetch(token);
      this.#actions.push({ type: 'cancel-fetch', token });
    }
    this.#chunksInFlight -= s.writing.size;
    this.#chunks.delete(key);
    this.#actions.push({ type: 'chunk-delete', channel: s.channel.name, id: s.id });
    return true;
  }

  #progress(s: ChunkState): void {
    this.#actions.push({
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
  // Serving

  /**
   * Answers a fetch request body that came on `lane` with a FetchResponse body. A large
   * artifact is not copied into it: the answer is then the field's header and the artifact's
   * own bytes, sent back to back.
   */
  serve(lane: Lane, body: Uint8Array): ResponseBody {
    const r = this.serveRequest(lane, body);
    return 'type' in r ? FetchResponse.encode({ artifact: new Uint8Array(0), missing: true }) : r;
  }

  /**
   * As {@link serve}, but a chunk of a chunked artifact is answered with a {@link ChunkRead}:
   * the driver reads it from the chunk store and answers with it.
   */
  serveRequest(lane: Lane, body: Uint8Array): ResponseBody | ChunkRead {
    let req: FetchRequest;
    try {
      req = FetchRequest.decode(body);
    } catch {
      return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
    }
    const ch = this.#byNumber.get(req.channel);
    if (ch && ch.cfg.lane !== lane) {
      this.#count('messages_dropped', { reason: 'wrong_lane' });
      return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
    }
    const id = idFromBytes(req.id);
    const chunked = ch && id ? this.#chunks.get(`${ch.name}:${id}`) : undefined;
    if (chunked) {
      const part = req.part ?? 0;
      if (part === 0)
        return [lengthDelimitedPrefix(1, chunked.manifestBytes.length), chunked.manifestBytes];
      const index = part - 1;
      if (index < chunked.have.size && chunked.have.has(index)) {
        return { type: 'read-chunk', channel: chunked.channel.name, id: chunked.id, index };
      }
      return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
    }
    if ((req.part ?? 0) !== 0)
      return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
    const artifact = ch && id ? ch.pool.get(id) : undefined;
    if (!artifact) return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
    if (artifact.bytes.length >= ZERO_COPY_MIN_BYTES) {
      // FetchResponse { artifact = 1 } with `missing` false (omitted), artifact by reference.
      return [lengthDelimitedPrefix(1, artifact.bytes.length), artifact.bytes];
    }
    return FetchResponse.encode({
      artifact: artifact.bytes as Uint8Array<ArrayBuffer>,
      missing: false,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Priorities and time

  /** Asks the priority function again about every artifact not yet held (one channel or all). */
  reprioritize(channel: string | undefined, now: number): void {
    for (const want of [...this.#downloads.wants()]) {
      if (channel !== undefined && want.channel !== channel) continue;
      const ch = this.#channel(want.channel);
      const size =
        want.manifestSize !== undefined ? want.totalSize : Math.max(...want.advertisers.values());
      const decision = ch.cfg.priority({
        channel: want.channel,
        id: want.id,
        size,
        attributes: want.attributes,
        ...(want.manifestSize !== undefined ? { manifestSize: want.manifestSize } : {}),
      });
      const token = this.#downloads.redecide(want, decision);
      if (token !== undefined) this.#cancel(token, want.key);
    }
    this.#touch(now);
  }

  /** Time passed: periodic re-evaluation and retries that are due. */
  tick(now: number): void {
    if (this.#nextReprioritize !== undefined && now >= this.#nextReprioritize) {
      this.#nextReprioritize = undefined;
      this.reprioritize(undefined, now);
    }
    this.#touch(now);
  }

  #touch(now: number): void {
    this.#scheduleNeeded = true;
    this.#now = now;
    if (this.#nextReprioritize === undefined && this.#downloads.size > 0) {
      this.#nextReprioritize = now + this.#limits.reprioritizeIntervalMs;
    }
  }

  /**
   * Starts the downloads that can start, flushes queued slot updates into messages, and
   * returns every action since the last call (in order).
   */
  takeActions(): CoreAction[] {
    if (this.#scheduleNeeded) {
      this.#scheduleNeeded = false;
      this.#startDownloads(this.#now);
      this.#startChunks(this.#now);
    }
    if (this.#haveAt !== undefined && this.#now >= this.#haveAt) this.#sendHaves();
    if (this.#laterAt !== undefined && this.#now >= this.#laterAt) this.#releaseLater();
    this.#flush();
    const wake = this.#nextWake();
    if (wake !== undefined && wake !== this.#wakeAt) {
      this.#wakeAt = wake;
      this.#actions.push({ type: 'wake', at: wake });
    } else if (wake === undefined) {
      this.#wakeAt = undefined;
    }
    const out = this.#actions;
    this.#actions = [];
    return out;
  }

  #startDownloads(now: number): void {
    if (this.#validating.size >= this.#limits.maxPendingValidations) return;
    // Chunked artifacts at once: manifests being fetched and artifacts held in part.
    let chunked = 0;
    for (const w of this.#downloads.wants())
      if (w.inflight && w.manifestSize !== undefined) chunked++;
    for (const s of this.#chunks.values()) if (s.phase !== 'held') chunked++;
    const canStart = (want: Want): boolean => {
      if (want.manifestSize === undefined) return true;
      if (chunked >= this.#limits.maxChunkedDownloads && !this.#evictDormant(now)) return false;
      chunked++;
      return true;
    };
    for (const s of this.#downloads.schedule(now, (p) => this.#up.has(p), canStart)) {
      const ch = this.#channel(s.want.channel);
      this.#count('downloads', { channel: ch.name, outcome: 'started' });
      this.#actions.push({
        type: 'fetch',
        token: s.token,
        peer: s.peer,
        lane: ch.cfg.lane,
        body: FetchRequest.encode({
          channel: ch.number,
          id: idToBytes(s.want.id) as Uint8Array<ArrayBuffer>,
        }),
        timeoutMs: s.timeoutMs,
      });
    }
  }

  #nextWake(): number | undefined {
    const times = [
      this.#nextReprioritize,
      this.#downloads.nextRetryAt,
      this.#laterAt,
      this.#haveAt,
      this.#chunkRetryAt(),
      this.#chunkWakeAt,
    ].filter((t): t is number => t !== undefined);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  #flush(): void {
    for (const [peer, byChannel] of this.#outbox) {
      for (const [name, updates] of byChannel) {
        const ch = this.#channels.get(name)!;
        let batch: SlotUpdate[] = [];
        let inlineBytes = 0;
        const emit = () => {
          if (batch.length === 0) return;
          const body = SlotUpdates.encode({ channel: ch.number, updates: batch });
          const slots = batch.map((u) => u.slot as SlotNumber);
          this.#actions.push({
            type: 'send',
            peer,
            lane: ch.cfg.lane,
            body,
            channel: ch.name,
            slots,
          });
          batch = [];
          inlineBytes = 0;
        };
        for (const u of updates) {
          const size = u.inline?.artifact.length ?? 0;
          if (
            batch.length >= this.#msg.maxUpdatesPerMessage ||
            (batch.length > 0 && inlineBytes + size > this.#msg.maxInlineBytesPerMessage)
          ) {
            emit();
          }
          batch.push(u);
          inlineBytes += size;
        }
        emit();
      }
    }
    this.#outbox.clear();
  }

  /** Counts for gauges. */
  stats(): {
    wants: number;
    downloading: number;
    validating: number;
    slots: Record<string, number>;
    peersUp: number;
  } {
    const slots: Record<string, number> = {};
    for (const ch of this.#channels.values()) slots[ch.name] = ch.table.size;
    return {
      wants: this.#downloads.size,
      downloading: this.#downloads.active + this.#chunksInFlight,
      validating: this.#validating.size,
      slots,
      peersUp: this.#up.size,
    };
  }
}
