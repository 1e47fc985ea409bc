/**
 * The event loop is a resource the lanes share, like the wire. When it is overloaded (many
 * nodes on few cores, a busy application, a slow machine), every message waits for it, a
 * high-lane one as much as a bulk one, and no queue order can help. Bulk work is the part a
 * node can put off: it is pulled, and the sender may only send what the receiver credited.
 *
 * The governor measures how late a short periodic timer fires (the event loop lag), and adds
 * up the lag over a sliding window: the share of the window the loop spent running late. One
 * long task (a garbage collection, a large message) makes one late tick; an overloaded loop
 * (more runnable threads than cores, say) is late nearly all the time. While that share stays
 * under `yieldShare`, credits go out as they fall due. Once it is over, the node's bulk
 * intake is rate-limited: credits wait, and are released (oldest first) at a rate that
 * starts at half of what was credited just before and shrinks by a fifth every 50 ms while the
 * loop is still overloaded, down to `minRateBytesPerSec`. Once it is not, the rate grows again
 * by half every 100 ms, and the limit is lifted once it is well above what flows. Peers' windows fill, their delay control shrinks
 * them, and less bulk data arrives to compete for the loop. A credit never waits longer than
 * `maxHoldMs`, so bulk traffic slows but never stops.
 *
 * This is LEDBAT's idea applied to the CPU: bulk yields to whatever else needs the loop.
 * Yielding only pays while something crucial is waiting for the loop: the governor limits
 * bulk only while high-lane traffic flowed within `highLaneMs` (the transport reports each
 * high-lane frame with {@link LoadGovernor.highLaneFrame}). A node that only moves bulk data
 * (a large artifact on 13 nodes sharing 2 cores, say) runs at full speed; it throttled itself
 * to half speed for nothing before (docs/benchmarks.md, Large artifacts).
 * @module
 */

/** Settings of a {@link LoadGovernor}. */
export interface LoadGovernorOptions {
  /** Period of the lag-measuring timer, ms. */
  intervalMs: number;
  /** The sliding window the lag is added up over, ms. */
  windowMs: number;
  /** Share of the window (0..1) spent running late at or above which bulk intake is limited. */
  yieldShare: number;
  /**
   * Limit bulk only while a high-lane frame came or went within this many ms; 0 limits it
   * whenever the loop lags.
   */
  highLaneMs: number;
  /** Longest a held credit waits, ms. */
  maxHoldMs: number;
  /** The rate limit's floor, bytes per second. */
  minRateBytesPerSec: number;
  /** Clock, ms (monotonic). */
  now: () => number;
  /** Called with each lag measured, ms (the transport's histogram). */
  onLag?: (lagMs: number) => void;
}

/** Someone owed a credit: `owedCredit()` bytes, sent by `releaseCredit()`. */
export interface CreditHolder {
  owedCredit(): number;
  releaseCredit(): void;
}

/** While the loop lags, the rate limit shrinks by this factor per {@link DECREASE_EVERY_MS}. */
const DECREASE_FACTOR = 0.8;
const DECREASE_EVERY_MS = 50;
/** Once the loop is not overloaded, the rate limit grows by this factor per INCREASE_EVERY_MS. */
const INCREASE_FACTOR = 1.5;
const INCREASE_EVERY_MS = 100;
/** Time constant of the credited-rate average, ms. */
const RATE_AVERAGE_MS = 200;

export class LoadGovernor {
  readonly #opts: LoadGovernorOptions;
  /** Holders waiting, with the time each started waiting (insertion order = age order). */
  readonly #held = new Map<CreditHolder, number>();
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #lagMs = 0;
  #congested = false;
  /** Bytes credited since the last tick, and their recent rate (bytes/s, smoothed). */
  #creditedSinceTick = 0;
  #creditedRate = 0;
  /** While congested: the rate limit (bytes/s), its tokens (bytes), its last decrease. */
  #rate = 0;
  #tokens = 0;
  #lastChange = 0;
  /** Ticks of the window: when, and how late. */
  readonly #ticks: { at: number; lag: number }[] = [];
  #lagInWindow = 0;
  /** High-lane frames counted since the last tick, and when the last tick saw any. */
  #highFrames = 0;
  #lastHighAt = Number.NEGATIVE_INFINITY;
  /** Credits held, and released because they had waited `maxHoldMs`, since creation. */
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
    this.#congested = false;
    this.#releaseAll();
  }

  /** The latest lag measured, ms. */
  get lagMs(): number {
    return this.#lagMs;
  }

  /** Share of the sliding window the loop spent running late (0..1). */
  get lateShare(): number {
    return Math.min(1, this.#lagInWindow / this.#opts.windowMs);
  }

  /** Whether bulk intake is rate-limited now. */
  get congested(): boolean {
    return this.#congested;
  }

  /** The rate limit in force while congested, bytes per second. */
  get rateBytesPerSec(): number {
    return this.#rate;
  }

  /** Called by the transport for every high-lane frame sent or received (cheap: a count). */
  highLaneFrame(): void {
    this.#highFrames += 1;
  }

  /** Whether crucial traffic flowed recently enough for bulk to yield to it. */
  get guarding(): boolean {
    return this.#guarding(this.#last);
  }

  #guarding(now: number): boolean {
    return this.#opts.highLaneMs === 0 || now - this.#lastHighAt <= this.#opts.highLaneMs;
  }

  /** Holders waiting now. */
  get holding(): number {
    return this.#held.size;
  }

  /**
   * A timer tick at `now` (the timer calls it; tests call it with a fake clock): measures the
   * lag since the previous tick, adapts the rate limit, then releases what may go.
   */
  sample(now: number): void {
    const elapsed = Math.max(0, now - this.#last);
    this.#lagMs = Math.max(0, elapsed - this.#opts.intervalMs);
    this.#opts.onLag?.(this.#lagMs);
    this.#last = now;
    if (elapsed > 0) {
      const w = Math.min(1, elapsed / RATE_AVERAGE_MS);
      this.#creditedRate =
        (1 - w) * this.#creditedRate + w * ((this.#creditedSinceTick * 1000) / elapsed);
    }
    this.#creditedSinceTick = 0;
    this.#ticks.push({ at: now, lag: this.#lagMs });
    this.#lagInWindow += this.#lagMs;
    while (this.#ticks.length > 0 && this.#ticks[0]!.at <= now - this.#opts.windowMs) {
      this.#lagInWindow -= this.#ticks.shift()!.lag;
    }
    if (this.#highFrames > 0) {
      this.#lastHighAt = now;
      this.#highFrames = 0;
    }
    if (!this.#guarding(now)) {
      // Nothing crucial to yield to: bulk goes at full speed.
      this.#congested = false;
      this.#releaseAll();
      return;
    }
    const min = this.#opts.minRateBytesPerSec;
    if (this.lateShare >= this.#opts.yieldShare) {
      if (!this.#congested) {
        // Multiplicative decrease from what was flowing.
        this.#congested = true;
        this.#rate = Math.max(min, this.#creditedRate / 2);
        this.#tokens = 0;
        this.#lastChange = now;
      } else if (now - this.#lastChange >= DECREASE_EVERY_MS) {
        this.#rate = Math.max(min, Math.min(this.#rate, this.#creditedRate) * DECREASE_FACTOR);
        this.#lastChange = now;
      }
    } else if (this.#congested && now - this.#lastChange >= INCREASE_EVERY_MS) {
      // Not overloaded any more: the limit grows back, and goes once it no longer binds.
      this.#rate *= INCREASE_FACTOR;
      this.#lastChange = now;
      if (this.#rate > 2 * this.#creditedRate + min && this.#held.size === 0) {
        this.#congested = false;
      }
    }
    if (!this.#congested) {
      this.#releaseAll();
      return;
    }
    // Tokens for the time since the last tick; a burst of at most one tick (or one credit).
    this.#tokens = Math.min(
      this.#tokens + (this.#rate * elapsed) / 1000,
      Math.max(this.#rate * (this.#opts.intervalMs / 1000), 64 * 1024),
    );
    for (const [holder, since] of this.#held) {
      const owed = holder.owedCredit();
      const overdue = now - since >= this.#opts.maxHoldMs;
      if (!overdue && owed > this.#tokens) break;
      this.#held.delete(holder);
      if (overdue) this.forcedTotal += 1;
      this.#tokens = Math.max(0, this.#tokens - owed);
      this.#credited(owed);
      holder.releaseCredit();
    }
  }

  /**
   * Called by a link that owes a credit. Returns true if the credit must wait (the holder's
   * `releaseCredit` will be called later); false if it may go now.
   */
  hold(holder: CreditHolder): boolean {
    if (this.#held.has(holder)) return true;
    if (!this.#congested) {
      this.#credited(holder.owedCredit());
      return false;
    }
    this.#held.set(holder, this.#opts.now());
    this.heldTotal += 1;
    return true;
  }

  /** Forgets `holder` (its link closed). */
  forget(holder: CreditHolder): void {
    this.#held.delete(holder);
  }

  #credited(bytes: number): void {
    this.#creditedSinceTick += bytes;
  }

  #releaseAll(): void {
    const holders = [...this.#held.keys()];
    this.#held.clear();
    for (const h of holders) {
      this.#credited(h.owedCredit());
      h.releaseCredit();
    }
  }
}
