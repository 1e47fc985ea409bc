import { crc32 } from 'node:zlib';
import type { NodeId } from '../../identity/index.ts';
import type { Lane } from '../../transport/lanes.ts';
import type { ConnId } from '../../transport/link.ts';
import { advertFits } from '../chunks/manifest.ts';
import { MAX_ATTRIBUTES_BYTES } from '../config.ts';
import { artifactId, idFromBytes, idToBytes } from '../ids.ts';
import { type Have, type SlotUpdate, SlotUpdates } from '../proto/broadcast.ts';
import type { ArtifactId, CommitNumber, SlotNumber } from '../types.ts';
import { artifactKey, type ChannelState } from './channel-state.ts';
import type { CoreContext } from './context.ts';
import { PeerSlots } from './peer-slots.ts';
import type { SlotEntry } from './slot-table.ts';

/** The largest age taken from a slot update (about 49 days): a larger one is clamped. */
const MAX_WIRE_AGE_MS = 2 ** 32;

/** An artifact a peer's slot update offers (an advert, or inline bytes), checked and live. */
export interface Offer {
  key: string;
  id: ArtifactId;
  size: number;
  attributes: Uint8Array;
  /** A chunked artifact's manifest size; 0 for a whole one. */
  manifestSize: number;
  ageMs: number;
  /** When its origin broadcast it, by this node's clock. */
  createdAt: number;
  /** The artifact's bytes, pushed inline. */
  inline: Uint8Array | undefined;
  /** An advert whose origin pushed the artifact to every peer (it is on its way). */
  pushed: boolean;
}

/** What the adverts hand on to the sub-protocols that fetch and hold artifacts. */
export interface AdvertsHost {
  /** `peer` offers an artifact: returns the outcome to count (`adverts{outcome}`). */
  offered(peer: NodeId, ch: ChannelState, offer: Offer): string;
  /** `peer` no longer advertises `key` (a newer slot update, or its link went down). */
  withdrawn(key: string, peer: NodeId): void;
  /** `peer`'s bitmaps of the chunks it holds of chunked artifacts. */
  haves(peer: NodeId, ch: ChannelState, haves: readonly Have[]): void;
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

/**
 * The slot table and adverts sub-protocol. Sending: each channel's live artifacts hold slots;
 * every peer gets every slot update (inline for small or urgent artifacts, else an advert), the
 * whole table again when its link comes back, and an explicit withdrawal when a slot is freed;
 * relayed adverts of pushed artifacts wait a per-node delay (see `pushRelayDelayMs`).
 * Receiving: per peer and channel the newest update of each slot is kept, checked against the
 * channel's bounds, and what it offers is handed to the {@link AdvertsHost}.
 */
export class Adverts {
  readonly #ctx: CoreContext;
  readonly #host: AdvertsHost;
  readonly #linked: (a: NodeId, b: NodeId) => boolean;
  readonly #peerSlots = new Map<NodeId, Map<string, PeerSlots>>();
  readonly #outbox = new Map<NodeId, Map<string, SlotUpdate[]>>();
  /** Relayed adverts of pushed artifacts, due at `#laterAt` (see `pushRelayDelayMs`). */
  readonly #later = new Map<NodeId, Map<string, { update: SlotUpdate; id: ArtifactId }[]>>();
  #laterAt: number | undefined;
  /**
   * This node's delay for relayed adverts of pushed artifacts: between half and all of
   * `pushRelayDelayMs`, fixed per node (from its id). Staggered so, of two relayers, the
   * earlier one's advert reaches the later one before it sends its own, which it then
   * suppresses: half the relayed adverts of a full mesh go unsent.
   */
  readonly #relayDelayMs: number;

  constructor(ctx: CoreContext, host: AdvertsHost, linked: (a: NodeId, b: NodeId) => boolean) {
    this.#ctx = ctx;
    this.#host = host;
    this.#linked = linked;
    const spread = crc32(ctx.self) / 2 ** 32;
    this.#relayDelayMs = Math.round(ctx.limits.pushRelayDelayMs * (0.5 + 0.5 * spread));
  }

  /** When the delayed relayed adverts are due, if any wait. */
  get wakeAt(): number | undefined {
    return this.#laterAt;
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  /** Takes a slot for an artifact and advertises it to the peers; false if none is free. */
  advertise(ch: ChannelState, advertised: Omit<SlotEntry, 'commit' | 'createdAt'>): boolean {
    const now = this.#ctx.now;
    const createdAt = ch.retention.get(artifactKey(ch.name, advertised.id))?.createdAt ?? now;
    const entry = { ...advertised, createdAt };
    const taken = ch.table.add(entry);
    if (!taken) return false;
    for (const peer of this.#ctx.up.keys()) {
      if (this.#peerHas(peer, ch.name, entry.id)) continue;
      const update = this.#update(taken.slot, taken.commit, entry, peer);
      if (update.advert?.pushed) this.#queueLater(peer, ch, update, entry.id);
      else this.#queue(peer, ch, update);
    }
    return true;
  }

  /** Frees the slot of `id`, if it has one, and tells every peer it is withdrawn. */
  withdraw(ch: ChannelState, id: ArtifactId): boolean {
    const removed = ch.table.remove(id);
    if (!removed) return false;
    const update = { slot: removed.slot, commit: removed.commit, withdrawn: true };
    for (const peer of this.#ctx.up.keys()) this.#queue(peer, ch, update);
    return true;
  }

  /** The update of a slot for `peer` (an advert says `pushed` if the origin links to the peer). */
  #update(
    slot: SlotNumber,
    commit: CommitNumber,
    e: Omit<SlotEntry, 'commit'>,
    peer: NodeId,
  ): SlotUpdate {
    const ageMs = Math.max(0, Math.round(this.#ctx.now - e.createdAt));
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

  #queue(peer: NodeId, ch: ChannelState, update: SlotUpdate): void {
    perPeerChannel(this.#outbox, peer, ch.name).push(update);
    const kind = update.inline ? 'inline' : update.advert ? 'advert' : 'withdrawn';
    this.#ctx.count('updates_sent', { channel: ch.name, kind });
  }

  /** Queues a relayed advert of a pushed artifact for the next delayed batch. */
  #queueLater(peer: NodeId, ch: ChannelState, update: SlotUpdate, id: ArtifactId): void {
    perPeerChannel(this.#later, peer, ch.name).push({ update, id });
    this.#laterAt ??= this.#ctx.now + this.#relayDelayMs;
  }

  /**
   * If they are due, the delayed relayed adverts go, each unless the peer has advertised the
   * artifact to us since (it has it) or its slot has changed (a newer update went or will go).
   */
  releaseDue(now: number): void {
    if (this.#laterAt === undefined || now < this.#laterAt) return;
    this.#laterAt = undefined;
    for (const [peer, byChannel] of this.#later) {
      for (const [name, list] of byChannel) {
        const ch = this.#ctx.channels.get(name)!;
        for (const { update, id } of list) {
          const current = ch.table.get(update.slot as SlotNumber);
          if (current?.commit !== update.commit || this.#peerHas(peer, name, id)) {
            this.#ctx.count('relay_suppressed', { channel: name });
          } else {
            // Its age as it leaves, not as it was when queued.
            update.ageMs = Math.max(0, Math.round(now - current.createdAt));
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

  /** Flushes the queued slot updates into `send` actions, within the message limits. */
  flush(): void {
    const { maxUpdatesPerMessage, maxInlineBytesPerMessage } = this.#ctx.msg;
    for (const [peer, byChannel] of this.#outbox) {
      for (const [name, updates] of byChannel) {
        const ch = this.#ctx.channels.get(name)!;
        let batch: SlotUpdate[] = [];
        let inlineBytes = 0;
        const emit = () => {
          if (batch.length === 0) return;
          const body = SlotUpdates.encode({ channel: ch.number, updates: batch });
          const slots = batch.map((u) => u.slot as SlotNumber);
          this.#ctx.act({ type: 'send', peer, lane: ch.cfg.lane, body, channel: ch.name, slots });
          batch = [];
          inlineBytes = 0;
        };
        for (const u of updates) {
          const size = u.inline?.artifact.length ?? 0;
          if (
            batch.length >= maxUpdatesPerMessage ||
            (batch.length > 0 && inlineBytes + size > maxInlineBytesPerMessage)
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

  // -------------------------------------------------------------------------------------------
  // Peers

  /** The link to `peer` is up (in the context's `up` already): every live slot goes to it. */
  peerUp(peer: NodeId): void {
    this.#peerSlots.set(peer, new Map());
    for (const ch of this.#ctx.channels.values()) {
      for (const [slot, entry] of ch.table.entries()) {
        this.#queue(peer, ch, this.#update(slot, entry.commit, entry, peer));
      }
    }
  }

  /** See `BroadcastCore.onSendFailed`. */
  sendFailed(peer: NodeId, ch: ChannelState, slots: readonly SlotNumber[]): void {
    for (const slot of new Set(slots)) {
      const entry = ch.table.get(slot);
      if (!entry) this.#queue(peer, ch, { slot, commit: ch.table.commit, withdrawn: true });
      else if (!this.#peerHas(peer, ch.name, entry.id)) {
        this.#queue(peer, ch, this.#update(slot, entry.commit, entry, peer));
      }
    }
  }

  /** The link to `peer` is down: what it advertised no longer stands. */
  peerDown(peer: NodeId): void {
    this.#outbox.delete(peer);
    this.#later.delete(peer);
    const channels = this.#peerSlots.get(peer);
    this.#peerSlots.delete(peer);
    for (const [channel, slots] of channels ?? []) {
      for (const id of slots.ids()) this.#host.withdrawn(artifactKey(channel, id), peer);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  /** A batch of slot updates arrived from `peer` on link `connId`, on `lane`. */
  receive(peer: NodeId, connId: ConnId, lane: Lane, body: Uint8Array): void {
    const ctx = this.#ctx;
    if (ctx.up.get(peer) !== connId) {
      ctx.count('messages_dropped', { reason: 'stale_connection', peer });
      return;
    }
    const limit = ctx.msg.maxUpdatesPerMessage;
    let batch: SlotUpdates;
    try {
      batch = SlotUpdates.decode(body, { limits: { updates: limit } });
    } catch {
      ctx.count('messages_dropped', { reason: 'malformed', peer });
      return;
    }
    const ch = ctx.byNumber.get(batch.channel);
    if (!ch) {
      ctx.count('messages_dropped', { reason: 'unknown_channel', peer });
      return;
    }
    if (lane !== ch.cfg.lane) {
      ctx.count('messages_dropped', { reason: 'wrong_lane', peer });
      return;
    }
    const byChannel = this.#peerSlots.get(peer)!;
    let slots = byChannel.get(ch.name);
    if (!slots) {
      slots = new PeerSlots();
      byChannel.set(ch.name, slots);
    }
    for (const u of batch.updates) this.#apply(peer, connId, ch, slots, u);
    if (batch.haves.length > limit) {
      ctx.count('messages_dropped', { reason: 'malformed', peer });
      return;
    }
    if (batch.haves.length > 0) this.#host.haves(peer, ch, batch.haves);
  }

  #apply(peer: NodeId, connId: ConnId, ch: ChannelState, slots: PeerSlots, u: SlotUpdate): void {
    const outcome = (o: string) =>
      this.#ctx.count('adverts', { channel: ch.name, outcome: o, peer });
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
      this.#host.withdrawn(artifactKey(ch.name, applied.replaced), peer);
    }
    if (id === undefined) return; // withdrawn
    const now = this.#ctx.now;
    const ageMs = Math.min(u.ageMs ?? 0, MAX_WIRE_AGE_MS);
    const createdAt = now - ageMs;
    if (ch.retention.expired(createdAt, now)) {
      outcome('expired');
      return;
    }
    if (ch.watermarks.size > 0 && belowWatermark(ch, attributes)) {
      outcome('purged');
      return;
    }
    const key = artifactKey(ch.name, id);
    const inline = u.inline?.artifact;
    const pushed = u.advert?.pushed === true;
    const offer = { key, id, size, attributes, manifestSize, ageMs, createdAt, inline, pushed };
    outcome(this.#host.offered(peer, ch, offer));
  }
}

/** Whether `attributes` fall below one of the channel's `purgeBelow` watermarks. */
export function belowWatermark(ch: ChannelState, attributes: Uint8Array): boolean {
  for (const [field, h] of ch.watermarks) {
    const v = ch.cfg.numericAttribute(attributes, field);
    if (v !== undefined && v < h) return true;
  }
  return false;
}
