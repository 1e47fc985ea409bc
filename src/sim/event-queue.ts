/** One scheduled event: runs at `at` (virtual ms); ties run in scheduling order. */
interface Entry {
  at: number;
  seq: number;
  run: () => void;
}

/** A binary min-heap of events by (time, scheduling order): a deterministic virtual clock. */
export class EventQueue {
  #heap: Entry[] = [];
  #seq = 0;
  #now = 0;
  /** Events run so far. */
  processed = 0;

  /** The virtual time, ms. */
  get now(): number {
    return this.#now;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `run` at time `at` (not before now). */
  at(at: number, run: () => void): void {
    this.#push({ at: Math.max(at, this.#now), seq: this.#seq++, run });
  }

  /** Schedules `run` after `delay` ms. */
  after(delay: number, run: () => void): void {
    this.at(this.#now + delay, run);
  }

  /** Runs the next event; returns false when there is none. */
  step(): boolean {
    const e = this.#pop();
    if (!e) return false;
    this.#now = e.at;
    this.processed++;
    e.run();
    return true;
  }

  /** The time of the next event, if any. */
  peekTime(): number | undefined {
    return this.#heap[0]?.at;
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  #pop(): Entry | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
