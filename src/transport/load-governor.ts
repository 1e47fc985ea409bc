/**
 * The event loop is a resource the lanes share, like the wire. When it is overloaded (many
 * nodes on few cores, a busy application, a slow machine), every message waits for it, a
 * high-lane one as much as a bulk one, and no queue order can help. Bulk work is the part a
 * node can put off: it is pulled, and the sender may only send what the receiver credited.
 *
 * The governor measures how late a short periodic timer fires (the event loop lag). While
 * the lag is over `yieldLagMs`, links hold back the bulk credits they owe their peers; the
 * peers' bulk windows then fill, their delay control shrinks them, and less bulk data arrives
 * to compete for the loop. Once the lag is back under the threshold, held credits go out. A
 * credit is never held longer than `maxHoldMs`, so bulk traffic slows but never stops.
 *
 * This is LEDBAT's idea applied to the CPU: bulk yields to whatever else needs the loop.
 * @module
 */

/** Settings of a {@link LoadGovernor}. */
export interface LoadGovernorOptions {
  /** Period of the lag-measuring timer, ms. */
  intervalMs: number;
  /** Lag at or above which bulk credits are held, ms. */
  yieldLagMs: number;
  /** Longest a held credit waits, ms. */
  maxHoldMs: number;
  /** Clock, ms (monotonic). */
  now: () => number;
}

/** Someone owed a credit: `release()` sends it (whatever has accumulated by then). */
export interface CreditHolder {
  releaseCredit(): void;
}

export class LoadGovernor {
  readonly #opts: LoadGovernorOptions;
  /** Holders waiting, with the time each started waiting (insertion order = age order). */
  readonly #held = new Map<CreditHolder, number>();
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #lagMs = 0;
  /** Credits held, and released early because they had waited `maxHoldMs`, since creation. */
  heldTotal = 0;
  forcedTotal = 0;

  constructor(opts: LoadGovernorOptions) {
    this.#opts = opts;
  }

  /** Starts the timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.#timer) return;
    this.#last = this.#opts.now();
    this.#timer = setInterval(() => this.sample(this.#opts.now()), this.#opts.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and releases every held credit. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#releaseAll();
  }

  /** The latest lag measured, ms. */
  get lagMs(): number {
    return this.#lagMs;
  }

  /** Whether bulk credits are being held now. */
  get congested(): boolean {
    return this.#lagMs >= this.#opts.yieldLagMs;
  }

  /** Holders waiting now. */
  get holding(): number {
    return this.#held.size;
  }

  /**
   * A timer tick at `now` (the timer calls it; tests call it with a fake clock): measures the
   * lag since the previous tick, then releases what may go.
   */
  sample(now: number): void {
    this.#lagMs = Math.max(0, now - this.#last - this.#opts.intervalMs);
    this.#last = now;
    if (!this.congested) {
      this.#releaseAll();
      return;
    }
    for (const [holder, since] of this.#held) {
      if (now - since < this.#opts.maxHoldMs) break;
      this.#held.delete(holder);
      this.forcedTotal += 1;
      holder.releaseCredit();
    }
  }

  /**
   * Called by a link that owes a credit. Returns true if the credit must wait (the holder's
   * `releaseCredit` will be called later); false if it may go now.
   */
  hold(holder: CreditHolder): boolean {
    if (this.#held.has(holder)) return true;
    if (!this.congested) return false;
    this.#held.set(holder, this.#opts.now());
    this.heldTotal += 1;
    return true;
  }

  /** Forgets `holder` (its link closed). */
  forget(holder: CreditHolder): void {
    this.#held.delete(holder);
  }

  #releaseAll(): void {
    const holders = [...this.#held.keys()];
    this.#held.clear();
    for (const h of holders) h.releaseCredit();
  }
}
