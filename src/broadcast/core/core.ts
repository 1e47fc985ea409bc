import { crc32 } from 'node:zlib';
import {
  ArtifactExpiredError,
  ArtifactTooLargeError,
  ConfigError,
  UnknownChannelError,
} from '../../errors.ts';
import type { NodeId } from '../../identity/index.ts';
import type { Lane } from '../../transport/lanes.ts';
import type { ConnId } from '../../transport/link.ts';
import type { ResponseBody } from '../../transport/rpc.ts';
import { lengthDelimitedPrefix, ZERO_COPY_MIN_BYTES } from '../../transport/wire-parts.ts';
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
  ChannelStats,
  ChunkedInfo,
  ChunkRead,
  CommitNumber,
  CoreAction,
  DeliveredArtifact,
  DownloadLimits,
  FetchResult,
  HeldArtifactInfo,
  RemovalReason,
  SlotNumber,
  Validation,
} from '../types.ts';
import { type ChannelState, newChannelState } from './channel-state.ts';
import { ChunkedArtifacts } from './chunked.ts';
import { Downloads, type Want } from './downloads.ts';
import { fetchedBytes, missingResponse } from './fetch-response.ts';
import type { CoreObserver, TimingName } from './observer.ts';
import { PeerSlots } from './peer-slots.ts';
import type { Owner } from './retention.ts';
import type { SlotEntry } from './slot-table.ts';
import { TokenSpace, tokenOwner } from './tokens.ts';

/** Bounds of the messages the core writes and reads. */
export { type ChannelState, channelNumber } from './channel-state.ts';

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

/** What a channel holds against its bounds (for gauges). */
export interface HeldUse {
  artifacts: number;
  bytes: number;
  maxArtifacts: number;
  maxBytes: number;
}

interface Validating {
  key: string;
  channel: ChannelState;
  artifact: DeliveredArtifact;
  /** The peer that pushed it inline: its origin, which pushed it to every peer. */
  pushedBy: NodeId | undefined;
  /** Who it is charged to once held. */
  owner: Owner;
  /** When its origin broadcast it (this node's clock). */
  createdAt: number;
  /** When it went to the validation hook. */
  startedAt: number;
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

/** The largest age taken from a slot update (about 49 days): a larger one is clamped. */
const MAX_WIRE_AGE_MS = 2 ** 32;

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
  readonly #validationTokens = new TokenSpace('validation');
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
      timing: (name, channel, ms) => this.#timing(name, channel, ms),
      advertise: (ch, entry) => this.#advertise(ch, entry),
      // A chunked artifact is held (admitted) already: owner and age are its record's.
      validate: (ch, key, artifact, pushedBy) =>
        this.#validate(ch, key, artifact, pushedBy, 'self', this.#now),
      dismiss: (key) => this.#dismiss(key),
      dropped: (key, reason) => this.#dropped(key, reason),
    });
    for (const [name, cfg] of opts.channels) {
      const pool = opts.pools.get(name);
      if (!pool) throw new ConfigError(`channels.${name}`, 'has no pool');
      const state = newChannelState(name, cfg, pool);
      const clash = this.#byNumber.get(state.number);
      if (clash) {
        throw new ConfigError(
          `channels.${name}`,
          `its wire number collides with channel '${clash.name}'; rename one`,
        );
      }
      this.#channels.set(name, state);
      this.#byNumber.set(state.number, state);
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

  #timing(name: TimingName, channel: string, ms: number): void {
    this.#obs.timing?.(name, channel, Math.max(0, ms));
  }

  // -------------------------------------------------------------------------------------------
  // Local artifacts

  /**
   * Starts broadcasting an artifact of `channel`; returns its id. Idempotent for an artifact
   * already held. `ageMs`: how old it already is (an artifact broadcast again after a restart
   * keeps its expiry). When the channel is full, older artifacts are evicted to make room (see
   * `ChannelConfig.peerShare`). Throws ERR_UNKNOWN_CHANNEL, ERR_ARTIFACT_TOO_LARGE,
   * ERR_ARTIFACT_EXPIRED (`ageMs` at or past the channel's `maxAgeMs`), ERR_QUEUE_FULL (the
   * pool refused it).
   */
  add(
    channel: string,
    bytes: Uint8Array,
    opts: { attributes?: Uint8Array; urgent?: boolean; ageMs?: number },
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
    this.#now = now;
    const createdAt = this.#createdAt(ch, opts.ageMs ?? 0, channel);
    const id = artifactId(bytes);
    if (ch.table.has(id)) return id;
    const key = `${channel}:${id}`;
    // Broadcast again by the application: no longer dismissed.
    this.#dismissed.delete(key);
    const held = ch.retention.has(key);
    if (!held) this.#admit(ch, key, id, 'self', bytes.length, attributes, createdAt);
    try {
      ch.pool.put({ channel, id, bytes, attributes });
    } catch (err) {
      if (!held) ch.retention.remove(key);
      throw err;
    }
    const inline = bytes.length <= ch.cfg.pushThresholdBytes || opts.urgent === true;
    this.#advertise(ch, {
      id,
      size: bytes.length,
      attributes,
      inline: inline ? bytes : undefined,
      pushedBy: undefined,
    });
    // We hold it now: stop any download of it.
    this.#forget(key);
    this.#touch(now);
    return id;
  }

  /** When an artifact of age `ageMs` was created; throws ERR_ARTIFACT_EXPIRED if it has expired. */
  #createdAt(ch: ChannelState, ageMs: number, channel: string): number {
    if (!(ageMs >= 0) || !Number.isFinite(ageMs)) {
      throw new ArtifactExpiredError(`ageMs must be a finite number >= 0, got ${ageMs}`);
    }
    const createdAt = this.#now - ageMs;
    if (ch.retention.expired(createdAt, this.#now)) {
      throw new ArtifactExpiredError(
        `artifact of age ${ageMs} ms is past channel '${channel}' maxAgeMs of ${ch.cfg.maxAgeMs}`,
      );
    }
    return createdAt;
  }

  // -------------------------------------------------------------------------------------------
  // Retention: admission with eviction, expiry, purges

  /**
   * Makes room for an artifact charged to `owner` and records it as held: evicts what
   * {@link Retention.victims} names (a peer over its share loses its oldest first; then the
   * largest owner). Always admits: the channel's limits hold at least one artifact of any
   * size it accepts per owner.
   */
  #admit(
    ch: ChannelState,
    key: string,
    id: ArtifactId,
    owner: Owner,
    size: number,
    attributes: Uint8Array,
    createdAt: number,
  ): void {
    for (const { record, over } of ch.retention.victims(owner, size)) {
      this.#count('evicted', { channel: ch.name, peer: over });
      this.#remove(ch, record.key, 'evicted');
    }
    ch.retention.add({ key, id, size, attributes, owner, createdAt });
  }

  /**
   * Removes a held artifact from everything: its slot (withdrawn at every peer), the pool, the
   * chunk store, any download; dismissed, so that adverts of it are not fetched again.
   */
  #remove(ch: ChannelState, key: string, reason: RemovalReason): void {
    const r = ch.retention.remove(key);
    if (!r) return;
    const removed = ch.table.remove(r.id);
    if (removed) {
      this.#queueToAll(ch, { slot: removed.slot, commit: removed.commit, withdrawn: true });
    }
    ch.pool.delete(r.id);
    this.#chunked.drop(key);
    this.#forget(key);
    this.#dismiss(key);
    this.#count('removed', { channel: ch.name, reason });
    this.#actions.push({ type: 'removed', channel: ch.name, id: r.id, reason });
  }

  /** The chunked artifacts forgot `key` by themselves (evicted dormant, or rejected). */
  #dropped(key: string, reason: 'evicted' | 'rejected'): void {
    const ch = this.#channels.get(key.slice(0, key.indexOf(':')));
    const r = ch?.retention.remove(key);
    if (ch && r) {
      this.#count('removed', { channel: ch.name, reason });
      this.#actions.push({ type: 'removed', channel: ch.name, id: r.id, reason });
    }
  }

  /** Removes the held artifacts whose age passed `maxAgeMs`. */
  #expire(now: number): void {
    for (const ch of this.#channels.values()) {
      if ((ch.retention.nextExpiry() ?? Number.POSITIVE_INFINITY) > now) continue;
      for (const r of ch.retention.expiredAt(now)) this.#remove(ch, r.key, 'expired');
    }
  }

  /** Whether `attributes` fall below one of the channel's `purgeBelow` watermarks. */
  #belowWatermark(ch: ChannelState, attributes: Uint8Array): boolean {
    for (const [field, h] of ch.watermarks) {
      const v = ch.cfg.numericAttribute(attributes, field);
      if (v !== undefined && v < h) return true;
    }
    return false;
  }

  /** The artifact `r` as the application sees it. */
  #heldInfo(ch: ChannelState, key: string): HeldArtifactInfo | undefined {
    const r = ch.retention.get(key);
    if (!r) return undefined;
    const partial = this.#chunked.info(key)?.complete === false;
    return {
      id: r.id,
      size: r.size,
      attributes: r.attributes,
      origin: r.owner,
      ageMs: Math.max(0, this.#now - r.createdAt),
      held: partial ? 'partial' : 'whole',
    };
  }

  /**
   * Removes from `channel` every artifact held (whole or in part), advertised to us, or being
   * validated for which `predicate` is true; they are withdrawn from peers and will not be
   * fetched again (their ids are dismissed). Idempotent. Returns how many were held or wanted.
   */
  purge(channel: string, predicate: (a: HeldArtifactInfo) => boolean, now: number): number {
    const ch = this.#channel(channel);
    this.#now = now;
    let n = 0;
    for (const r of [...ch.retention.records()]) {
      const info = this.#heldInfo(ch, r.key)!;
      if (!predicate(info)) continue;
      this.#remove(ch, r.key, 'purged');
      n++;
    }
    for (const want of [...this.#downloads.wants()]) {
      if (want.channel !== channel) continue;
      const info: HeldArtifactInfo = {
        id: want.id,
        size: want.totalSize,
        attributes: want.attributes,
        origin: want.advertisers.keys().next().value ?? 'self',
        ageMs: Math.max(0, now - want.createdAt),
        held: 'advertised',
      };
      if (!predicate(info)) continue;
      this.#forget(want.key);
      this.#dismiss(want.key);
      this.#count('wants_removed', { channel, reason: 'purged' });
      n++;
    }
    for (const v of this.#validating.values()) {
      if (v.channel !== ch || this.#dismissed.has(v.key)) continue;
      const info: HeldArtifactInfo = {
        id: v.artifact.id,
        size: v.artifact.chunked?.size ?? v.artifact.bytes.length,
        attributes: v.artifact.attributes,
        origin: v.owner,
        ageMs: Math.max(0, now - v.createdAt),
        held: 'advertised',
      };
      if (predicate(info)) this.#dismiss(v.key); // its verdict will not deliver it
    }
    this.#touch(now);
    return n;
  }

  /**
   * Sets the watermark of numeric attribute `field` (read by the channel's `numericAttribute`)
   * to `value` (a watermark only rises) and purges every artifact whose `field` is below it;
   * adverts of such artifacts are not fetched from now on. What a consensus layer does at each
   * finalized height. Returns how many were removed.
   */
  purgeBelow(channel: string, field: string, value: number, now: number): number {
    const ch = this.#channel(channel);
    if (!Number.isFinite(value))
      throw new ConfigError('purgeBelow', `value must be finite, got ${value}`);
    const h = Math.max(ch.watermarks.get(field) ?? Number.NEGATIVE_INFINITY, value);
    ch.watermarks.set(field, h);
    return this.purge(
      channel,
      (a) => {
        const v = ch.cfg.numericAttribute(a.attributes, field);
        return v !== undefined && v < h;
      },
      now,
    );
  }

  /**
   * The artifacts `channel` holds, whole or in part, in the order they were admitted: at most
   * `limit`, after the cursor `after` (the `next` of the previous page).
   */
  list(
    channel: string,
    opts: { after?: number; limit?: number } = {},
  ): { artifacts: HeldArtifactInfo[]; next: number | undefined } {
    const ch = this.#channel(channel);
    const limit = Math.max(1, Math.min(opts.limit ?? 100, 10_000));
    const after = opts.after ?? -1;
    const artifacts: HeldArtifactInfo[] = [];
    let last: number | undefined;
    let more = false;
    for (const r of ch.retention.records()) {
      if (r.seq <= after) continue;
      if (artifacts.length === limit) {
        more = true;
        break;
      }
      artifacts.push(this.#heldInfo(ch, r.key)!);
      last = r.seq;
    }
    return { artifacts, next: more ? last : undefined };
  }

  /** The channel's use of its bounds. */
  channelStats(channel: string): ChannelStats {
    const ch = this.#channel(channel);
    let wants = 0;
    for (const w of this.#downloads.wants()) if (w.channel === channel) wants++;
    const rt = ch.retention;
    return {
      channel,
      slots: { used: ch.table.size, max: ch.cfg.maxSlots },
      held: {
        artifacts: rt.count,
        maxArtifacts: rt.limits.maxArtifacts,
        bytes: rt.bytes,
        maxBytes: rt.limits.maxBytes,
      },
      perPeer: { maxArtifacts: rt.peerMaxArtifacts, maxBytes: rt.peerMaxBytes },
      owners: rt.shares().map((s) => ({ origin: s.owner, artifacts: s.count, bytes: s.bytes })),
      wants,
      maxAgeMs: ch.cfg.maxAgeMs,
      watermarks: Object.fromEntries(ch.watermarks),
    };
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
    const record = ch.retention.remove(key);
    if (record) {
      this.#count('removed', { channel, reason: 'aborted' });
      this.#actions.push({ type: 'removed', channel, id, reason: 'aborted' });
    }
    const had = ch.pool.has(id) || this.#chunked.drop(key) || record !== undefined;
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

  #advertise(ch: ChannelState, advertised: Omit<SlotEntry, 'commit' | 'createdAt'>): boolean {
    const createdAt = ch.retention.get(`${ch.name}:${advertised.id}`)?.createdAt ?? this.#now;
    const entry = { ...advertised, createdAt };
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
    const ageMs = Math.max(0, Math.round(this.#now - e.createdAt));
    if (e.inline) {
      return {
        slot,
        commit,
        ageMs,
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
      ageMs,
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
            // Its age as it leaves, not as it was when queued.
            update.ageMs = Math.max(0, Math.round(this.#now - current.createdAt));
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
    this.#dismissed.delete(key); // re-added: it becomes the newest
    this.#dismissed.add(key);
    if (this.#dismissed.size > this.#limits.maxDismissedIds) {
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
    const ageMs = Math.min(u.ageMs ?? 0, MAX_WIRE_AGE_MS);
    const createdAt = this.#now - ageMs;
    if (ch.retention.expired(createdAt, this.#now)) {
      outcome('expired');
      return;
    }
    if (ch.watermarks.size > 0 && this.#belowWatermark(ch, attributes)) {
      outcome('purged');
      return;
    }
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
      ageMs,
    };
    if (u.inline && this.#validating.size < this.#limits.maxPendingValidations) {
      outcome('accepted');
      this.#forget(key);
      this.#validate(
        ch,
        key,
        { channel: ch.name, id, bytes: u.inline.artifact, attributes, from: peer },
        peer,
        peer,
        createdAt,
      );
      return;
    }
    // An advert (or an inline artifact we cannot validate now: we will fetch it later). An
    // advert of an artifact its origin pushed waits a grace period: the push is on its way.
    const grace = u.advert?.pushed ? this.#now + this.#limits.pushGraceMs : 0;
    const want = this.#downloads.advertised(key, advert, peer, ch.cfg.priority, grace, createdAt);
    outcome(want === undefined ? 'dropped' : want.decision === 'later' ? 'later' : 'accepted');
  }

  // -------------------------------------------------------------------------------------------
  // Downloads

  /** The result of fetch `token`. */
  onFetched(token: number, result: FetchResult, now: number): void {
    if (tokenOwner(token) === 'chunk') {
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
    if (want.manifestSize === undefined && want.firstFetchAt !== undefined) {
      this.#timing('download_duration', ch.name, now - want.firstFetchAt);
    }
    this.#downloads.remove(want.key);
    // Charged to the peer that advertised it first: the one that brought it to us.
    const owner = want.advertisers.keys().next().value ?? peer;
    if (ch.retention.expired(want.createdAt, now)) {
      this.#dismiss(want.key);
      return;
    }
    if (want.manifestSize !== undefined) {
      // A chunked artifact is held (and takes its full size) from its manifest on.
      this.#admit(ch, want.key, want.id, owner, want.totalSize, want.attributes, want.createdAt);
      this.#chunked.manifestFetched(ch, want, peer, bytes);
      if (!this.#chunked.has(want.key)) ch.retention.remove(want.key);
      return;
    }
    this.#validate(
      ch,
      want.key,
      { channel: ch.name, id: want.id, bytes, attributes: want.attributes, from: peer },
      undefined,
      owner,
      want.createdAt,
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
    owner: Owner,
    createdAt: number,
  ): void {
    const token = this.#validationTokens.next();
    const startedAt = this.#now;
    this.#validating.set(token, {
      key,
      channel: ch,
      artifact,
      pushedBy,
      owner,
      createdAt,
      startedAt,
    });
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
    this.#timing('validation_duration', ch.name, now - v.startedAt);
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
    if (ch.retention.expired(v.createdAt, now)) {
      this.#count('wants_removed', { channel: ch.name, reason: 'expired' });
      this.#dismiss(v.key);
      this.#forget(v.key);
      return;
    }
    // Copies: the bytes may be views into a large received message, which must not be pinned.
    const kept: DeliveredArtifact = {
      ...artifact,
      bytes: artifact.bytes.slice(),
      attributes: artifact.attributes.slice(),
    };
    this.#admit(ch, v.key, kept.id, v.owner, kept.bytes.length, kept.attributes, v.createdAt);
    try {
      ch.pool.put({
        channel: ch.name,
        id: kept.id,
        bytes: kept.bytes,
        attributes: kept.attributes,
      });
    } catch {
      ch.retention.remove(v.key);
      this.#count('pool_full', { channel: ch.name });
      this.#dismiss(v.key);
      this.#forget(v.key);
      return;
    }
    this.#forget(v.key);
    this.#actions.push({ type: 'deliver', artifact: kept });
    this.#count('delivered', { channel: ch.name });
    this.#timing('delivery_latency', ch.name, now - v.createdAt);
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
   * (the driver imported them): `id` must be the SHA-256 of `manifest`. Idempotent. `ageMs`
   * as for {@link add} (ERR_ARTIFACT_EXPIRED at or past `maxAgeMs`).
   */
  addChunked(
    channel: string,
    id: ArtifactId,
    manifest: Uint8Array,
    attributes: Uint8Array,
    now: number,
    ageMs = 0,
  ): ArtifactId {
    const ch = this.#channel(channel);
    this.#now = now;
    const createdAt = this.#createdAt(ch, ageMs, channel);
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
    this.#forget(key);
    this.#dismissed.delete(key);
    if (!ch.retention.has(key)) {
      this.#admit(ch, key, id, 'self', m.totalBytes, attributes, createdAt);
    }
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
    const ch = this.#channel(channel);
    this.#now = now;
    // Held again, charged to this node, and aged from now (the store keeps no age).
    for (const a of stored) {
      const key = `${channel}:${a.id}`;
      const m = this.#chunked.checkManifest(ch, a.id, a.manifest);
      if (!m || ch.retention.has(key) || this.#chunked.has(key)) continue;
      this.#admit(ch, key, a.id, 'self', m.totalBytes, new Uint8Array(0), now);
    }
    const n = this.#chunked.resume(ch, stored);
    for (const a of stored) {
      const key = `${channel}:${a.id}`;
      if (!this.#chunked.has(key)) ch.retention.remove(key);
    }
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
      if (ch.retention.expired(want.createdAt, now)) {
        this.#forget(want.key);
        this.#dismiss(want.key);
        this.#count('wants_removed', { channel: want.channel, reason: 'expired' });
        continue;
      }
      const size =
        want.manifestSize !== undefined ? want.totalSize : Math.max(...want.advertisers.values());
      const decision = ch.cfg.priority({
        channel: want.channel,
        id: want.id,
        size,
        attributes: want.attributes,
        ...(want.manifestSize !== undefined ? { manifestSize: want.manifestSize } : {}),
        ageMs: Math.max(0, now - want.createdAt),
      });
      const token = this.#downloads.redecide(want, decision);
      if (token !== undefined) this.#cancel(token, want.key);
    }
    this.#touch(now);
  }

  /** Time passed: periodic re-evaluation and retries that are due. */
  tick(now: number): void {
    this.#now = now;
    this.#expire(now);
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
    this.#expire(this.#now);
    // Wants that arrived in the last event (after its #touch) are re-evaluated too.
    if (this.#nextReprioritize === undefined && this.#downloads.size > 0) {
      this.#nextReprioritize = this.#now + this.#limits.reprioritizeIntervalMs;
    }
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
    const isUp = (p: NodeId) => this.#up.has(p);
    // Chunked downloads take places, per channel (manifests being fetched and artifacts held
    // in part): a fair share per peer, and a stalled one yields its place (chunked-places.ts).
    // A preempted manifest fetch is cancelled and its want forgotten (no queue changes: it is
    // in flight), then wanted again below.
    const cancel = (want: Want) => this.#forget(want.key);
    const places = this.#chunked.places(this.#downloads.wants(), isUp, cancel, now);
    const canStart = (want: Want) => want.manifestSize === undefined || places.admit(want);
    for (const s of this.#downloads.schedule(now, isUp, canStart)) {
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
    this.#wantAgain(places.evicted);
  }

  /**
   * Chunked downloads that lost their place are wanted again from their whole advertisers
   * (after the scheduling pass, which must not see its queues change): those adverts still
   * stand, and an honest artifact whose sources were only slow must still arrive. A stalled
   * one's key is shelved meanwhile (`ChunkedArtifacts.shelved`), so it does not start at once.
   */
  #wantAgain(evicted: ReturnType<ChunkedArtifacts['places']>['evicted']): void {
    for (const { key, advert, advertisers, createdAt } of evicted) {
      const ch = this.#channels.get(advert.channel);
      if (!ch) continue;
      for (const peer of advertisers) {
        if (!this.#up.has(peer)) continue;
        this.#downloads.advertised(key, advert, peer, ch.cfg.priority, 0, createdAt);
      }
    }
  }

  #nextWake(): number | undefined {
    const times = [
      this.#nextReprioritize,
      ...[...this.#channels.values()].map((ch) => ch.retention.nextExpiry()),
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
    held: Record<string, HeldUse>;
    peersUp: number;
  } {
    const slots: Record<string, number> = {};
    const held: Record<string, HeldUse> = {};
    for (const ch of this.#channels.values()) {
      slots[ch.name] = ch.table.size;
      const rt = ch.retention;
      held[ch.name] = {
        artifacts: rt.count,
        bytes: rt.bytes,
        maxArtifacts: rt.limits.maxArtifacts,
        maxBytes: rt.limits.maxBytes,
      };
    }
    return {
      wants: this.#downloads.size,
      downloading: this.#downloads.active + this.#chunked.inFlight,
      validating: this.#validating.size,
      slots,
      held,
      peersUp: this.#up.size,
    };
  }
}
