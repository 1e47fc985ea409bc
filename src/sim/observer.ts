import { COUNTER_LABELS, type CoreObserver, type CountingObserver } from '../broadcast/index.ts';

type CounterName = Parameters<CoreObserver['count']>[0];

/**
 * The core's counters in a simulated node, as `CountingObserver` keeps them, with cheaper keys:
 * a simulation counts millions of decisions.
 */
export class SimObserver implements Pick<CountingObserver, 'count' | 'get'> {
  readonly #series = new Map<
    CounterName,
    Map<string, { labels: Record<string, string>; n: number }>
  >();

  count(name: CounterName, labels: Record<string, string>, n = 1): void {
    let byLabels = this.#series.get(name);
    if (!byLabels) {
      byLabels = new Map();
      this.#series.set(name, byLabels);
    }
    let key = '';
    for (const l of COUNTER_LABELS[name]) key += `${labels[l] ?? ''}\u0000`;
    const e = byLabels.get(key);
    if (e) e.n += n;
    else byLabels.set(key, { labels: { ...labels }, n });
  }

  /** Sum of `name` over the series whose labels include `labels`. */
  get(name: CounterName, labels: Record<string, string> = {}): number {
    let sum = 0;
    const wanted = Object.entries(labels);
    for (const e of this.#series.get(name)?.values() ?? []) {
      if (wanted.every(([k, v]) => e.labels[k] === v)) sum += e.n;
    }
    return sum;
  }
}
