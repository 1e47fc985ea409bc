/**
 * The transport-link benchmark's sizes, statistics (medians, percentiles, latency summaries) and
 * the timing of one throughput run (wall time, GC pauses, process CPU).
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';

export const KiB = 1024;
export const MiB = 1024 * 1024;
export const MESSAGE_BYTES = MiB;
export const SMALL_BYTES = 100;
/** Sends of 1 MiB awaited in windows of this many: the bulk queue stays under its 64 MiB limit. */
export const SEND_WINDOW = 32;
/** Bytes kept queued on the bulk lane while measuring loaded latency. */
export const LOADED_QUEUE_BYTES = 32 * MiB;
/** Bytes written to the bare socket ahead of each small message in the naive baseline. */
export const NAIVE_BACKLOG_BYTES = 64 * MiB;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface LatencyRun {
  p50: number;
  p99: number;
  max: number;
}

export interface LatencyStat {
  p50Ms: number;
  p99Ms: number;
  runs: LatencyRun[];
}

export function latencyRun(samples: number[]): LatencyRun {
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
}

export function latencyStat(runs: LatencyRun[]): LatencyStat {
  return { p50Ms: median(runs.map((r) => r.p50)), p99Ms: median(runs.map((r) => r.p99)), runs };
}

export const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** Milliseconds of garbage collection seen so far (entries arrive shortly after each GC). */
let gcMs = 0;
export const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });

/** One throughput run: MB/s, and where the time went. */
export interface ThroughputRun {
  mbps: number;
  /** GC pauses, share of wall time. */
  gcShare: number;
  /** CPU time of the whole process (all threads), share of wall time (1 = one core busy). */
  cpuShare: number;
}

/** Starts timing `bytes`; the returned function stops it. */
export function startRun(bytes: number): () => ThroughputRun {
  const t0 = performance.now();
  const g0 = gcMs;
  const c0 = process.cpuUsage();
  return () => {
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return {
      mbps: bytes / 1e6 / (wall / 1000),
      gcShare: (gcMs - g0) / wall,
      cpuShare: (cpu.user + cpu.system) / 1000 / wall,
    };
  };
}

export function roundStat(s: LatencyStat): LatencyStat {
  const r3 = (x: number) => round(x, 3);
  return {
    p50Ms: r3(s.p50Ms),
    p99Ms: r3(s.p99Ms),
    runs: s.runs.map((x) => ({ p50: r3(x.p50), p99: r3(x.p99), max: r3(x.max) })),
  };
}
