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
import { DelayedRelays, type LaterRelay } from './delayed-relays.ts';
import { PeerSlots } from './peer-slots.ts';
import { RECEIPT_BYTES, Receipts } from './receipts.ts';
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
 * relayed adverts of pushed or fetched artifacts wait a per-node delay (see `pushRelayDelayMs`),
 * and go only to peers that sent no receipt of the artifact meanwhile (see {@link Receipts}).
 * Receiving: per peer and channel the newest update of each slot is kept, checked against the
 * channel's bounds, and what it offers is handed to the {@link AdvertsHost}.
 */
export class Adverts {
  readonly #ctx: CoreContext;
  readonly #host: AdvertsHost;
  readonly #linked: (a: NodeId, b: NodeId) => boolean;
  readonly #peerSlots = new Map<NodeId, Map<string, PeerSlots>>();
  readonly #outbox = new Map<NodeId, Map<string, SlotUpdate[]>>();
  /** Relayed adverts of pushed or fetched artifacts, waiting for their delay (see `pushRelayDelayMs`). */
  readonly #later: DelayedRelays;
  readonly #receipts: Receipts;

  constructor(ctx: CoreContext, host: AdvertsHost, linked: (a: NodeId, b: NodeId) => boolean) {
    this.#ctx = ctx;
    this.#host = host;
    this.#linked = linked;
    this.#later = new DelayedRelays(ctx);
    this.#receipts = new Receipts(ctx);
  }

  /** Relayed adverts waiting for their delay (for tests of the bound). */
  get waitingRelays(): number {
    return this.#later.size;
  }

  /** When the delayed relayed adverts are due, if any wait. */
  get wakeAt(): number | undefined {
    const relays = this.#later.wakeAt;
    const receipts = this.#receipts.wakeAt;
    if (relays === undefined) return receipts;
    return receipts === undefined ? relays : Math.min(relays, receipts);
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
    let later: LaterRelay | undefined;
    // Who gave us the artifact: the peer that pushed it, or the one we fetched it from.
    const source = entry.pushedBy ?? entry.fetchedFrom;
    for (const peer of this.#ctx.up.keys()) {
      if (this.#peerHas(peer, ch.name, entry.id)) continue;
      if (!entry.inline && source !== undefined && this.#linked(source, peer)) {
        // The peer got the same push, or the same advert, most likely: tell it we hold the
        // artifact (so it need not advertise it to us), and advertise it only if it sends no
        // such receipt.
        later ??= { ch, slot: taken.slot, commit: taken.commit, id: entry.id, peers: [], tags: [] };
        later.peers.push(peer);
        later.tags.push(this.#receipts.queue(peer, ch, entry.id));
      } else this.#queue(peer, ch, this.#update(taken.slot, taken.commit, entry, peer));
    }
    if (later) {
      const early = this.#later.add(later);
      if (early) this.#release([early]);
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

  /**
   * If they are due, the delayed relayed adverts go, each unless the peer has advertised the
   * artifact to us or sent a receipt of it since (it has it), or its slot has changed (a newer
   * update went or will go).
   */
  releaseDue(now: number): void {
    this.#release(this.#later.takeDue(now));
  }

  /** Relays that waited enough (or were pushed out of a full queue) go or are suppressed. */
  #release(relays: readonly LaterRelay[]): void {
    const suppressed = new Map<string, number>();
    for (const r of relays) {
      const { ch, id } = r;
      const current = ch.table.get(r.slot);
      r.peers.forEach((peer, i) => {
        const tag = r.tags[i];
        if (
          current?.commit !== r.commit ||
          !this.#ctx.up.has(peer) ||
          this.#peerHas(peer, ch.name, id) ||
          (tag !== undefined && this.#receipts.hasTag(peer, ch, tag))
        ) {
          suppressed.set(ch.name, (suppressed.get(ch.name) ?? 0) + 1);
        } else {
          // Built as it leaves: its age then, and `pushed` as the topology says.
          this.#queue(peer, ch, this.#update(r.slot, r.commit, current, peer));
        }
      });
    }
    for (const [channel, n] of suppressed) this.#ctx.count('relay_suppressed', { channel }, n);
  }

  #peerHas(peer: NodeId, channel: string, id: ArtifactId): boolean {
    return this.#peerSlots.get(peer)?.get(channel)?.advertises(id) ?? false;
  }

  /**
   * Flushes the queued slot updates and receipts into `send` actions, within the message
   * limits; a link's first message carries this node's half of its receipt key (an otherwise
   * empty message on the first channel if nothing else is due).
   */
  flush(): void {
    const receiptsDue = this.#receipts.takeDue(this.#ctx.now);
    const salts = this.#receipts.saltsDue;
    if (this.#outbox.size === 0 && !receiptsDue && salts.size === 0) return;
    const peers = new Set(this.#outbox.keys());
    if (receiptsDue) for (const peer of this.#receipts.withReceipts()) peers.add(peer);
    for (const peer of salts) peers.add(peer);
    for (const peer of peers) {
      const byChannel = this.#outbox.get(peer);
      // Receipts ride on the updates going anyway (all of them with a link's first message),
      // and go on their own once due.
      const all = receiptsDue || salts.has(peer);
      const receipts = this.#receipts.take(peer, all ? undefined : byChannel);
      const salt = this.#receipts.takeSalt(peer);
      const names = new Set([...(byChannel?.keys() ?? []), ...receipts.keys()]);
      if (salt && names.size === 0) {
        const first = this.#ctx.channels.keys().next();
        if (!first.done) names.add(first.value);
      }
      let linkSalt = salt;
      for (const name of names) {
        const ch = this.#ctx.channels.get(name)!;
        const tags = receipts.get(name);
        this.#emitChannel(peer, ch, byChannel?.get(name) ?? [], tags, linkSalt);
        linkSalt = undefined;
      }
    }
    this.#outbox.clear();
  }

  /** The `send` actions of one peer and channel: updates, then any receipts left over. */
  #emitChannel(
    peer: NodeId,
    ch: ChannelState,
    updates: readonly SlotUpdate[],
    receipts: Uint8Array | undefined,
    salt: Uint8Array | undefined,
  ): void {
    const { maxUpdatesPerMessage, maxInlineBytesPerMessage } = this.#ctx.msg;
    const receiptBytes = receipts?.length ?? 0;
    let receiptsAt = 0;
    let linkSalt = salt;
    const emit = (batch: SlotUpdate[]) => {
      const end = Math.min(receiptBytes, receiptsAt + maxUpdatesPerMessage * RECEIPT_BYTES);
      const body = SlotUpdates.encode({
        channel: ch.number,
        updates: batch,
        ...(linkSalt ? { linkSalt: linkSalt as Uint8Array<ArrayBuffer> } : {}),
        ...(end > receiptsAt
          ? { receipts: receipts!.subarray(receiptsAt, end) as Uint8Array<ArrayBuffer> }
          : {}),
      });
      receiptsAt = end;
      linkSalt = undefined;
      const slots = batch.map((u) => u.slot as SlotNumber);
      // On the channel's lane, receipts alone too: on the high lane, a bulk channel's receipts
      // would pass for crucial traffic, and the load governor would hold bulk back for them.
      this.#ctx.act({ type: 'send', peer, lane: ch.cfg.lane, body, channel: ch.name, slots });
    };
    let batch: SlotUpdate[] = [];
    let inlineBytes = 0;
    for (const u of updates) {
      const size = u.inline?.artifact.length ?? 0;
      if (
        batch.length >= maxUpdatesPerMessage ||
        (batch.length > 0 && inlineBytes + size > maxInlineBytesPerMessage)
      ) {
        emit(batch);
        batch = [];
        inlineBytes = 0;
      }
      batch.push(u);
      inlineBytes += size;
    }
    if (batch.length > 0) emit(batch);
    while (receiptsAt < receiptBytes || linkSalt) emit([]);
  }

  // -------------------------------------------------------------------------------------------
  // Peers

  /** The link to `peer` is up (in the context's `up` already): every live slot goes to it. */
  peerUp(peer: NodeId): void {
    this.#peerSlots.set(peer, new Map());
    this.#receipts.peerUp(peer);
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
    this.#receipts.peerDown(peer);
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
    // Slot updates, haves and receipts on the channel's lane only.
    if (lane !== ch.cfg.lane) {
      ctx.count('messages_dropped', { reason: 'wrong_lane', peer });
      return;
    }
    if (batch.receipts.length > 0 && !validReceipts(batch.receipts, limit)) {
      ctx.count('messages_dropped', { reason: 'malformed', peer });
      return;
    }
    if (batch.linkSalt.length > 0 && !this.#receipts.onSalt(peer, batch.linkSalt)) {
      ctx.count('messages_dropped', { reason: 'malformed', peer });
      return;
    }
    const byChannel = this.#peerSlots.get(peer)!;
    let slots = byChannel.get(ch.name);
    if (!slots) {
      slots = new PeerSlots();
      byChannel.set(ch.name, slots);
    }
    for (const u of batch.updates) this.#apply(peer, connId, ch, slots, u);
    this.#receipts.onReceipts(peer, ch, batch.receipts);
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

/** Whether `bytes` are a whole number of receipts, at most `limit` of them. */
function validReceipts(bytes: Uint8Array, limit: number): boolean {
  return bytes.length % RECEIPT_BYTES === 0 && bytes.length / RECEIPT_BYTES <= limit;
}

/** Whether `attributes` fall below one of the channel's `purgeBelow` watermarks. */
export function belowWatermark(ch: ChannelState, attributes: Uint8Array): boolean {
  for (const [field, h] of ch.watermarks) {
    const v = ch.cfg.numericAttribute(attributes, field);
    if (v !== undefined && v < h) return true;
  }
  return false;
}
