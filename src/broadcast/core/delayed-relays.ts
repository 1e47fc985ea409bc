import { crc32 } from 'node:zlib';
import type { NodeId } from '../../identity/index.ts';
import { Lane } from '../../transport/lanes.ts';
import type { ArtifactId, CommitNumber, SlotNumber } from '../types.ts';
import type { ChannelState } from './channel-state.ts';
import type { CoreContext } from './context.ts';

/**
 * On a bulk-lane channel, relayed adverts of pushed and fetched artifacts wait this many times
 * `pushRelayDelayMs`: there the pushes themselves wait behind bulk flow control, and reach
 * the peers seconds apart under load, so their receipts do too.
 */
export const BULK_RELAY_DELAY_FACTOR = 4;

/** The longest a relayed advert of a pushed artifact waits on a channel of `lane`, ms. */
export function relayDelayMs(pushRelayDelayMs: number, lane: Lane): number {
  return lane === Lane.bulk ? BULK_RELAY_DELAY_FACTOR * pushRelayDelayMs : pushRelayDelayMs;
}

/** A relayed advert of a pushed artifact, waiting for its delay (or the peers' receipts). */
export interface LaterRelay {
  ch: ChannelState;
  slot: SlotNumber;
  commit: CommitNumber;
  id: ArtifactId;
  /** The peers it would go to, and the receipt of each (undefined: no link key yet). */
  peers: NodeId[];
  tags: (number | undefined)[];
}

/** Items in the order they fall due (pushed with non-decreasing due times). */
class DueQueue<T> {
  #items: { at: number; item: T }[] = [];
  #head = 0;

  push(at: number, item: T): void {
    this.#items.push({ at, item });
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Removes and returns the first item (the next due), if any. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!.item;
    this.#head += 1;
    return item;
  }

  get firstDue(): number | undefined {
    return this.#items[this.#head]?.at;
  }

  /** Removes and returns the items due at `now`, appended to `out`. */
  takeDue(now: number, out: T[]): void {
    while (this.#head < this.#items.length && this.#items[this.#head]!.at <= now) {
      out.push(this.#items[this.#head]!.item);
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * The relayed adverts of pushed and fetched artifacts, each waiting this node's delay: between half and all
 * of `pushRelayDelayMs` (times {@link BULK_RELAY_DELAY_FACTOR} on a bulk-lane channel), fixed
 * per node from its id, and rounded up to a tenth of it so that a burst's adverts go in few
 * batches. Staggered so that, where no receipts flow, of two relayers the earlier one's advert
 * reaches the later one before it sends its own, which it then suppresses. One queue per lane:
 * within one, due times never decrease, so taking what is due is a walk from the front.
 */
export class DelayedRelays {
  readonly #ctx: CoreContext;
  /** This node's share of the delay, 0.5 to 1. */
  readonly #spread: number;
  readonly #queues = new Map<Lane, DueQueue<LaterRelay>>([
    [Lane.high, new DueQueue()],
    [Lane.bulk, new DueQueue()],
  ]);

  constructor(ctx: CoreContext) {
    this.#ctx = ctx;
    this.#spread = 0.5 + (0.5 * crc32(ctx.self)) / 2 ** 32;
  }

  /**
   * Queues `relay`, due this node's delay from now. Each waiting relay belongs to a slot taken
   * meanwhile, but slots freed and taken again within the delay (a peer whose artifacts are
   * evicted as fast as they come) leave theirs behind: so a lane holds at most as many as its
   * channels have slots (`maxSlots`), and past that its oldest is returned, due at once.
   */
  add(relay: LaterRelay): LaterRelay | undefined {
    const lane = relay.ch.cfg.lane === Lane.bulk ? Lane.bulk : Lane.high;
    const delay = Math.round(relayDelayMs(this.#ctx.limits.pushRelayDelayMs, lane) * this.#spread);
    const step = Math.max(1, delay / 10);
    const queue = this.#queues.get(lane)!;
    queue.push(Math.ceil((this.#ctx.now + delay) / step) * step, relay);
    return queue.size > this.#cap(lane) ? queue.shift() : undefined;
  }

  /** Relays waiting, on both lanes. */
  get size(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.size;
    return n;
  }

  /** The most relays that wait on `lane`: the slots of its channels. */
  #cap(lane: Lane): number {
    let slots = 0;
    for (const ch of this.#ctx.channels.values()) {
      if ((ch.cfg.lane === Lane.bulk ? Lane.bulk : Lane.high) === lane) slots += ch.cfg.maxSlots;
    }
    return slots;
  }

  /** When the first relayed advert is due, if any waits. */
  get wakeAt(): number | undefined {
    let at: number | undefined;
    for (const q of this.#queues.values()) {
      const due = q.firstDue;
      if (due !== undefined && (at === undefined || due < at)) at = due;
    }
    return at;
  }

  /** Removes and returns the relayed adverts due at `now`. */
  takeDue(now: number): LaterRelay[] {
    const out: LaterRelay[] = [];
    for (const q of this.#queues.values()) q.takeDue(now, out);
    return out;
  }
}
