/**
 * Benchmark of one transport link, against a bare node:tls socket pair measured in the same run
 * (same process, same Ed25519 certificates, TLS 1.3, 127.0.0.1). Shared machines are noisy, so
 * every figure that matters is a ratio against a baseline taken minutes apart, and every
 * measurement is repeated (median reported).
 *
 *   1. Throughput: 1 MiB messages on the bulk lane, A -> B, vs 1 MiB writes on a bare socket.
 *   2. Latency of a 100-byte high-lane message, A -> B, one way (both ends live in this process,
 *      so one clock times both), on an idle link and while the bulk lane of the same direction
 *      is kept full; and, for contrast, 100 bytes written to a bare TLS socket behind 64 MiB of
 *      earlier writes (what happens without a scheduler).
 *
 * Usage: npm run bench:transport -- [--quick] [--json] [--mib N] [--reps N] [--samples N]
 *                                   [--sweep] [--out FILE]
 *   --mib N      MiB per throughput run (default 1024; --quick: 64)
 *   --reps N     repetitions of every measurement (default 5; --quick: 3)
 *   --samples N  latency samples per run (default 200; --quick: 50)
 *   --sweep      also measure throughput and loaded latency for several maxSocketBufferedBytes /
 *                maxFrameBytes settings (256 MiB per run at most)
 *   --json       print only the JSON object (it is always written to --out,
 *                default bench/results/transport-link.json)
 *
 * Both ends share one event loop (as the test harness does): the link's encryption, decryption
 * and framing all compete for one core, for the transport and the baseline alike. Progress goes
 * to stderr; the markdown table (or the JSON) to stdout.
 *
 * This file holds the options and the run; bench/transport-link/ the parts: measure.ts (sizes,
 * statistics, timing), transport-pair.ts and bare-pair.ts (the two sides and their
 * measurements), sweep.ts (--sweep) and report.ts (the markdown).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_LIMITS } from '../src/transport/index.ts';
import { periodicProgress } from '../src/util/progress.ts';
import { identities, stopAll } from '../test/helpers/subnet.ts';
import { bareLatency, bareThroughput, startBarePair } from './transport-link/bare-pair.ts';
import {
  gcObserver,
  type LatencyRun,
  LOADED_QUEUE_BYTES,
  latencyRun,
  latencyStat,
  MESSAGE_BYTES,
  MiB,
  median,
  NAIVE_BACKLOG_BYTES,
  round,
  roundStat,
  SEND_WINDOW,
  SMALL_BYTES,
  type ThroughputRun,
} from './transport-link/measure.ts';
import { markdown } from './transport-link/report.ts';
import { sweep } from './transport-link/sweep.ts';
import {
  startTransportPair,
  transportLatency,
  transportThroughput,
} from './transport-link/transport-pair.ts';

// ---------------------------------------------------------------------------------------------
// Options

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    mib: { type: 'string' },
    reps: { type: 'string' },
    samples: { type: 'string' },
    sweep: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/transport-link.json' },
  },
});

function intArg(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const config = {
  totalMiB: intArg('mib', args.mib, args.quick ? 64 : 1024),
  reps: intArg('reps', args.reps, args.quick ? 3 : 5),
  samples: intArg('samples', args.samples, args.quick ? 50 : 200),
  sweep: args.sweep,
};

let lastProgress: string | undefined;

/** Progress goes to stderr, so `--json` leaves stdout to the one JSON object. */
function progress(line: string): void {
  lastProgress = line.trim();
  if (!args.json) process.stderr.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const totalBytes = config.totalMiB * MiB;
  const ids = await identities(2);
  const bare = await startBarePair(ids);
  const pair = await startTransportPair(ids);
  progress(
    `transport-link: ${config.totalMiB} MiB per throughput run, ${config.reps} reps, ` +
      `${config.samples} latency samples per run`,
  );

  // Warm-up (JIT, TCP windows), not counted.
  await bareThroughput(bare, Math.min(totalBytes, 64 * MiB));
  await transportThroughput(pair, Math.min(totalBytes, 64 * MiB));

  const thr = { bare: [] as ThroughputRun[], transport: [] as ThroughputRun[] };
  const lat = {
    transportIdle: [] as LatencyRun[],
    transportLoaded: [] as LatencyRun[],
    bareIdle: [] as LatencyRun[],
    bareBehind64MiB: [] as LatencyRun[],
  };
  const loadedBulkMBps: number[] = [];
  for (let r = 0; r < config.reps; r++) {
    // Alternate the order so drift on a shared machine does not favour one side.
    if (r % 2 === 0) {
      thr.bare.push(await bareThroughput(bare, totalBytes));
      thr.transport.push(await transportThroughput(pair, totalBytes));
    } else {
      thr.transport.push(await transportThroughput(pair, totalBytes));
      thr.bare.push(await bareThroughput(bare, totalBytes));
    }
    progress(
      `  rep ${r + 1}: throughput bare ${thr.bare.at(-1)!.mbps.toFixed(0)} MB/s, ` +
        `transport ${thr.transport.at(-1)!.mbps.toFixed(0)} MB/s`,
    );
    lat.transportIdle.push(
      latencyRun((await transportLatency(pair, config.samples, false)).samples),
    );
    const loaded = await transportLatency(pair, config.samples, true);
    lat.transportLoaded.push(latencyRun(loaded.samples));
    loadedBulkMBps.push(loaded.bulkMBps!);
    lat.bareIdle.push(latencyRun(await bareLatency(bare, config.samples, 0)));
    lat.bareBehind64MiB.push(
      latencyRun(await bareLatency(bare, config.samples, NAIVE_BACKLOG_BYTES)),
    );
    progress(
      `  rep ${r + 1}: high-lane p50 idle ${lat.transportIdle.at(-1)!.p50.toFixed(2)} ms, ` +
        `loaded ${lat.transportLoaded.at(-1)!.p50.toFixed(2)} ms (bulk ${loaded.bulkMBps!.toFixed(0)} MB/s); ` +
        `bare behind 64 MiB ${lat.bareBehind64MiB.at(-1)!.p50.toFixed(1)} ms`,
    );
  }
  await stopAll([pair.a, pair.b]);

  const sweepResult = config.sweep
    ? await sweep(ids, bare, Math.min(totalBytes, 256 * MiB), config.samples, config.reps, progress)
    : undefined;
  await bare.close();

  const bareMBps = median(thr.bare.map((x) => x.mbps));
  const transportMBps = median(thr.transport.map((x) => x.mbps));
  const share = (runs: ThroughputRun[], k: 'gcShare' | 'cpuShare') =>
    round(median(runs.map((x) => x[k])));
  const idle = latencyStat(lat.transportIdle);
  const loaded = latencyStat(lat.transportLoaded);
  const result = {
    benchmark: 'transport-link',
    date: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      totalMemGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    config: {
      throughputMiBPerRun: config.totalMiB,
      messageBytes: MESSAGE_BYTES,
      sendWindowMessages: SEND_WINDOW,
      reps: config.reps,
      latencySamplesPerRun: config.samples,
      smallMessageBytes: SMALL_BYTES,
      loadedBulkQueueBytes: LOADED_QUEUE_BYTES,
      naiveBacklogBytes: NAIVE_BACKLOG_BYTES,
      limits: {
        maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes,
        maxSocketBufferedBytes: DEFAULT_LIMITS.maxSocketBufferedBytes,
        bulkMinShare: DEFAULT_LIMITS.bulkMinShare,
      },
    },
    throughput: {
      bareMBps: round(bareMBps, 0),
      transportMBps: round(transportMBps, 0),
      /** Median of the per-rep ratios (each rep pairs runs minutes apart at most). */
      ratio: round(median(thr.transport.map((x, i) => x.mbps / thr.bare[i]!.mbps))),
      goal: 0.8,
      /** Medians: GC pauses and process CPU (all threads), as shares of wall time. */
      gcShare: { bare: share(thr.bare, 'gcShare'), transport: share(thr.transport, 'gcShare') },
      cpuShare: { bare: share(thr.bare, 'cpuShare'), transport: share(thr.transport, 'cpuShare') },
      runs: {
        bare: thr.bare.map((x) => round(x.mbps, 0)),
        transport: thr.transport.map((x) => round(x.mbps, 0)),
      },
    },
    latency: {
      transportIdle: roundStat(idle),
      transportLoaded: roundStat(loaded),
      loadedOverIdle: {
        p50: round(loaded.p50Ms / idle.p50Ms),
        p99: round(loaded.p99Ms / idle.p99Ms),
      },
      loadedBulkMBps: round(median(loadedBulkMBps), 0),
      bareIdle: roundStat(latencyStat(lat.bareIdle)),
      bareBehind64MiB: roundStat(latencyStat(lat.bareBehind64MiB)),
    },
    sweep: sweepResult,
  };

  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
  gcObserver.disconnect();
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(`${markdown(result)}\n`);
    progress(`(JSON written to ${args.out})`);
  }
}

// Without a terminal (CI, a log file), also a line every few seconds on stderr.
const lines = periodicProgress({
  describe: () =>
    `bench:transport: running${lastProgress === undefined ? '' : ` (last: ${lastProgress})`}`,
});
await main().finally(lines.stop);
