/**
 * Large artifacts on shaped links (issue 7): is the swarm faster than the origin uploading n - 1
 * copies when the origin's uplink, not the CPU, is the bottleneck?
 *
 * Every demo node runs as a process of its own in a network namespace of its own
 * (tools/netns-lab.ts: one bridge, one namespace per node), and every node's uplink (its `eth0`)
 * is limited to --rate-mbit with a token bucket (tbf); downlinks are not limited. In each run
 * (`runDemo` with `placements`) node 0 broadcasts one artifact of --size bytes (chunked, disk
 * chunk stores, as `subnet-p2p demo --artifacts 1 --size S`), then, through the same shaped
 * links, the raw star ceiling: node 0's namespace sends the same number of bytes to each of the
 * others at once through plain TLS 1.3, each end a small process in its node's namespace.
 *
 * With R the rate, a star needs (n - 1) x S / R: the origin uploads every copy. A swarm needs
 * about S / R: the origin uploads one copy and the others pass the chunks on among themselves.
 * Both ideals count S as payload; the link also carries Ethernet, IP, TCP and TLS headers
 * (about 5%).
 *
 * Per run: durationMs (broadcast, until every node has the artifact), starMs (the raw ceiling),
 * their ratio, the ideals, originUploadRatio (chunk bytes of its artifact the origin served /
 * S, from the nodes' counters), the bytes each namespace's eth0 sent in each phase (tc's
 * counters: the origin's upload in copies of S, every node's together), how busy the machine's
 * CPUs were in each phase (/proc/stat: if they were busy, the CPU and not the links set the
 * pace), how much of the broadcast's time the uplinks were used (the origin's, and all of
 * them), peakRssMb (the largest node process) and complete. The JSON also has a timeline of
 * the broadcast: every 250 ms, the Mbit/s the origin's and all uplinks sent (read from each
 * node process's /proc/<pid>/net/dev, that is, its namespace's eth0) and the CPUs busy.
 *
 * Needs root and iproute2 (`ip netns`, `tc`); it says why and exits 1 otherwise. Every namespace
 * it makes is removed at the end, also on failure or SIGINT.
 *
 * Usage: npm run bench:large-shaped -- [--nodes 13] [--size 33554432] [--rate-mbit 50]
 *                                       [--reps 2] [--json] [--out FILE]
 *   --nodes N        nodes (default 13)
 *   --size BYTES     the artifact (default 32 MiB)
 *   --rate-mbit R    every node's uplink, Mbit/s (default 50)
 *   --reps N         runs (default 2)
 *   --json           print only the JSON (always written to --out, default
 *                    bench/results/large-shaped.json)
 *
 * Progress goes to stderr; the table (or the JSON) to stdout.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { demoProgressLines, formatProgress } from '../src/demo/report.ts';
import { type DemoPhase, runDemo } from '../src/demo/run-demo.ts';
import type { DemoResult } from '../src/demo/summary.ts';
import { type EgressLimit, labUnavailable, NetnsLab } from '../tools/netns-lab.ts';
import { positiveArg } from './args.ts';
import { machineInfo } from './machine.ts';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '13' },
    size: { type: 'string', default: String(32 * 1024 * 1024) },
    'rate-mbit': { type: 'string', default: '50' },
    reps: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/large-shaped.json' },
  },
});

const NODES = positiveArg('nodes', args.nodes);
const SIZE = positiveArg('size', args.size);
const RATE_MBIT = positiveArg('rate-mbit', args['rate-mbit'], false);
const REPS = positiveArg('reps', args.reps);
if (NODES < 2) throw new Error('--nodes must be at least 2');

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Payload time of `bytes` at the rate, ms. */
const atRateMs = (bytes: number) => (bytes * 8) / (RATE_MBIT * 1e6) / 1e-3;
const idealSwarmMs = atRateMs(SIZE);
const idealStarMs = (NODES - 1) * idealSwarmMs;

/** CPU time of the whole machine from /proc/stat, clock ticks: busy, and in all. */
function cpuTicks(): { busy: number; total: number } {
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
  const ticks = t.map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  // idle and iowait are not busy.
  return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
}

/** What was sampled as a run entered a phase. */
interface Snapshot {
  cpu: { busy: number; total: number };
  /** Bytes each namespace's eth0 had sent. */
  egress: Promise<number[]>;
}

interface PhaseFigures {
  /** The machine's CPUs busy, % of all of them (100 = every core busy). */
  cpuBusyPct: number | null;
  /** Bytes the origin's eth0 sent, in copies of the artifact. */
  originWireCopies: number | null;
  /** Bytes every eth0 sent together, in copies of the artifact. */
  allWireCopies: number | null;
}

/** One 250 ms step of the broadcast. */
interface TimelineStep {
  /** End of the step, ms since the broadcast's start signal. */
  ms: number;
  /** What the origin's eth0 sent, and all eth0s together, Mbit/s. */
  originMbit: number;
  allMbit: number;
  cpuBusyPct: number;
}

const TIMELINE_STEP_MS = 250;

/** Bytes `pid`'s network namespace's eth0 has sent (/proc/<pid>/net/dev), or null. */
function txBytes(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/net/dev`, 'utf8')
      .split('\n')
      .find((l) => l.trim().startsWith('eth0:'));
    // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit bytes.
    return line === undefined ? null : Number(line.split(':')[1]!.trim().split(/\s+/)[8]);
  } catch {
    return null;
  }
}

/** Samples the uplinks of `pids` and the CPUs every {@link TIMELINE_STEP_MS} until stopped. */
function sampleTimeline(pids: readonly number[]): { stop(): TimelineStep[] } {
  const steps: TimelineStep[] = [];
  const start = performance.now();
  let last = { at: start, tx: pids.map(txBytes), cpu: cpuTicks() };
  const timer = setInterval(() => {
    const next = { at: performance.now(), tx: pids.map(txBytes), cpu: cpuTicks() };
    const seconds = (next.at - last.at) / 1000;
    const mbit = (i: number) => {
      const a = last.tx[i];
      const b = next.tx[i];
      return a === null || b === null || a === undefined || b === undefined
        ? 0
        : ((b - a) * 8) / 1e6 / seconds;
    };
    const all = pids.reduce((n, _, i) => n + mbit(i), 0);
    const cpuTotal = next.cpu.total - last.cpu.total;
    steps.push({
      ms: Math.round(next.at - start),
      originMbit: round(mbit(0), 1),
      allMbit: round(all, 1),
      cpuBusyPct: cpuTotal > 0 ? round(((next.cpu.busy - last.cpu.busy) / cpuTotal) * 100) : 0,
    });
    last = next;
  }, TIMELINE_STEP_MS);
  return {
    stop() {
      clearInterval(timer);
      return steps;
    },
  };
}

interface Rep {
  rep: number;
  complete: boolean;
  error: string | undefined;
  durationMs: number;
  starMs: number | null;
  ratio: number | null;
  idealSwarmMs: number;
  idealStarMs: number;
  originUploadRatio: number | null;
  /**
   * What the uplinks sent during the broadcast, % of what they could have (rate x durationMs):
   * the origin's, and all of them together.
   */
  originLinkUsePct: number | null;
  allLinksUsePct: number | null;
  peakRssMb: number | null;
  broadcast: PhaseFigures;
  star: PhaseFigures;
  loadAverageBefore: number;
  timeline: TimelineStep[];
  result: DemoResult;
}

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

async function phaseFigures(
  from: Snapshot | undefined,
  to: Snapshot | undefined,
): Promise<PhaseFigures> {
  if (from === undefined || to === undefined) {
    return { cpuBusyPct: null, originWireCopies: null, allWireCopies: null };
  }
  const [a, b] = await Promise.all([from.egress, to.egress]);
  const sent = b.map((x, i) => x - a[i]!);
  const total = to.cpu.total - from.cpu.total;
  return {
    cpuBusyPct: total > 0 ? round(((to.cpu.busy - from.cpu.busy) / total) * 100) : null,
    originWireCopies: round(sent[0]! / SIZE, 3),
    allWireCopies: round(sent.reduce((x, y) => x + y, 0) / SIZE, 3),
  };
}

async function runOnce(lab: NetnsLab, rep: number): Promise<Rep> {
  const snapshots = new Map<DemoPhase, Snapshot>();
  const snapshot = (): Snapshot => {
    const egress = Promise.all(lab.hosts.map((_, i) => lab.egressBytes(i)));
    egress.catch(() => undefined);
    return { cpu: cpuTicks(), egress };
  };
  const loadAverageBefore = os.loadavg()[0]!;
  let lastLine = '';
  let sampler: { stop(): TimelineStep[] } | undefined;
  let timeline: TimelineStep[] = [];
  // Without a terminal, also where the run is every few seconds.
  const lines = demoProgressLines(NODES, { label: `  run ${rep}` });
  const result = await runDemo({
    nodes: NODES,
    workload: { artifacts: 1, size: SIZE },
    nodeProcesses: true,
    placements: lab.hosts.map((_, i) => ({
      commandPrefix: lab.execPrefix(i),
      listenHost: lab.address(i),
    })),
    timeoutMs: 120_000 + 4 * (idealStarMs + idealSwarmMs),
    onPhase: (phase, nodes) => {
      if (phase === 'running' || phase === 'ceiling' || phase === 'stopping') {
        snapshots.set(phase, snapshot());
      }
      if (phase === 'running') sampler = sampleTimeline(nodes.map((n) => n.pid ?? -1));
      else if (sampler !== undefined) {
        timeline = sampler.stop();
        sampler = undefined;
      }
    },
    onProgress: (p) => {
      lines.onProgress(p);
      const line = formatProgress(p);
      if (line !== lastLine && p.phase !== 'running') log(`  ${line}`);
      lastLine = line;
    },
  }).finally(lines.stop);
  const starMs = result.rawCeilingMs ?? null;
  const broadcast = await phaseFigures(snapshots.get('running'), snapshots.get('ceiling'));
  /** Bytes the rate carries in the broadcast's time, in copies of the artifact. */
  const capacity = result.durationMs > 0 ? (RATE_MBIT * 1e6 * result.durationMs) / 8e3 / SIZE : 0;
  const use = (copies: number | null, links: number) =>
    copies === null || capacity === 0 ? null : round((copies / (capacity * links)) * 100);
  return {
    rep,
    complete: result.complete,
    error: result.error,
    durationMs: Math.round(result.durationMs),
    starMs,
    ratio: starMs === null || starMs <= 0 ? null : round(result.durationMs / starMs, 3),
    idealSwarmMs: Math.round(idealSwarmMs),
    idealStarMs: Math.round(idealStarMs),
    originUploadRatio: result.originUploadRatio ?? null,
    originLinkUsePct: use(broadcast.originWireCopies, 1),
    allLinksUsePct: use(broadcast.allWireCopies, NODES),
    peakRssMb: result.peakRssMb ?? null,
    broadcast,
    star: await phaseFigures(snapshots.get('ceiling'), snapshots.get('stopping')),
    loadAverageBefore: round(loadAverageBefore, 2),
    timeline,
    result,
  };
}

const unavailable = labUnavailable();
if (unavailable !== undefined) {
  log(`bench:large-shaped cannot run here: ${unavailable}`);
  process.exit(1);
}

log(
  `${NODES} nodes, each in its own network namespace, uplinks limited to ${RATE_MBIT} Mbit/s; ` +
    `one artifact of ${SIZE} bytes from node 0; ideal swarm ${(idealSwarmMs / 1000).toFixed(1)} s, ` +
    `star ${(idealStarMs / 1000).toFixed(1)} s`,
);
/** The timeline in 1 s steps: `pick`'s mean over each second, as one line. */
function perSecond(steps: readonly TimelineStep[], pick: (s: TimelineStep) => number): string {
  const per = 1000 / TIMELINE_STEP_MS;
  const out: string[] = [];
  for (let i = 0; i < steps.length; i += per) {
    const part = steps.slice(i, i + per);
    out.push((part.reduce((n, x) => n + pick(x), 0) / part.length).toFixed(0));
  }
  return out.join(' ');
}

const lab = await NetnsLab.create(NODES, { testerPort: false });
const reps: Rep[] = [];
let limit: EgressLimit | undefined;
try {
  for (let i = 0; i < NODES; i++) limit = await lab.limitEgress(i, RATE_MBIT);
  log(
    `tbf on every eth0: rate ${RATE_MBIT}mbit burst ${limit!.burstBytes} latency ${limit!.latencyMs}ms`,
  );
  for (let rep = 1; rep <= REPS; rep++) {
    log(`run ${rep}/${REPS} (load average ${os.loadavg()[0]!.toFixed(2)})`);
    const r = await runOnce(lab, rep);
    reps.push(r);
    log(
      `  per second of the broadcast: origin Mbit/s ${perSecond(r.timeline, (x) => x.originMbit)}`,
    );
    log(`    all uplinks Mbit/s ${perSecond(r.timeline, (x) => x.allMbit)}`);
    log(`    CPU busy % ${perSecond(r.timeline, (x) => x.cpuBusyPct)}`);
    log(
      `  ${r.complete ? 'complete' : `INCOMPLETE (${r.error})`}: broadcast ${r.durationMs} ms, ` +
        `star ${r.starMs ?? '-'} ms, ratio ${r.ratio ?? '-'}; origin upload ratio ` +
        `${r.originUploadRatio ?? '-'} (wire ${r.broadcast.originWireCopies ?? '-'} copies); uplinks used: ` +
        `origin ${r.originLinkUsePct ?? '-'}%, all ${r.allLinksUsePct ?? '-'}%; ` +
        `CPU busy ${r.broadcast.cpuBusyPct ?? '-'}% (broadcast), ${r.star.cpuBusyPct ?? '-'}% (star)`,
    );
  }
} finally {
  await lab.destroy();
  const left = lab.leftovers();
  if (left.length > 0) log(`left behind: ${left.join('; ')}`);
}

const summary = {
  date: new Date().toISOString(),
  command: `npm run bench:large-shaped -- --nodes ${NODES} --size ${SIZE} --rate-mbit ${RATE_MBIT} --reps ${REPS}`,
  machine: machineInfo(),
  nodes: NODES,
  sizeBytes: SIZE,
  rateMbit: RATE_MBIT,
  tbf: limit,
  idealSwarmMs: Math.round(idealSwarmMs),
  idealStarMs: Math.round(idealStarMs),
  allComplete: reps.length === REPS && reps.every((r) => r.complete),
  reps,
};

await mkdir(dirname(args.out), { recursive: true });
await writeFile(args.out, `${JSON.stringify(summary, null, 2)}\n`);

const f = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined ? '-' : x.toFixed(digits);
if (args.json) {
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} else {
  const lines = [
    `${NODES} nodes, one namespace each, every uplink ${RATE_MBIT} Mbit/s (tbf); one artifact of ` +
      `${SIZE} bytes from node 0; ideal swarm S/R ${f(idealSwarmMs)} ms, ideal star ` +
      `(n-1)S/R ${f(idealStarMs)} ms; ${summary.machine.nproc} CPUs, ${summary.machine.node}`,
    '',
    '| run | durationMs (broadcast) | starMs (raw TLS star) | broadcast / star | ideal swarm ms | ideal star ms | originUploadRatio | origin wire copies | all wire copies | uplinks used %, origin / all | CPU busy % (broadcast / star) | peakRssMb | complete |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...reps.map(
      (r) =>
        `| ${r.rep} | ${r.durationMs} | ${f(r.starMs)} | ${f(r.ratio, 3)} | ${r.idealSwarmMs} | ` +
        `${r.idealStarMs} | ${f(r.originUploadRatio, 3)} | ${f(r.broadcast.originWireCopies, 2)} | ` +
        `${f(r.broadcast.allWireCopies, 2)} | ${f(r.originLinkUsePct)} / ${f(r.allLinksUsePct)} | ` +
        `${f(r.broadcast.cpuBusyPct)} / ${f(r.star.cpuBusyPct)} | ` +
        `${f(r.peakRssMb)} | ${r.complete ? 'yes' : `NO (${r.error})`} |`,
    ),
    '',
    `\`${summary.command}\``,
    `JSON: ${args.out}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
if (!summary.allComplete) process.exitCode = 1;
