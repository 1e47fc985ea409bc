import { createHash, randomBytes } from 'node:crypto';
import type { NodeId } from '../../identity/index.ts';
import { Lane } from '../../transport/lanes.ts';
import type { ArtifactId } from '../types.ts';
import type { ChannelState } from './channel-state.ts';
import type { CoreContext } from './context.ts';
import { relayDelayMs } from './delayed-relays.ts';

/** Bytes of one receipt on the wire (a 48-bit tag: exact as a JS number). */
export const RECEIPT_BYTES = 6;
/** Bytes of each side's half of a link's receipt key. */
export const LINK_SALT_BYTES = 16;
/**
 * How long receipts from a peer are kept at least, ms: the larger of this and 4 x
 * `pushRelayDelayMs` (in two generations, at most the channel's `maxSlots` receipts each per
 * peer). A receipt matters until this node's own relayed advert of that artifact is due,
 * `pushRelayDelayMs` after it accepted it, which may be well after the peer sent it.
 */
export const RECEIPT_WINDOW_MS = 2000;

/**
 * Receipts wait at most this long, ms, for a message to ride on, then go in batches (one
 * message per peer and channel): a receipt per artifact and peer must not cost a message each.
 */
export const RECEIPT_BATCH_MS = 50;

/** The receipt window for a node's `pushRelayDelayMs`, on a channel of `lane`. */
export function receiptWindowMs(pushRelayDelayMs: number, lane: Lane = Lane.high): number {
  return Math.max(RECEIPT_WINDOW_MS, 4 * relayDelayMs(pushRelayDelayMs, lane));
}

/** A peer's receipts of one channel: two generations, so the old ones go without a sweep. */
class ReceiptWindow {
  #current = new Set<number>();
  #previous = new Set<number>();
  #since: number;
  readonly #windowMs: number;

  constructor(now: number, windowMs: number) {
    this.#since = now;
    this.#windowMs = windowMs;
  }

  /** Adds `tag`; the older generation is dropped when the newer is full or half a window old. */
  add(tag: number, now: number, cap: number): void {
    this.#age(now);
    if (this.#current.size >= cap) this.#rotate(now);
    this.#current.add(tag);
  }

  has(tag: number, now: number): boolean {
    this.#age(now);
    return this.#current.has(tag) || this.#previous.has(tag);
  }

  /** Moves on the generations that are half a window old (both, a whole window old). */
  #age(now: number): void {
    if (now - this.#since >= this.#windowMs) {
      this.#previous = new Set();
      this.#current = new Set();
      this.#since = now;
    } else if (now - this.#since >= this.#windowMs / 2) this.#rotate(now);
  }

  #rotate(now: number): void {
    this.#previous = this.#current;
    this.#current = new Set();
    this.#since = now;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}

/** A receipt tag is 3 hashes of 16 bits (48 in all) ... */
const TAG_PARTS = 3;
/** ... each of the id's 256 bits cut into 16 chunks of 16 bits. */
const ID_CHUNKS = 16;

/** A link's receipt key: the multipliers and offsets of {@link receiptTag}, 32 bits each. */
export interface TagKey {
  /** TAG_PARTS x ID_CHUNKS multipliers. */
  a: Uint32Array;
  /** TAG_PARTS offsets. */
  b: Uint32Array;
}

/** The tag key of a 16-byte link key: its words expanded with SHA-256 (once per link). */
export function tagKey(linkKey: Uint8Array): TagKey {
  const words = TAG_PARTS * (ID_CHUNKS + 1);
  const bytes = Buffer.alloc(Math.ceil((words * 4) / 32) * 32);
  for (let block = 0; block * 32 < bytes.length; block++) {
    createHash('sha256')
      .update(linkKey)
      .update(Uint8Array.of(block))
      .digest()
      .copy(bytes, block * 32);
  }
  const all = new Uint32Array(words);
  for (let i = 0; i < words; i++) all[i] = bytes.readUInt32LE(i * 4);
  return { a: all.subarray(0, TAG_PARTS * ID_CHUNKS), b: all.subarray(TAG_PARTS * ID_CHUNKS) };
}

/** The value of each hex digit's character code (ids are lower-case hex). */
const HEX = new Uint8Array(128);
for (let d = 0; d < 16; d++) HEX[d.toString(16).charCodeAt(0)] = d;

/**
 * The 48-bit receipt tag of artifact `id` under `key`: three vector multiply-shift hashes
 * (Dietzfelbinger; Thorup, "High speed hashing for integers and strings") of the id's sixteen
 * 16-bit chunks x_i, each ((b + sum a_i x_i) mod 2^32) >> 16 with its own random 32-bit a_i and
 * b. With 32-bit arithmetic, 16-bit chunks and 16-bit outputs this family is strongly universal
 * (32 >= 16 + 16 - 1): two distinct ids fixed without knowledge of the key share a 16-bit part
 * with probability 2^-16, and all three with 2^-48. Math.imul keeps it exact and cheap: no
 * SHA-256 per artifact and peer.
 */
export function receiptTag(key: TagKey, id: ArtifactId): number {
  const { a, b } = key;
  let h0 = b[0]!;
  let h1 = b[1]!;
  let h2 = b[2]!;
  for (let i = 0; i < ID_CHUNKS; i++) {
    const at = 4 * i;
    const x =
      (HEX[id.charCodeAt(at)]! << 12) |
      (HEX[id.charCodeAt(at + 1)]! << 8) |
      (HEX[id.charCodeAt(at + 2)]! << 4) |
      HEX[id.charCodeAt(at + 3)]!;
    h0 = (h0 + Math.imul(a[i]!, x)) | 0;
    h1 = (h1 + Math.imul(a[ID_CHUNKS + i]!, x)) | 0;
    h2 = (h2 + Math.imul(a[2 * ID_CHUNKS + i]!, x)) | 0;
  }
  return (h0 >>> 16) * 2 ** 32 + (h1 >>> 16) * 2 ** 16 + (h2 >>> 16);
}

/** What one link's receipts need: both halves of its key, then the key. */
interface LinkKey {
  /** This node's half, sent once in its first message on the link (see `#saltsDue`). */
  mine: Buffer;
  /** The tag key (from the XOR of both halves), once the peer's half arrived. */
  key: TagKey | undefined;
}

/**
 * Receipts: a compact "I hold it" for artifacts pushed inline by their origin. An origin pushes
 * a small artifact to every peer; each receiver, once it accepts it, would relay an advert of
 * it to every other peer after `pushRelayDelayMs` unless that peer advertised it meanwhile: in
 * a full mesh about n^2 / 2 adverts of ~60 bytes per 1 KiB artifact. Instead each receiver
 * sends each peer a 6-byte receipt at once, and a relayer drops its delayed advert to a peer
 * whose receipt came. An advert still goes to any peer that sent none (it missed the push, or
 * lags): eventual delivery does not depend on receipts, only the cost does.
 *
 * A receipt is a keyed tag of the artifact id ({@link receiptTag}), the key secret to the
 * link's two ends (each sends 16 random bytes over the TLS link), so a third party, such as an
 * origin pushing different artifacts to different peers, cannot make two ids share a tag. A
 * false match needs a chance collision among the at most 2 x `maxSlots` receipts kept per peer
 * and channel: under 1 in 10^10 per check. See docs/protocol.md, Receipts.
 */
export class Receipts {
  readonly #ctx: CoreContext;
  readonly #links = new Map<NodeId, LinkKey>();
  /** Receipts to send, per peer and channel. */
  readonly #outbox = new Map<NodeId, Map<string, number[]>>();
  /** Receipts received, per peer and channel. */
  readonly #received = new Map<NodeId, Map<string, ReceiptWindow>>();
  /** When the queued receipts go on their own, if any are queued. */
  #dueAt: number | undefined;
  /** Links whose half key is still to be sent. */
  readonly #saltsDue = new Set<NodeId>();

  constructor(ctx: CoreContext) {
    this.#ctx = ctx;
  }

  /** A link to `peer` came up: a fresh half key, to send in the first message. */
  peerUp(peer: NodeId): void {
    this.#links.set(peer, { mine: randomBytes(LINK_SALT_BYTES), key: undefined });
    this.#saltsDue.add(peer);
    this.#outbox.delete(peer);
    this.#received.set(peer, new Map());
  }

  /** The link to `peer` is down: its key and receipts go with it. */
  peerDown(peer: NodeId): void {
    this.#links.delete(peer);
    this.#saltsDue.delete(peer);
    this.#outbox.delete(peer);
    this.#received.delete(peer);
  }

  /** The peer's half of the link key arrived; false if it is malformed (not 16 bytes). */
  onSalt(peer: NodeId, salt: Uint8Array): boolean {
    const link = this.#links.get(peer);
    if (!link) return true;
    if (salt.length !== LINK_SALT_BYTES) return false;
    const key = Buffer.alloc(LINK_SALT_BYTES);
    for (let i = 0; i < LINK_SALT_BYTES; i++) key[i] = link.mine[i]! ^ salt[i]!;
    link.key = tagKey(key);
    return true;
  }

  /** This node's half of the key for `peer`, if still to be sent (then marked sent). */
  takeSalt(peer: NodeId): Buffer | undefined {
    if (!this.#saltsDue.delete(peer)) return undefined;
    return this.#links.get(peer)?.mine;
  }

  /** When the queued receipts are due on their own (see {@link RECEIPT_BATCH_MS}). */
  get wakeAt(): number | undefined {
    return this.#dueAt;
  }

  /**
   * Whether the queued receipts are due at `now`; if so they are no longer (every queued
   * receipt goes in the flush that asked), and {@link withReceipts} names their peers.
   */
  takeDue(now: number): boolean {
    if (this.#dueAt === undefined || now < this.#dueAt) return false;
    this.#dueAt = undefined;
    return true;
  }

  /** Peers with receipts queued. */
  withReceipts(): Iterable<NodeId> {
    return this.#outbox.keys();
  }

  /** Peers whose link still waits for this node's half key (sent in the next flush). */
  get saltsDue(): ReadonlySet<NodeId> {
    return this.#saltsDue;
  }

  /**
   * Queues a receipt of `id` for `peer`, if the link's key is known (else the advert will do);
   * returns it (the same tag marks the peer's receipt of `id`), or undefined.
   */
  queue(peer: NodeId, ch: ChannelState, id: ArtifactId): number | undefined {
    const tag = this.#tag(peer, id);
    if (tag === undefined) return undefined;
    let byChannel = this.#outbox.get(peer);
    if (!byChannel) {
      byChannel = new Map();
      this.#outbox.set(peer, byChannel);
    }
    let tags = byChannel.get(ch.name);
    if (!tags) {
      tags = [];
      byChannel.set(ch.name, tags);
    }
    tags.push(tag);
    this.#dueAt ??= this.#ctx.now + RECEIPT_BATCH_MS;
    return tag;
  }

  /**
   * The receipts queued for `peer`, by channel, encoded, and taken from the queue: of every
   * channel in `channels`, or of all if it is undefined.
   */
  take(peer: NodeId, channels?: { has(name: string): boolean }): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    const byChannel = this.#outbox.get(peer);
    if (!byChannel) return out;
    for (const [name, tags] of byChannel) {
      if (channels && !channels.has(name)) continue;
      byChannel.delete(name);
      const bytes = Buffer.allocUnsafe(tags.length * RECEIPT_BYTES);
      tags.forEach((tag, i) => {
        bytes.writeUIntLE(tag, i * RECEIPT_BYTES, RECEIPT_BYTES);
      });
      out.set(name, bytes);
      this.#ctx.count('receipts', { channel: name, kind: 'sent' }, tags.length);
    }
    if (byChannel.size === 0) this.#outbox.delete(peer);
    if (this.#outbox.size === 0) this.#dueAt = undefined;
    return out;
  }

  /**
   * Receipts from `peer` on channel `ch`; false if malformed (not a whole number of receipts,
   * or more than `maxUpdatesPerMessage` of them in one message).
   */
  onReceipts(peer: NodeId, ch: ChannelState, bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true;
    const n = bytes.length / RECEIPT_BYTES;
    if (!Number.isInteger(n) || n > this.#ctx.msg.maxUpdatesPerMessage) return false;
    const byChannel = this.#received.get(peer);
    if (!byChannel) return true;
    let window = byChannel.get(ch.name);
    if (!window) {
      const windowMs = receiptWindowMs(this.#ctx.limits.pushRelayDelayMs, ch.cfg.lane);
      window = new ReceiptWindow(this.#ctx.now, windowMs);
      byChannel.set(ch.name, window);
    }
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const now = this.#ctx.now;
    for (let i = 0; i < n; i++) {
      window.add(buf.readUIntLE(i * RECEIPT_BYTES, RECEIPT_BYTES), now, ch.cfg.maxSlots);
    }
    this.#ctx.count('receipts', { channel: ch.name, kind: 'received' }, n);
    return true;
  }

  /** Whether `peer` sent a receipt of `id` on `ch` within the window. */
  has(peer: NodeId, ch: ChannelState, id: ArtifactId): boolean {
    const tag = this.#tag(peer, id);
    return tag !== undefined && this.hasTag(peer, ch, tag);
  }

  /** Whether `peer` sent receipt `tag` on `ch` within the window. */
  hasTag(peer: NodeId, ch: ChannelState, tag: number): boolean {
    return this.#received.get(peer)?.get(ch.name)?.has(tag, this.#ctx.now) ?? false;
  }

  /** Receipts held from `peer` on `channel` (for tests of the bound). */
  heldFrom(peer: NodeId, channel: string): number {
    return this.#received.get(peer)?.get(channel)?.size ?? 0;
  }

  /** The tag of `id` on the link to `peer`, once its key is known. */
  #tag(peer: NodeId, id: ArtifactId): number | undefined {
    const key = this.#links.get(peer)?.key;
    if (!key) return undefined;
    return receiptTag(key, id);
  }
}
