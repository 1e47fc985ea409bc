/**
 * `npm run bench:compare`: the same broadcast workload through subnet-p2p (mutual TLS), the
 * design's floor raw-pull (push up to 1 KiB, else advert, request and hash check, hand-written on
 * TLS), a raw-TLS ceiling (each origin writes each artifact straight to every other node) and,
 * when asked, libp2p gossipsub (TCP, noise, yamux), 13 node processes on 127.0.0.1, one round
 * per artifact size (subnet-p2p: 1 KiB twice, on a channel of library defaults and on
 * `consensus`). Headline: CPU ms per delivered MB of subnet-p2p against raw TLS, and issue 18's
 * goals; then raw-pull against raw TLS (what the design costs) and subnet-p2p against raw-pull
 * (what the implementation adds).
 *
 * Usage: npm run bench:compare -- [--nodes 13] [--sizes 1k,64k,1m] [--per-node 200,24,4]
 *          [--systems subnet-p2p,raw-pull,raw-tls] [--json] [--out DIR] [--timeout-ms MS]
 *          [--settle-ms MS] [--no-chart] [--relay relay|origin-only] [--no-yield] [--profile]
 *          [--no-warmup] [--warmups N] [--interval-ms MS] [--node-flag]
 *   --systems    default subnet-p2p,raw-pull,raw-tls; add gossipsub for libp2p gossipsub and
 *                issue 8's goals against it
 *   --profile    a V8 CPU profile of every node process per round (in OUT/profiles, or
 *                BENCH_COMPARE_CPU_PROF=DIR), and a table of self time by stage per round
 *   --no-warmup  skip the unmeasured warm-up rounds each system runs first (1 KiB x 50 on each
 *                small-artifact channel, 64 KiB x 8; see warmupRounds in compare.ts)
 *   --warmups N  run the warm-up rounds N times (default 1): 3 measures compiled code, the
 *                steady state of a long-running node, where 1 leaves the first measured round
 *                paying for part of the JIT compilation
 *   --sizes      artifact sizes, bytes or with k / m (KiB / MiB)
 *   --per-node   artifacts each node broadcasts per round: one number for every size, or one
 *                per size
 *   --json       print only the JSON object on stdout
 *   --relay      subnet-p2p's relay policy on both channels (default relay, the channel
 *                default; origin-only: receivers do not re-advertise, a diagnostic)
 *   --no-yield   subnet-p2p without its load governor (bulk does not yield an overloaded
 *                event loop; a diagnostic of what the governor costs in throughput)
 *   --interval-ms  paced sends: each node broadcasts one artifact every MS ms (the nodes
 *                staggered within the interval) instead of its whole round at once; latency
 *                then measures the systems, not the queue a burst builds (default 0: a burst)
 *   --node-flag  every node process of every system starts with the node flags the
 *                `subnet-p2p` command runs with (NODE_V8_FLAGS, src/util/v8-heap.ts), as a
 *                deployed node does; default: none, as an application that embeds the library
 *                without them
 *   --out DIR    where compare.json and the chart (compare.svg, compare.png) go
 *                (default bench/results/compare)
 *
 * Progress goes to stderr; the markdown tables (or the JSON) to stdout.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { periodicProgress } from '../../src/util/progress.ts';
import { NODE_V8_FLAGS } from '../../src/util/v8-heap.ts';
import { loadChartsOrExit } from '../charts.ts';
import { chartSpec } from './chart.ts';
import { runCompare } from './compare.ts';
import { SYSTEMS, type SystemName } from './protocol.ts';
import { markdownTables } from './summary.ts';

/** Default artifacts per node for each default size: about a minute per system on 2 cores. */
const DEFAULT_SIZES = '1k,64k,1m';
const DEFAULT_PER_NODE = '200,24,4';
/**
 * Issue 18's comparison: subnet-p2p against the raw TLS ceiling, with the design's floor between
 * them (gossipsub when asked).
 */
const DEFAULT_SYSTEMS: readonly SystemName[] = ['subnet-p2p', 'raw-pull', 'raw-tls'];

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '13' },
    sizes: { type: 'string', default: DEFAULT_SIZES },
    'per-node': { type: 'string', default: DEFAULT_PER_NODE },
    systems: { type: 'string', default: DEFAULT_SYSTEMS.join(',') },
    profile: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/compare' },
    'timeout-ms': { type: 'string', default: '300000' },
    'settle-ms': { type: 'string', default: '300' },
    'no-chart': { type: 'boolean', default: false },
    relay: { type: 'string', default: 'relay' },
    'no-yield': { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
    warmups: { type: 'string', default: '1' },
    'interval-ms': { type: 'string', default: '0' },
    'node-flag': { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`bench:compare: ${message}\n`);
  process.exit(2);
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) fail(`--${name} must be positive integers, got ${value}`);
  return n;
}

function parseSize(value: string): number {
  const m = /^(\d+)([km]?)$/i.exec(value.trim());
  if (!m) fail(`--sizes: cannot read ${value}`);
  const unit = m[2]!.toLowerCase();
  const size = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
  if (size < 32 || size > 4 * 1024 * 1024) fail(`--sizes: ${value} is outside 32 B .. 4 MiB`);
  return size;
}

const nodes = positiveInt('nodes', args.nodes);
if (nodes < 2) fail('--nodes must be at least 2');
const sizes = args.sizes.split(',').map(parseSize);
let perNode = args['per-node'].split(',').map((v) => positiveInt('per-node', v.trim()));
if (perNode.length === 1) perNode = sizes.map(() => perNode[0]!);
else if (args['per-node'] === DEFAULT_PER_NODE && args.sizes !== DEFAULT_SIZES) {
  // Sizes chosen without counts: scale the default byte budget of 4 MiB per node.
  perNode = sizes.map((s) => Math.max(2, Math.min(200, Math.round((4 * 1024 * 1024) / s))));
}
if (perNode.length !== sizes.length) fail('--per-node needs one number, or one per size');
const systems = args.systems.split(',').map((s) => s.trim()) as SystemName[];
for (const s of systems) if (!SYSTEMS.includes(s)) fail(`--systems: unknown system ${s}`);

const intervalMs = Number(args['interval-ms']);
if (!Number.isFinite(intervalMs) || intervalMs < 0) fail('--interval-ms must be a number >= 0');

const relay = args.relay;
if (relay !== 'relay' && relay !== 'origin-only') fail('--relay must be relay or origin-only');

// The chart packages are optional: loaded (or found missing) before the rounds, not after.
const charts = args['no-chart']
  ? undefined
  : await loadChartsOrExit('bench:compare', 'pass --no-chart');

// Each step as it ends; without a terminal, also a line every few seconds.
let last: string | undefined;
const progress = periodicProgress({
  describe: () => `bench:compare: running${last === undefined ? '' : ` (last: ${last})`}`,
});
const log = (message: string) => {
  last = message.trim();
  process.stderr.write(`${message}\n`);
};
// Per-round CPU profiles of every node (--profile, or BENCH_COMPARE_CPU_PROF=DIR as before).
const profileDir =
  process.env.BENCH_COMPARE_CPU_PROF || (args.profile ? join(args.out, 'profiles') : undefined);
if (profileDir) {
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
}
const result = await runCompare({
  nodes,
  systems,
  rounds: sizes.map((size, i) => ({
    size,
    perNode: perNode[i]!,
    ...(intervalMs > 0 ? { intervalMs } : {}),
  })),
  roundTimeoutMs: positiveInt('timeout-ms', args['timeout-ms']),
  settleMs: positiveInt('settle-ms', args['settle-ms']),
  relay,
  bulkYield: !args['no-yield'],
  warmup: !args['no-warmup'],
  warmupPasses: positiveInt('warmups', args.warmups!),
  ...(profileDir ? { profileDir } : {}),
  ...(args['node-flag'] ? { nodeFlags: NODE_V8_FLAGS } : {}),
  log,
});
progress.stop();

mkdirSync(args.out, { recursive: true });
const jsonFile = join(args.out, 'compare.json');
writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
const files = [jsonFile];
if (charts !== undefined) {
  const { renderSvg, svgToPng } = charts;
  const m = result.machine;
  const svg = await renderSvg(
    chartSpec(
      result.results,
      `${nodes} nodes on 127.0.0.1, ${m.nproc} cores, ${m.date.slice(0, 10)}`,
    ),
  );
  writeFileSync(join(args.out, 'compare.svg'), svg);
  writeFileSync(join(args.out, 'compare.png'), svgToPng(svg));
  files.push(join(args.out, 'compare.svg'), join(args.out, 'compare.png'));
}

/** "none", "1 pass", "3 passes". */
function passesLabel(passes: number): string {
  return passes === 0 ? 'none' : `${passes} pass${passes === 1 ? '' : 'es'}`;
}

if (args.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const m = result.machine;
  process.stdout.write(
    `${markdownTables(result.results, result.ratios, result.goals)}\n\nMachine: nproc ${m.nproc}, ${m.memoryGiB} GiB, ${m.cpuModel}, node ${m.node}, ${m.kernel}; load average ${m.loadAverage.start.toFixed(2)} -> ${m.loadAverage.end.toFixed(2)}; ${m.date}; subnet-p2p relay policy: ${relay}; load governor: ${args['no-yield'] ? 'off' : 'on'}; warm-up rounds: ${passesLabel(result.options.warmupPasses)}; sends: ${intervalMs > 0 ? `one per ${intervalMs} ms per node` : 'a burst'}; node flags: ${args['node-flag'] ? NODE_V8_FLAGS.join(' ') : 'none'}\nWritten: ${files.join(', ')}\n`,
  );
}
process.exit(result.results.every((r) => r.complete) ? 0 : 1);
