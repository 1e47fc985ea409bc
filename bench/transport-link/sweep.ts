/**
 * The transport-link benchmark's `--sweep`: what the scheduler's settings (maxSocketBufferedBytes,
 * maxFrameBytes) do to throughput and loaded latency.
 */
import type { NodeIdentity } from '../../src/identity/index.ts';
import { stopAll } from '../../test/helpers/subnet.ts';
import { type BarePair, bareThroughput } from './bare-pair.ts';
import { KiB, latencyRun, MiB, median, round } from './measure.ts';
import {
  startTransportPair,
  type TransportPair,
  transportLatency,
  transportThroughput,
} from './transport-pair.ts';

interface SweepRow {
  maxSocketBufferedBytes: number;
  maxFrameBytes: number;
  transportMBps: number;
  ratioToBare: number;
  loadedP50Ms: number;
  loadedP99Ms: number;
}

export interface SweepResult {
  mibPerRun: number;
  bareMBps: number;
  /** The scheduler's write pattern without the transport: 128 KiB writes, each until 'drain'. */
  bare128KiBWritesMBps: number;
  rows: SweepRow[];
}

const SWEEP_SETTINGS: readonly [socketBuffered: number, frame: number][] = [
  [64 * KiB, 64 * KiB],
  [128 * KiB, 64 * KiB],
  [512 * KiB, 64 * KiB],
  [1 * MiB, 64 * KiB],
  [128 * KiB, 256 * KiB],
  [1 * MiB, 256 * KiB],
];

/**
 * Every setting is measured in each of `reps` reps (interleaved with the baseline), so drift is
 * shared; `progress` is told of each rep.
 */
export async function sweep(
  ids: NodeIdentity[],
  bare: BarePair,
  totalBytes: number,
  samples: number,
  reps: number,
  progress: (line: string) => void,
): Promise<SweepResult> {
  const pairs: TransportPair[] = [];
  for (const [sock, frame] of SWEEP_SETTINGS) {
    pairs.push(
      await startTransportPair(ids, { maxSocketBufferedBytes: sock, maxFrameBytes: frame }),
    );
  }
  const bareRuns: number[] = [];
  const bare128Runs: number[] = [];
  const runs: number[][] = pairs.map(() => []);
  for (let r = 0; r < reps; r++) {
    bareRuns.push((await bareThroughput(bare, totalBytes)).mbps);
    bare128Runs.push((await bareThroughput(bare, totalBytes, 128 * KiB)).mbps);
    for (const [i, pair] of pairs.entries()) {
      runs[i]!.push((await transportThroughput(pair, totalBytes)).mbps);
    }
    progress(`  sweep rep ${r + 1}: ${runs.map((x) => x.at(-1)!.toFixed(0)).join(', ')} MB/s`);
  }
  const bareMBps = median(bareRuns);
  const ratio = (i: number) => median(runs[i]!.map((x, r) => x / bareRuns[r]!));
  const rows: SweepRow[] = [];
  for (const [i, pair] of pairs.entries()) {
    const lat = latencyRun((await transportLatency(pair, samples, true)).samples);
    const mbps = median(runs[i]!);
    const [sock, frame] = SWEEP_SETTINGS[i]!;
    rows.push({
      maxSocketBufferedBytes: sock,
      maxFrameBytes: frame,
      transportMBps: round(mbps, 0),
      ratioToBare: round(ratio(i)),
      loadedP50Ms: round(lat.p50, 3),
      loadedP99Ms: round(lat.p99, 3),
    });
    await stopAll([pair.a, pair.b]);
  }
  return {
    mibPerRun: totalBytes / MiB,
    bareMBps: round(bareMBps, 0),
    bare128KiBWritesMBps: round(median(bare128Runs), 0),
    rows,
  };
}
