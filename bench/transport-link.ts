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
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { dirname } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tls from 'node:tls';
import { parseArgs } from 'node:util';
import type { NodeId, NodeIdentity } from '../src/identity/index.ts';
import { silentLogger } from '../src/log.ts';
import {
  ALPN,
  DEFAULT_LIMITS,
  type InboundMessage,
  Lane,
  type TransportLimits,
} from '../src/transport/index.ts';
import { periodicProgress } from '../src/util/progress.ts';
import {
  fullMesh,
  identities,
  publish,
  registryDoc,
  startNode,
  stopAll,
  type TestNode,
} from '../test/helpers/subnet.ts';

const KiB = 1024;
const MiB = 1024 * 1024;
const MESSAGE_BYTES = MiB;
const SMALL_BYTES = 100;
/** Sends of 1 MiB awaited in windows of this many: the bulk queue stays under its 64 MiB limit. */
const SEND_WINDOW = 32;
/** Bytes kept queued on the bulk lane while measuring loaded latency. */
const LOADED_QUEUE_BYTES = 32 * MiB;
/** Bytes written to the bare socket ahead of each small message in the naive baseline. */
const NAIVE_BACKLOG_BYTES = 64 * MiB;

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
// Statistics

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

interface LatencyRun {
  p50: number;
  p99: number;
  max: number;
}

interface LatencyStat {
  p50Ms: number;
  p99Ms: number;
  runs: LatencyRun[];
}

function latencyRun(samples: number[]): LatencyRun {
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
}

function latencyStat(runs: LatencyRun[]): LatencyStat {
  return { p50Ms: median(runs.map((r) => r.p50)), p99Ms: median(runs.map((r) => r.p99)), runs };
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** Milliseconds of garbage collection seen so far (entries arrive shortly after each GC). */
let gcMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });

/** One throughput run: MB/s, and where the time went. */
interface ThroughputRun {
  mbps: number;
  /** GC pauses, share of wall time. */
  gcShare: number;
  /** CPU time of the whole process (all threads), share of wall time (1 = one core busy). */
  cpuShare: number;
}

/** Starts timing `bytes`; the returned function stops it. */
function startRun(bytes: number): () => ThroughputRun {
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

// ---------------------------------------------------------------------------------------------
// The transport pair

interface TransportPair {
  a: TestNode;
  b: TestNode;
  peerB: NodeId;
  /** What B does with each application message; replaced per measurement. */
  onB: (m: InboundMessage) => void;
}

async function startTransportPair(
  ids: NodeIdentity[],
  limits: Partial<TransportLimits> = {},
): Promise<TransportPair> {
  const subnet = 'bench';
  const pair = { onB: (_m: InboundMessage) => {} } as TransportPair;
  const [idA, idB] = [ids[0]!, ids[1]!];
  const a = await startNode(idA, subnet, { logger: silentLogger(), limits });
  const b = await startNode(idB, subnet, {
    logger: silentLogger(),
    limits,
    onMessage: (m) => pair.onB(m),
  });
  publish(
    [a, b],
    registryDoc([
      { subnet, identity: idA, address: a.address },
      { subnet, identity: idB, address: b.address },
    ]),
  );
  await fullMesh([a, b]);
  Object.assign(pair, { a, b, peerB: idB.nodeId });
  return pair;
}

/** Resolves when B's onMessage has received `bytes` message bytes. */
function countUntil(pair: TransportPair, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let received = 0;
    pair.onB = (m) => {
      received += m.body.length;
      if (received >= bytes) {
        pair.onB = () => {};
        resolve();
      }
    };
  });
}

/** A sends `totalBytes` as 1 MiB bulk messages; timed until B has them all. */
async function transportThroughput(
  pair: TransportPair,
  totalBytes: number,
): Promise<ThroughputRun> {
  const msg = Buffer.alloc(MESSAGE_BYTES, 0xa5);
  const done = countUntil(pair, totalBytes);
  const stop = startRun(totalBytes);
  const inflight: Promise<void>[] = [];
  for (let sent = 0; sent < totalBytes; sent += MESSAGE_BYTES) {
    inflight.push(pair.a.transport.send(pair.peerB, Lane.bulk, msg));
    if (inflight.length >= SEND_WINDOW) await inflight.shift();
  }
  await Promise.all(inflight);
  await done;
  return stop();
}

/**
 * One-way latency of 100-byte high-lane messages, one at a time with a short random gap. With
 * `loaded`, a pump keeps LOADED_QUEUE_BYTES queued on the bulk lane of the same direction.
 */
async function transportLatency(
  pair: TransportPair,
  samples: number,
  loaded: boolean,
): Promise<{ samples: number[]; bulkMBps: number | undefined }> {
  const { a, peerB } = pair;
  let arrived: ((t: number, id: number) => void) | undefined;
  let bulkReceived = 0;
  pair.onB = (m) => {
    if (m.lane === Lane.high) arrived?.(performance.now(), Buffer.from(m.body).readUInt32BE(0));
    else bulkReceived += m.body.length;
  };

  let running = loaded;
  let bulkSent = 0;
  const bulkMsg = Buffer.alloc(MESSAGE_BYTES, 0x5a);
  const pump = (async () => {
    const inflight: Promise<void>[] = [];
    while (running) {
      while (running && a.transport.queuedBytes(peerB, Lane.bulk) < LOADED_QUEUE_BYTES) {
        inflight.push(a.transport.send(peerB, Lane.bulk, bulkMsg));
        bulkSent += MESSAGE_BYTES;
      }
      await inflight.shift();
    }
    await Promise.all(inflight);
  })();
  let loadStart = 0;
  if (loaded) {
    // Let the link reach its steady state before sampling.
    while (a.transport.queuedBytes(peerB, Lane.bulk) < LOADED_QUEUE_BYTES) await sleep(5);
    await sleep(200);
    loadStart = performance.now();
  }
  const bulkAtStart = bulkReceived;

  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const body = Buffer.alloc(SMALL_BYTES);
    body.writeUInt32BE(i, 0);
    const got = new Promise<number>((resolve) => {
      arrived = (t, id) => {
        if (id === i) resolve(t);
      };
    });
    const t0 = performance.now();
    void a.transport.send(peerB, Lane.high, body);
    out.push((await got) - t0);
    await sleep(1 + Math.random() * 2);
  }
  const bulkMBps = loaded
    ? (bulkReceived - bulkAtStart) / 1e6 / ((performance.now() - loadStart) / 1000)
    : undefined;

  running = false;
  await pump;
  while (bulkReceived < bulkSent) await sleep(5);
  pair.onB = () => {};
  return { samples: out, bulkMBps };
}

// ---------------------------------------------------------------------------------------------
// The bare TLS pair (the baseline)

interface BarePair {
  client: tls.TLSSocket;
  server: tls.TLSSocket;
  close(): Promise<void>;
}

async function startBarePair(ids: NodeIdentity[]): Promise<BarePair> {
  // The transport's own TLS options (see Transport#tlsOptions): TLS 1.3, mutual, Ed25519.
  const tlsOptions = (id: NodeIdentity) => ({
    key: id.privateKeyPem,
    cert: id.certificatePem,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    ALPNProtocols: [ALPN],
  });
  const srv = tls.createServer({
    ...tlsOptions(ids[1]!),
    requestCert: true,
    rejectUnauthorized: false,
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  const accepted = once(srv, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const client = tls.connect({
    ...tlsOptions(ids[0]!),
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
  });
  await once(client, 'secureConnect');
  const [server] = await accepted;
  for (const s of [client, server]) {
    s.setNoDelay(true); // as the transport's links do
    s.on('error', () => {});
  }
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

/** Writes `totalBytes` in writes of `writeBytes`, respecting write() / 'drain'. */
async function bareThroughput(
  pair: BarePair,
  totalBytes: number,
  writeBytes = MESSAGE_BYTES,
): Promise<ThroughputRun> {
  const { client, server } = pair;
  const chunk = Buffer.alloc(writeBytes, 0xa5);
  const done = new Promise<void>((resolve) => {
    let received = 0;
    const onData = (d: Buffer) => {
      received += d.length;
      if (received >= totalBytes) {
        server.off('data', onData);
        resolve();
      }
    };
    server.on('data', onData);
    server.resume();
  });
  const stop = startRun(totalBytes);
  for (let sent = 0; sent < totalBytes; sent += writeBytes) {
    if (!client.write(chunk)) await once(client, 'drain');
  }
  await done;
  return stop();
}

/**
 * One-way latency of 100-byte writes on a bare socket. With `backlogBytes`, every small write
 * is queued behind that many bytes of earlier 1 MiB writes (kept topped up: each flushed write
 * is replaced), which is what a sender without a scheduler does with a big transfer.
 * The stream is framed [u32 length][u8 kind] so the receiver can find the small messages.
 */
async function bareLatency(
  pair: BarePair,
  samples: number,
  backlogBytes: number,
): Promise<number[]> {
  const { client, server } = pair;
  const KIND_BULK = 2;
  const KIND_SMALL = 1;
  const bulk = Buffer.alloc(5 + MESSAGE_BYTES, 0x5a);
  bulk.writeUInt32BE(MESSAGE_BYTES, 0);
  bulk[4] = KIND_BULK;

  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let bulkWritten = 0;
  let bulkReceived = 0;
  let allArrived: () => void = () => {};
  const arrivedAll = new Promise<void>((resolve) => {
    allArrived = resolve;
  });

  // Receiver: a tiny parser of the [len][kind][payload] stream.
  const header = Buffer.alloc(5);
  let headerFill = 0;
  let remaining = 0;
  let kind = 0;
  let small: Buffer[] = [];
  const onData = (d: Buffer) => {
    const now = performance.now();
    let off = 0;
    while (off < d.length) {
      if (remaining === 0) {
        const n = Math.min(5 - headerFill, d.length - off);
        d.copy(header, headerFill, off, off + n);
        headerFill += n;
        off += n;
        if (headerFill === 5) {
          headerFill = 0;
          remaining = header.readUInt32BE(0);
          kind = header[4]!;
          small = [];
        }
      } else {
        const n = Math.min(remaining, d.length - off);
        if (kind === KIND_SMALL) small.push(d.subarray(off, off + n));
        else bulkReceived += n;
        remaining -= n;
        off += n;
        if (remaining === 0 && kind === KIND_SMALL) {
          const id = Buffer.concat(small).readUInt32BE(0);
          latencies.push(now - sentAt.get(id)!);
          if (latencies.length === samples) allArrived();
        }
      }
    }
  };
  server.on('data', onData);
  server.resume();

  let running = backlogBytes > 0;
  const topUp = () => {
    if (!running) return;
    bulkWritten += MESSAGE_BYTES;
    client.write(bulk, topUp);
  };
  if (running) {
    for (let i = 0; i < backlogBytes / MESSAGE_BYTES; i++) topUp();
    // Let the backlog be flushing at its steady rate before sampling.
    await sleep(200);
  }

  for (let i = 0; i < samples; i++) {
    const msg = Buffer.alloc(5 + SMALL_BYTES);
    msg.writeUInt32BE(SMALL_BYTES, 0);
    msg[4] = KIND_SMALL;
    msg.writeUInt32BE(i, 5);
    sentAt.set(i, performance.now());
    client.write(msg);
    if (running) await sleep(5 + Math.random() * 5);
    else {
      while (latencies.length <= i) await sleep(0);
      await sleep(1 + Math.random() * 2);
    }
  }
  await arrivedAll;
  running = false;
  while (bulkReceived < bulkWritten) await sleep(5);
  server.off('data', onData);
  return latencies;
}

// ---------------------------------------------------------------------------------------------
// Sweep: what the scheduler's settings do to throughput and loaded latency

interface SweepRow {
  maxSocketBufferedBytes: number;
  maxFrameBytes: number;
  transportMBps: number;
  ratioToBare: number;
  loadedP50Ms: number;
  loadedP99Ms: number;
}

interface SweepResult {
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

/** Every setting is measured in every rep (interleaved with the baseline), so drift is shared. */
async function sweep(
  ids: NodeIdentity[],
  bare: BarePair,
  totalBytes: number,
  samples: number,
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
  for (let r = 0; r < config.reps; r++) {
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
    ? await sweep(ids, bare, Math.min(totalBytes, 256 * MiB), config.samples)
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

function roundStat(s: LatencyStat): LatencyStat {
  const r3 = (x: number) => round(x, 3);
  return {
    p50Ms: r3(s.p50Ms),
    p99Ms: r3(s.p99Ms),
    runs: s.runs.map((x) => ({ p50: r3(x.p50), p99: r3(x.p99), max: r3(x.max) })),
  };
}

type Result = {
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

function markdown(r: Result): string {
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

// Without a terminal (CI, a log file), also a line every few seconds on stderr.
const lines = periodicProgress({
  describe: () =>
    `bench:transport: running${lastProgress === undefined ? '' : ` (last: ${lastProgress})`}`,
});
await main().finally(lines.stop);
