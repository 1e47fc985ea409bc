/**
 * The driver's resend of slot updates a full send queue refused: per peer, the slots are kept
 * and handed back to the core after a capped exponential backoff.
 * @module
 */
import type { NodeId } from '../identity/index.ts';
import { backoffDelay } from '../util/backoff.ts';
import type { Cancel, DriverEnvironment } from './environment.ts';
import type { SlotNumber } from './types.ts';

/** Backoff of a resend after a full send queue: base doubling to max, ms. */
export const RESEND_BACKOFF = { baseMs: 250, maxMs: 5000 } as const;

/**
 * Slot updates waiting to be sent again, per peer. The first refusal arms a timer (the backoff
 * grows while sends keep failing and starts over after a quiet spell of twice the cap); when
 * it fires, every slot refused meanwhile is handed to `resend`, by channel.
 */
export class Resends {
  readonly #env: DriverEnvironment;
  readonly #resend: (peer: NodeId, unsent: Map<string, SlotNumber[]>) => void;
  readonly #timers = new Map<NodeId, Cancel>();
  readonly #unsent = new Map<NodeId, Map<string, SlotNumber[]>>();
  readonly #attempts = new Map<NodeId, { attempt: number; at: number }>();

  constructor(
    env: DriverEnvironment,
    resend: (peer: NodeId, unsent: Map<string, SlotNumber[]>) => void,
  ) {
    this.#env = env;
    this.#resend = resend;
  }

  /**
   * Keeps `slots` of `channel` refused for `peer`; returns the delay of the resend it armed,
   * or undefined if one was armed already.
   */
  add(peer: NodeId, channel: string, slots: readonly SlotNumber[]): number | undefined {
    let byChannel = this.#unsent.get(peer);
    if (!byChannel) {
      byChannel = new Map();
      this.#unsent.set(peer, byChannel);
    }
    byChannel.set(channel, [...(byChannel.get(channel) ?? []), ...slots]);
    if (this.#timers.has(peer)) return undefined;
    const now = this.#env.now();
    const last = this.#attempts.get(peer);
    const attempt = last && now - last.at <= 2 * RESEND_BACKOFF.maxMs ? last.attempt + 1 : 0;
    this.#attempts.set(peer, { attempt, at: now });
    const delay = backoffDelay(attempt, RESEND_BACKOFF);
    const cancel = this.#env.setTimer(now + delay, () => {
      this.#timers.delete(peer);
      const unsent = this.#unsent.get(peer) ?? new Map<string, SlotNumber[]>();
      this.#unsent.delete(peer);
      this.#resend(peer, unsent);
    });
    this.#timers.set(peer, cancel);
    return delay;
  }

  /** Forgets `peer`'s pending resend and its backoff (a new link starts with the whole table). */
  cancel(peer: NodeId): void {
    this.#timers.get(peer)?.();
    this.#timers.delete(peer);
    this.#unsent.delete(peer);
    this.#attempts.delete(peer);
  }

  /** Cancels every pending resend. */
  clear(): void {
    for (const peer of [...this.#timers.keys()]) this.cancel(peer);
  }
}
