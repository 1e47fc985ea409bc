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
 *
 * This file holds the run; bench/soak/ the parts: config.ts (options, rates, the seeded
 * generator, the clock), nodes.ts (the daemons), tracking.ts (the load and the consumer),
 * disturbances.ts (churn and faults), sampling.ts (memory samples), analysis.ts (the report).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { periodicProgress } from '../src/util/progress.ts';
import { analyse, markdown, mean } from './soak/analysis.ts';
import {
  between,
  CHURN_EVERY_MS,
  FAULT_EVERY_MS,
  INGRESS_EVERY_MS,
  LOST_AFTER_MS,
  log,
  MINUTES,
  NODES,
  opts,
  SAMPLE_EVERY_MS,
  SEED,
  t0,
  VOTE_EVERY_MS,
} from './soak/config.ts';
import { churn, events, fault } from './soak/disturbances.ts';
import { nodes, setup } from './soak/nodes.ts';
import { sample, samples } from './soak/sampling.ts';
import { absorbEvents, consume, markDelivered, post, results, tracked } from './soak/tracking.ts';

const dir = await mkdtemp(join(tmpdir(), 'subnet-p2p-soak-'));

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
await setup(dir);
log('all linked; load starts');
phase = 'under load';
const endAt = Date.now() + MINUTES * 60_000;
const loadStopped = () => stopAll || Date.now() >= endAt;
const loops = [
  every(VOTE_EVERY_MS, () => post('consensus', 300), loadStopped),
  every(INGRESS_EVERY_MS, () => post('ingress', between(8 << 10, 256 << 10)), loadStopped),
  every(CHURN_EVERY_MS, () => churn(loadStopped), loadStopped),
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
