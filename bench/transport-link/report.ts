/** The transport-link benchmark's result as markdown tables. */

import {
  KiB,
  type LatencyStat,
  LOADED_QUEUE_BYTES,
  MiB,
  NAIVE_BACKLOG_BYTES,
  SMALL_BYTES,
} from './measure.ts';
import type { SweepResult } from './sweep.ts';

export type Result = {
  config: { reps: number; throughputMiBPerRun: number; latencySamplesPerRun: number };
  throughput: {
    bareMBps: number;
    transportMBps: number;
    ratio: number;
    gcShare: { bare: number; transport: number };
    cpuShare: { bare: number; transport: number };
  };
  latency: {
    transportIdle: LatencyStat;
    transportLoaded: LatencyStat;
    loadedOverIdle: { p50: number; p99: number };
    loadedBulkMBps: number;
    bareIdle: LatencyStat;
    bareBehind64MiB: LatencyStat;
  };
  sweep: SweepResult | undefined;
};

export function markdown(r: Result): string {
  const { throughput: t, latency: l, config: c } = r;
  const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const lines = [
    `Medians of ${c.reps} runs (ratios: median of the per-run ratios); throughput: ${c.throughputMiBPerRun} MiB per run in 1 MiB ` +
      `messages/writes; latency: ${c.latencySamplesPerRun} one-way samples of ${SMALL_BYTES} B per run.`,
    '',
    '| Measurement | Transport | Bare TLS | Ratio |',
    '|---|---:|---:|---:|',
    `| Throughput, one link, MB/s | ${t.transportMBps} | ${t.bareMBps} | ${t.ratio.toFixed(2)} (transport / bare, goal >= 0.8) |`,
    `| GC pauses during it, % of wall time | ${pct(t.gcShare.transport)} | ${pct(t.gcShare.bare)} | |`,
    `| Process CPU during it, % of one core | ${pct(t.cpuShare.transport)} | ${pct(t.cpuShare.bare)} | |`,
    '',
    '| Small message (100 B), one way | p50 ms | p99 ms |',
    '|---|---:|---:|',
    `| Transport, high lane, idle link | ${ms(l.transportIdle.p50Ms)} | ${ms(l.transportIdle.p99Ms)} |`,
    `| Transport, high lane, bulk lane saturated (${LOADED_QUEUE_BYTES / MiB} MiB queued, same direction; bulk ${l.loadedBulkMBps} MB/s) | ${ms(l.transportLoaded.p50Ms)} | ${ms(l.transportLoaded.p99Ms)} |`,
    `| Ratio loaded / idle | ${l.loadedOverIdle.p50.toFixed(2)} | ${l.loadedOverIdle.p99.toFixed(2)} |`,
    `| Bare TLS, idle socket | ${ms(l.bareIdle.p50Ms)} | ${ms(l.bareIdle.p99Ms)} |`,
    `| Bare TLS, behind ${NAIVE_BACKLOG_BYTES / MiB} MiB written earlier (no scheduler) | ${ms(l.bareBehind64MiB.p50Ms)} | ${ms(l.bareBehind64MiB.p99Ms)} |`,
  ];
  if (r.sweep) {
    lines.push(
      '',
      `Sweep of the transport's limits (${r.sweep.mibPerRun} MiB per run, median of ${c.reps}; ` +
        `bare TLS in the same reps: ${r.sweep.bareMBps} MB/s with 1 MiB writes, ` +
        `${r.sweep.bare128KiBWritesMBps} MB/s with 128 KiB writes each awaiting 'drain'; ` +
        'loaded latency: one run each):',
      '',
      '| maxSocketBufferedBytes | maxFrameBytes | Transport MB/s | Ratio to bare | Loaded p50 ms | Loaded p99 ms |',
      '|---:|---:|---:|---:|---:|---:|',
      ...r.sweep.rows.map(
        (s) =>
          `| ${s.maxSocketBufferedBytes / KiB} KiB | ${s.maxFrameBytes / KiB} KiB | ${s.transportMBps} | ` +
          `${s.ratioToBare.toFixed(2)} | ${ms(s.loadedP50Ms)} | ${ms(s.loadedP99Ms)} |`,
      ),
    );
  }
  return lines.join('\n');
}
