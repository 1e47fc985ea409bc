/** Summary of a set of latencies, ms (nearest-rank percentiles, rounded to 0.1 ms). */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** The value at quantile `q` of `sorted` (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function summarize(values: readonly number[], digits = 1): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  return {
    count: sorted.length,
    p50: round(quantile(sorted, 0.5), digits),
    p99: round(quantile(sorted, 0.99), digits),
    max: round(sorted.at(-1)!, digits),
  };
}
