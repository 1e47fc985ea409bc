/**
 * Soak benchmark: `npm run bench:soak -- [--minutes 30] [--nodes 13] [--seed 1]`.
 *
 * N `subnet-p2p node` processes on 127.0.0.1 (set up with the CLI and a signed registry, as in
 * test/daemon), for a given time, under:
 *
 * - mixed load through the HTTP APIs: consensus votes (300 B, pushed on the high lane) and
 *   ingress artifacts (8 to 256 KiB, fetched on the bulk lane) posted on random live nodes;
 * - a consumer: an artifact held by every node is deleted everywhere (as a real consumer purges
 *   what it has processed), so that the live set stays bounded and memory can be judged;
 * - churn: a node of the churn set killed with SIGKILL and restarted 5 to 15 s later;
 * - faults: the fault proxy of test/helpers/fault-proxy.ts in front of three nodes (the registry
 *   lists the proxy for them), given in turn added delay, a throughput limit, a black hole, or
 *   all its connections reset;
 *
 * all chosen by a seeded generator. Every 10 s it samples each node's RSS (/proc/PID/status)
 * and a few bounded gauges from /metrics. Delivery: an artifact counts as delivered once every
 * node announced it on its event stream (or posted it); one still missing somewhere 120 s after
 * it was posted counts as lost (and is deleted anyway).
 *
 * Why processes and not worker threads: a node's memory is then its own (RSS per process, no
 * shared heap or allocator), and churn is a real crash (SIGKILL; a fresh process that knows
 * nothing), exactly as deployed.
 *
 * Writes bench/results/soak.json and bench/results/soak.md (`--out PREFIX` to change).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { periodicProgress } from '../src/util/progress.ts';
import {
  apiFetch,
  connectedTo,
  DaemonProcess,
  EventStreamClient,
  freePort,
  postArtifact,
  signedSubnet,
  writeConfig,
} from '../test/daemon/helpers.ts';
import { FaultProxy } from '../test/helpers/fault-proxy.ts';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    nodes: { type: 'string', default: '13' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/results/soak' },
  },
});
const MINUTES = Number(opts.minutes);
const NODES = Number(opts.nodes);
const SEED = Number(opts.seed);
if (!(MINUTES > 0) || !(NODES >= 5)) throw new Error('--minutes > 0 and --nodes >= 5 needed');

const SUBNET = 'soak';
const PROXIED = 3;
/** The last nodes are churned; the rest run the whole time (their memory is the clean series). */
const CHURNED = Math.max(2, Math.floor(NODES / 4));
const VOTE_EVERY_MS = 250;
const INGRESS_EVERY_MS = 1000;
const CHURN_EVERY_MS = 45_000;
const FAULT_EVERY_MS = 30_000;
const SAMPLE_EVERY_MS = 10_000;
const LOST_AFTER_MS = 120_000;

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = (random() * 4294967296) >>> 0;
    b[i] = v;
    b[i + 1] = v >>> 8;
    b[i + 2] = v >>> 16;
    b[i + 3] = v >>> 24;
  }
  return b;
}

interface Node {
  i: number;
  nodeId: string;
  config: string;
  daemon: DaemonProcess | undefined;
  api: string;
  streams: EventStreamClient[];
  proxy: FaultProxy | undefined;
  kills: number;
}

interface Tracked {
  channel: 'consensus' | 'ingress';
  size: number;
  postedAt: number;
  have: Set<number>;
  deliveredAt?: number;
}

interface Sample {
  t: number;
  rssMiB: (number | null)[];
  slots: (number | null)[];
  sendQueueBytes: (number | null)[];
  live: number;
}

const t0 = Date.now();
const now = () => Date.now() - t0;
const log = (msg: string) => console.log(`[${(now() / 1000).toFixed(0).padStart(5)} s] ${msg}`);

const dir = await mkdtemp(join(tmpdir(), 'subnet-p2p-soak-'));
const nodes: Node[] = [];
const tracked = new Map<string, Tracked>();
const deleted = new Map<string, number>();
/** Announcements of ids not tracked yet (the POST had not returned), kept 60 s. */
const early = new Map<string, { t: number; have: Set<number> }>();
const results: { channel: string; delivered: boolean; latencyMs?: number }[] = [];
const samples: Sample[] = [];
const events: { t: number; what: string }[] = [];
let apiErrors = 0;

async function startNode(n: Node): Promise<void> {
  n.daemon = new DaemonProcess(n.config);
  n.api = await n.daemon.ready;
  n.streams = await Promise.all([
    EventStreamClient.open(n.api, 'consensus'),
    EventStreamClient.open(n.api, 'ingress'),
  ]);
}

function alive(n: Node): boolean {
  return (
    n.daemon !== undefined &&
    n.daemon.child.exitCode === null &&
    n.daemon.child.signalCode === null &&
    n.api !== ''
  );
}

async function setup(): Promise<void> {
  const ports = await Promise.all(Array.from({ length: NODES }, () => freePort()));
  // The first PROXIED nodes are listed at a fault proxy in front of them.
  const proxies = await Promise.all(
    ports.map((port, i) => (i < PROXIED ? FaultProxy.start(`127.0.0.1:${port}`) : undefined)),
  );
  const { ids } = await signedSubnet(
    dir,
    SUBNET,
    ports.map((port, i) => proxies[i]?.address ?? `127.0.0.1:${port}`),
  );
  for (let i = 0; i < NODES; i++) {
    const config = await writeConfig(dir, `node${i}`, {
      identityDir: `node${i}`,
      registryFile: 'registry.json',
      registryPublicKey: 'operator/operator.pub',
      subnet: SUBNET,
      listen: `127.0.0.1:${ports[i]}`,
      api: '127.0.0.1:0',
      logLevel: 'info',
    });
    nodes.push({
      i,
      nodeId: ids[i]!,
      config,
      daemon: undefined,
      api: '',
      streams: [],
      proxy: proxies[i],
      kills: 0,
    });
  }
  await Promise.all(nodes.map(startNode));
  for (const n of nodes) {
    await connectedTo(
      n.api,
      nodes.filter((x) => x !== n).map((x) => x.nodeId),
      60_000,
    );
  }
}

/** Moves stream events into `tracked`; deletes again what was deleted but came back. */
function absorbEvents(): void {
  for (const n of nodes) {
    for (const s of n.streams) {
      for (const e of s.events.splice(0)) {
        const a = tracked.get(e.id);
        if (a !== undefined) {
          a.have.add(n.i);
        } else if (deleted.has(e.id)) {
          if (alive(n)) void del(n, e.channel, e.id);
        } else {
          const x = early.get(e.id) ?? { t: now(), have: new Set<number>() };
          x.have.add(n.i);
          early.set(e.id, x);
        }
      }
    }
  }
}

async function holds(n: Node, channel: string, id: string): Promise<boolean> {
  try {
    const res = await apiFetch(`${n.api}/v1/channels/${channel}/artifacts/${id}`);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function del(n: Node, channel: string, id: string): Promise<void> {
  try {
    const res = await apiFetch(`${n.api}/v1/channels/${channel}/artifacts/${id}`, {
      method: 'DELETE',
    });
    await res.arrayBuffer();
  } catch {
    // the node died meanwhile: it lost everything anyway
  }
}

/** Deletes everywhere what every node has, and what is overdue (counted as lost). */
async function consume(final = false): Promise<void> {
  absorbEvents();
  const t = now();
  for (const [id, a] of tracked) {
    const overdue = t - a.postedAt > LOST_AFTER_MS;
    if (a.have.size < NODES && (overdue || final)) {
      // A restarted node may have caught up before its event stream was open: ask it.
      for (const n of nodes.filter((x) => !a.have.has(x.i) && alive(x))) {
        if (await holds(n, a.channel, id)) a.have.add(n.i);
      }
    }
    const everywhere = a.have.size === NODES;
    if (!everywhere && !overdue && !final) continue;
    tracked.delete(id);
    deleted.set(id, t);
    results.push({
      channel: a.channel,
      delivered: everywhere,
      latencyMs: everywhere ? (a.deliveredAt ?? t) - a.postedAt : undefined,
    });
    if (!everywhere) {
      const missing = nodes.filter((n) => !a.have.has(n.i)).map((n) => n.i);
      log(`LOST ${a.channel} ${id.slice(0, 8)}: missing on nodes ${missing.join(', ')}`);
    }
    await Promise.all(nodes.filter(alive).map((n) => del(n, a.channel, id)));
  }
  for (const [id, at] of deleted) if (t - at > 300_000) deleted.delete(id);
  for (const [id, x] of early) if (t - x.t > 60_000) early.delete(id);
}

function markDelivered(): void {
  const t = now();
  for (const a of tracked.values())
    if (a.deliveredAt === undefined && a.have.size === NODES) a.deliveredAt = t;
}

async function post(channel: 'consensus' | 'ingress', size: number): Promise<void> {
  const live = nodes.filter(alive);
  if (live.length === 0) return;
  const n = pick(live);
  try {
    const id = await postArtifact(n.api, channel, bytes(size));
    const a: Tracked = { channel, size, postedAt: now(), have: new Set([n.i]) };
    for (const i of early.get(id)?.have ?? []) a.have.add(i);
    early.delete(id);
    tracked.set(id, a);
  } catch {
    apiErrors++;
  }
}

async function rssMiB(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(text);
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function sample(): Promise<void> {
  const rss: (number | null)[] = [];
  const slots: (number | null)[] = [];
  const queued: (number | null)[] = [];
  for (const n of nodes) {
    if (!alive(n)) {
      rss.push(null);
      slots.push(null);
      queued.push(null);
      continue;
    }
    rss.push(await rssMiB(n.daemon!.child.pid));
    try {
      const text = await (await apiFetch(`${n.api}/metrics`)).text();
      slots.push(metricSum(text, 'subnet_p2p_broadcast_slots'));
      queued.push(metricSum(text, 'subnet_p2p_transport_send_queue_bytes'));
    } catch {
      slots.push(null);
      queued.push(null);
    }
  }
  samples.push({ t: now(), rssMiB: rss, slots, sendQueueBytes: queued, live: tracked.size });
}

async function churn(): Promise<void> {
  const candidates = nodes.slice(NODES - CHURNED).filter(alive);
  if (candidates.length === 0) return;
  const n = pick(candidates);
  const downMs = between(5000, 15_000);
  n.kills++;
  events.push({ t: now(), what: `SIGKILL node ${n.i}, restart after ${downMs} ms` });
  log(`SIGKILL node ${n.i} (down ${downMs} ms)`);
  for (const s of n.streams) s.close();
  n.streams = [];
  const d = n.daemon!;
  n.api = '';
  d.kill('SIGKILL');
  await d.exited;
  await new Promise((r) => setTimeout(r, downMs));
  // A restart that fails (e.g. the source tree is broken mid-run) is retried, not fatal.
  for (let attempt = 1; ; attempt++) {
    try {
      await startNode(n);
      break;
    } catch (e) {
      events.push({ t: now(), what: `restart of node ${n.i} failed: ${String(e).slice(0, 200)}` });
      log(`restart of node ${n.i} failed (attempt ${attempt})`);
      if (attempt >= 5 || loadStopped()) return;
      await new Promise((r) => setTimeout(r, 10_000));
    }
  }
  log(`node ${n.i} back`);
  // What it caught up on before its event streams were open is not announced to them.
  const grace = Date.now() + 10_000;
  while (Date.now() < grace && alive(n)) {
    for (const [id, a] of tracked) {
      if (!a.have.has(n.i) && (await holds(n, a.channel, id))) a.have.add(n.i);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function fault(): Promise<void> {
  const n = pick(nodes.slice(0, PROXIED));
  const p = n.proxy!;
  const kind = pick(['delay', 'throughput', 'black hole', 'reset'] as const);
  const forMs = between(5000, 20_000);
  events.push({
    t: now(),
    what: `proxy of node ${n.i}: ${kind}${kind === 'reset' ? '' : ` for ${forMs} ms`}`,
  });
  log(`fault on node ${n.i}: ${kind}`);
  if (kind === 'reset') {
    p.dropConnections();
    return;
  }
  if (kind === 'delay') p.set('both', { delayMs: between(20, 200) });
  if (kind === 'throughput') p.set('both', { bytesPerSec: 500_000 });
  if (kind === 'black hole') p.set('both', { blackHole: true });
  await new Promise((r) => setTimeout(r, forMs));
  p.heal();
}

function every(ms: number, f: () => Promise<void>, stopped: () => boolean): Promise<void> {
  return (async () => {
    while (!stopped()) {
      const start = Date.now();
      await f();
      const wait = ms - (Date.now() - start);
      if (wait > 0 && !stopped()) await new Promise((r) => setTimeout(r, wait));
    }
  })();
}

// --- analysis ---

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function analyse() {
  const end = samples.at(-1)?.t ?? 0;
  const third = end / 3;
  const memory = nodes.map((n) => {
    const series = samples
      .filter((s) => s.rssMiB[n.i] !== null)
      .map((s) => ({ t: s.t, rss: s.rssMiB[n.i]! }));
    const first = series.filter((s) => s.t <= third).map((s) => s.rss);
    const last = series.filter((s) => s.t >= 2 * third).map((s) => s.rss);
    // The slope over the last two thirds (after warm-up), MiB per hour.
    const tail = series.filter((s) => s.t >= third);
    const perHour = slope(
      tail.map((s) => s.t / 3_600_000),
      tail.map((s) => s.rss),
    );
    return {
      node: n.i,
      role: n.i < PROXIED ? 'behind fault proxy' : n.i >= NODES - CHURNED ? 'churned' : 'steady',
      kills: n.kills,
      firstThirdMiB: mean(first),
      lastThirdMiB: mean(last),
      ratio: mean(last) / mean(first),
      slopeMiBPerHour: perHour,
      maxMiB: Math.max(...series.map((s) => s.rss)),
    };
  });
  const byChannel = (channel: string) => {
    const rs = results.filter((r) => r.channel === channel);
    const lat = rs
      .filter((r) => r.latencyMs !== undefined)
      .map((r) => r.latencyMs!)
      .sort((a, b) => a - b);
    return {
      expected: rs.length,
      delivered: rs.filter((r) => r.delivered).length,
      latencyToAllMs: {
        p50: quantile(lat, 0.5),
        p99: quantile(lat, 0.99),
        max: lat.at(-1) ?? Number.NaN,
      },
    };
  };
  return { memory, delivery: { consensus: byChannel('consensus'), ingress: byChannel('ingress') } };
}

function markdown(report: ReturnType<typeof analyse>, meta: Record<string, unknown>): string {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const lines = [
    '# Soak benchmark',
    '',
    `Command: \`${meta.command}\`; machine: ${meta.nproc} cores (${meta.cpu}), ${meta.memoryGiB} GiB; Node ${meta.node}; ${meta.date}.`,
    '',
    `${NODES} daemon processes on 127.0.0.1 for ${MINUTES} min (seed ${SEED}): a vote every ${VOTE_EVERY_MS} ms and an ingress artifact (8-256 KiB) every ${INGRESS_EVERY_MS} ms on random live nodes; a SIGKILL + restart every ${CHURN_EVERY_MS / 1000} s among nodes ${NODES - CHURNED}-${NODES - 1}; a fault every ${FAULT_EVERY_MS / 1000} s on the proxies of nodes 0-${PROXIED - 1}. ${events.length} churn and fault events; ${apiErrors} API errors.`,
    '',
    '## Delivery',
    '',
    '| Channel | Delivered / expected | To all nodes p50 | p99 | max |',
    '| --- | --- | --- | --- | --- |',
    ...(['consensus', 'ingress'] as const).map((c) => {
      const d = report.delivery[c];
      return `| ${c} | ${d.delivered} / ${d.expected} | ${f(d.latencyToAllMs.p50, 0)} ms | ${f(d.latencyToAllMs.p99, 0)} ms | ${f(d.latencyToAllMs.max, 0)} ms |`;
    }),
    '',
    '## Memory (RSS, MiB; a restarted node starts a new series)',
    '',
    '| Node | Role | Kills | First third | Last third | Last / first | Slope, last two thirds (MiB/h) | Max |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.memory.map(
      (m) =>
        `| ${m.node} | ${m.role} | ${m.kills} | ${f(m.firstThirdMiB)} | ${f(m.lastThirdMiB)} | ${f(m.ratio, 2)} | ${f(m.slopeMiBPerHour)} | ${f(m.maxMiB)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

// --- run ---

process.on('SIGINT', () => {
  stopAll = true;
});
let stopAll = false;
// Without a terminal (CI, a log file): where the soak is every few seconds, on stderr.
let phase = 'setting up';
const progressLines = periodicProgress({
  describe: () => {
    const delivered = results.filter((r) => r.delivered).length;
    return (
      `bench:soak: ${phase}, ${delivered} delivered, ${results.length - delivered} lost, ` +
      `${tracked.size} live`
    );
  },
});
log(`setting up ${NODES} nodes in ${dir}`);
await setup();
log('all linked; load starts');
phase = 'under load';
const endAt = Date.now() + MINUTES * 60_000;
const loadStopped = () => stopAll || Date.now() >= endAt;
const loops = [
  every(VOTE_EVERY_MS, () => post('consensus', 300), loadStopped),
  every(INGRESS_EVERY_MS, () => post('ingress', between(8 << 10, 256 << 10)), loadStopped),
  every(CHURN_EVERY_MS, churn, loadStopped),
  every(FAULT_EVERY_MS, fault, loadStopped),
];
let draining = false;
const consumer = every(
  500,
  async () => {
    absorbEvents();
    markDelivered();
    await consume();
  },
  () => draining && tracked.size === 0,
);
const sampler = every(SAMPLE_EVERY_MS, sample, () => draining);
let lastReport = Date.now();
const progress = every(
  5000,
  async () => {
    if (Date.now() - lastReport < 60_000) return;
    lastReport = Date.now();
    const d = results.filter((r) => r.delivered).length;
    const rss = samples.at(-1)?.rssMiB.filter((x): x is number => x !== null) ?? [];
    log(
      `${d}/${results.length} delivered, ${tracked.size} live, RSS mean ${mean(rss).toFixed(0)} MiB`,
    );
  },
  () => draining,
);
await Promise.all(loops);
log('load stopped; draining (every live artifact delivered or overdue)');
phase = 'draining';
for (const p of nodes.map((n) => n.proxy)) p?.heal();
draining = true;
await Promise.race([consumer, new Promise((r) => setTimeout(r, LOST_AFTER_MS + 10_000))]);
await consume(true);
await Promise.all([sampler, progress]);
progressLines.stop();

const report = analyse();
const meta = {
  command: `npm run bench:soak -- --minutes ${MINUTES} --nodes ${NODES} --seed ${SEED}`,
  nproc: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
  freeMemoryGiBAtEnd: (freemem() / 2 ** 30).toFixed(1),
  node: process.version,
  date: new Date(t0).toISOString(),
};
await writeFile(
  `${opts.out}.json`,
  `${JSON.stringify({ meta, ...report, events, samples }, null, 1)}\n`,
);
await writeFile(`${opts.out}.md`, markdown(report, meta));
console.log(markdown(report, meta));

for (const n of nodes) {
  for (const s of n.streams) s.close();
  n.daemon?.kill('SIGTERM');
}
await Promise.all(nodes.map((n) => n.daemon?.exited));
await Promise.all(nodes.map((n) => n.proxy?.close()));
await rm(dir, { recursive: true, force: true });
process.exit(0);
