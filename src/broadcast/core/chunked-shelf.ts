import { backoffDelay } from '../../util/backoff.ts';
import type { DownloadLimits } from '../types.ts';

/** Keys of stalled downloads remembered with their backoff (the oldest are forgotten first). */
const SHELF_MEMORY = 10_000;

/**
 * Keys of stalled chunked downloads that lost their place, kept out for a backoff, and how many
 * times in a row they stalled. A backoff, not the core's dismissal (which is for good): a
 * download stalls when its sources do not serve it, and those may be honest but slow or cut off
 * for a while (its artifact must still arrive, eventually) as well as a liar (whose advert must
 * not take the place back at once). The backoff starts at `chunkStallMs` and doubles each time
 * the key stalls again, up to `retryMaxMs` (or `chunkStallMs` if longer): a liar's artifact
 * takes a place again only now and then, and only where the fair share lets it.
 */
export class Shelf {
  readonly #limits: DownloadLimits;
  readonly #shelf = new Map<string, { until: number; times: number }>();
  /** The earliest `until` of the shelf still ahead (undefined: none, or to be found again). */
  #wake: number | undefined;

  constructor(limits: DownloadLimits) {
    this.#limits = limits;
  }

  /** Whether `key` is kept out at `now`. */
  has(key: string, now: number): boolean {
    const e = this.#shelf.get(key);
    return e !== undefined && now < e.until;
  }

  /** `key` stalled (again) at `now`: kept out for a backoff that doubles each time. */
  add(key: string, now: number): void {
    const times = (this.#shelf.get(key)?.times ?? 0) + 1;
    const { chunkStallMs, retryMaxMs } = this.#limits;
    const maxMs = Math.max(retryMaxMs, chunkStallMs);
    const until = now + backoffDelay(times - 1, { baseMs: chunkStallMs, maxMs });
    this.#shelf.delete(key);
    this.#shelf.set(key, { until, times });
    if (this.#shelf.size > SHELF_MEMORY) this.#shelf.delete(this.#shelf.keys().next().value!);
    if (this.#wake === undefined || until < this.#wake) this.#wake = until;
  }

  /** `key` arrived: forgotten. */
  delete(key: string): void {
    this.#shelf.delete(key);
  }

  /** When the next key ahead of `now` comes off the shelf, if any. */
  wakeAt(now: number): number | undefined {
    if (this.#wake !== undefined && this.#wake <= now) {
      this.#wake = undefined;
      for (const { until } of this.#shelf.values()) {
        if (until > now && (this.#wake === undefined || until < this.#wake)) this.#wake = until;
      }
    }
    return this.#wake;
  }
}
