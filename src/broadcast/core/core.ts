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
import { advertFits } from '../chunks/manifest.ts';
import { MAX_ATTRIBUTES_BYTES } from '../config.ts';
import { artifactId, idFromBytes, idToBytes } from '../ids.ts';
import type { ArtifactPool } from '../pool.ts';
import { FetchRequest, FetchResponse, type SlotUpdate, SlotUpdates } from '../proto/broadcast.ts';
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
import { ChunkedArtifacts } from './chunked.ts';
import { Downloads, type Want } from './downloads.ts';
import { fetchedBytes, missingResponse } from './fetch-response.ts';
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
  /**
   * The members `node` keeps a link with (the topology). Default: unknown, and the shares of a
   * chunked artifact are cut among this node's own peers (right in a full mesh). Given, they
   * are cut among the whole holder's neighbours: in a sparse subnet only those can ask it.
   */
  neighbors?: (node: NodeId) => Iterable<NodeId>;
}

/** A channel as the core keeps it (shared with {@link ChunkedArtifacts}). */
export interface ChannelState {
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
 *
 * Chunked artifacts, once their manifest is fetched (or when added or resumed), are kept by a
 * {@link ChunkedArtifacts} (chunked.ts): the core hands it what concerns them and shares its
 * action queue, clock, counters, peers up, limits, slots and validation with it.
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
  /** Chunked artifacts, held in whole or in part. */
  readonly #chunked: ChunkedArtifacts;
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
    this.#chunked = new ChunkedArtifacts({
      self: this.self,
      limits: this.#limits,
      maxUpdatesPerMessage: this.#msg.maxUpdatesPerMessage,
      up: this.#up,
      linked: this.#linked,
      ...(opts.neighbors ? { neighbors: opts.neighbors } : {}),
      now: () => this.#now,
      act: (action) => this.#actions.push(action),
      count: (name, labels) => this.#count(name, labels),
      advertise: (ch, entry) => this.#advertise(ch, entry),
      validate: (ch, key, artifact, pushedBy) => this.#validate(ch, key, artifact, pushedBy),
      dismiss: (key) => this.#dismiss(key),
    });
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
    const had = ch.pool.has(id) || this.#chunked.drop(key);
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
    this.#chunked.peerUp();
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
    this.#chunked.peerDown(peer);
    this.#touch(now);
  }

  #withdrawAdvert(key: string, peer: NodeId): void {
    this.#chunked.withdrawn(key, peer);
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
    for (const h of batch.haves) this.#chunked.applyHave(peer, ch, h);
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
    const chunked = this.#chunked.advertised(key, peer, size, manifestSize);
    if (chunked !== undefined) {
      outcome(chunked);
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
    if (this.#chunked.owns(token)) {
      this.#touch(now);
      this.#chunked.onFetched(token, result, now);
      return;
    }
    const done = this.#downloads.finish(token);
    this.#touch(now);
    if (!done) return; // cancelled or superseded
    const { want, peer } = done;
    const ch = this.#channel(want.channel);
    const labels = { channel: ch.name };
    const bytes = fetchedBytes(result);
    if (bytes === 'retry') {
      this.#retry(want, peer, false);
      return;
    }
    if (bytes === 'malformed') {
      this.#faulty(want, peer, 'missing_body');
      return;
    }
    if (bytes.length > want.advertisers.get(peer)!) {
      this.#faulty(want, peer, 'oversized');
      return;
    }
    if (artifactId(bytes) !== want.id) {
      this.#faulty(want, peer, 'bad_hash');
      return;
    }
    if (ch.pool.has(want.id) || this.#chunked.has(want.key)) {
      this.#count('duplicate_downloads', labels);
      this.#downloads.remove(want.key);
      return;
    }
    this.#count('downloads', { ...labels, outcome: 'succeeded' });
    this.#downloads.remove(want.key);
    if (want.manifestSize !== undefined) {
      this.#chunked.manifestFetched(ch, want, peer, bytes);
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
    if (this.#chunked.validated(v.key, verdict, v.pushedBy)) return;
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
  // Chunked artifacts (kept by ChunkedArtifacts, chunked.ts)

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
    const m = this.#chunked.checkManifest(ch, id, manifest);
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
    this.#chunked.addHeld(ch, key, id, m, manifest, attributes);
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
    const n = this.#chunked.resume(this.#channel(channel), stored);
    this.#touch(now);
    return n;
  }

  /** What this node holds of a chunked artifact, if anything. */
  chunkedInfo(
    channel: string,
    id: ArtifactId,
  ): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined {
    return this.#chunked.info(`${channel}:${id}`);
  }

  /** The driver wrote (ok) or failed to write chunk `index` of `id` to the chunk store. */
  onChunkWritten(channel: string, id: ArtifactId, index: number, ok: boolean, now: number): void {
    this.#touch(now);
    this.#chunked.written(channel, id, index, ok, now);
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
    return 'type' in r ? missingResponse() : r;
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
      return missingResponse();
    }
    const ch = this.#byNumber.get(req.channel);
    if (ch && ch.cfg.lane !== lane) {
      this.#count('messages_dropped', { reason: 'wrong_lane' });
      return missingResponse();
    }
    const id = idFromBytes(req.id);
    const chunked = ch && id ? this.#chunked.serve(`${ch.name}:${id}`, req.part ?? 0) : undefined;
    if (chunked) return chunked;
    if ((req.part ?? 0) !== 0) return missingResponse();
    const artifact = ch && id ? ch.pool.get(id) : undefined;
    if (!artifact) return missingResponse();
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
      this.#chunked.start(this.#now);
    }
    this.#chunked.flushHaves(this.#now);
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
    let atOnce = this.#chunked.unfinished;
    for (const w of this.#downloads.wants())
      if (w.inflight && w.manifestSize !== undefined) atOnce++;
    const canStart = (want: Want): boolean => {
      if (want.manifestSize === undefined) return true;
      if (atOnce >= this.#limits.maxChunkedDownloads && !this.#chunked.evictDormant(now)) {
        return false;
      }
      atOnce++;
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
      ...this.#chunked.wakeTimes(),
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
      downloading: this.#downloads.active + this.#chunked.inFlight,
      validating: this.#validating.size,
      slots,
      peersUp: this.#up.size,
    };
  }
}
