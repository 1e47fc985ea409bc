/**
 * Large artifacts on loopback (issue 7): what the machine allows. In one run, per rep:
 *
 * - `ours`: the demo (`subnet-p2p demo --nodes N --artifacts 1 --size S`), node threads,
 *   chunked into disk chunk stores, and its `rawCeilingMs` (the raw TLS star: the origin in one
 *   thread writing S to each of N - 1 sockets, all received in one other thread). With
 *   `--no-demo`, the same ceiling (rawTlsCeilingMs) is measured on its own;
 * - the floor (bench/floor-node.ts): N worker threads, one per node, running no subnet-p2p
 *   code, only plain TLS sockets and the work any verifying, storing broadcast must do:
 *   `star` (the origin sends every chunk to every node), `relay` (each chunk goes to one
 *   owner, which sends it on to the others), `verify` (relay + SHA-256 of every chunk
 *   received), `keep` (verify + every chunk held in memory) and `store` (verify + every chunk
 *   written to a file, relayed as read back from it).
 *
 * Every figure is divided by the same run's `rawCeilingMs`. A broadcast that verifies and
 * stores cannot beat `store`, so `store / ceiling` is how close to the ceiling the goal can
 * get on this machine, and `ours / store` how far subnet-p2p is from that floor.
 *
 * Usage: npm run bench:large-floor -- [--nodes 13] [--size 268435456] [--reps 1]
 *                                     [--modes star,relay,verify,keep,store] [--no-demo]
 *                                     [--json]
 *                                     [--out FILE]
 * Progress goes to stderr; the table (or the JSON) to stdout; the JSON is always written to
 * --out (default bench/results/large-floor.json).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { rawTlsCeilingMs } from '../src/demo/raw-ceiling.ts';
import { demoProgressLines } from '../src/demo/report.ts';
import { runDemo } from '../src/demo/run-demo.ts';
import { generateIdentity } from '../src/identity/index.ts';
import { periodicProgress } from '../src/util/progress.ts';
import { positiveArg } from './args.ts';
import { FLOOR_MODES, type FloorMode, floorRunMs } from './floor-node.ts';
import { machineInfo } from './machine.ts';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '13' },
    size: { type: 'string', default: String(256 * 1024 * 1024) },
    reps: { type: 'string', default: '1' },
    modes: { type: 'string', default: FLOOR_MODES.join(',') },
    'no-demo': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/large-floor.json' },
  },
});

const NODES = positiveArg('nodes', args.nodes);
const SIZE = positiveArg('size', args.size);
const REPS = positiveArg('reps', args.reps);
const CHUNK_BYTES = 1024 * 1024;
if (NODES < 2) throw new Error('--nodes must be at least 2');
if (SIZE % CHUNK_BYTES !== 0) throw new Error(`--size must be a multiple of ${CHUNK_BYTES}`);
const MODES = args.modes.split(',').map((m) => {
  if (!(FLOOR_MODES as readonly string[]).includes(m)) {
    throw new Error(`--modes: unknown mode '${m}' (known: ${FLOOR_MODES.join(', ')})`);
  }
  return m as FloorMode;
});

const log = (message: string) => process.stderr.write(`${message}\n`);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Rep {
  rep: number;
  loadAverageBefore: number;
  /** The raw TLS ceiling, ms: the demo's, or measured alone with --no-demo. */
  ceilingMs: number | null;
  /** The demo's broadcast, ms (null without the demo, or if it did not complete). */
  oursMs: number | null;
  /** Each floor mode's time, ms. */
  floorMs: Partial<Record<FloorMode, number>>;
}

async function runOnce(rep: number): Promise<Rep> {
  const loadAverageBefore = round(os.loadavg()[0]!);
  let ceilingMs: number | null = null;
  let oursMs: number | null = null;
  if (!args['no-demo']) {
    const lines = demoProgressLines(NODES, { label: '  demo' });
    const result = await runDemo({
      nodes: NODES,
      workload: { artifacts: 1, size: SIZE },
      timeoutMs: 1_500_000,
      onProgress: lines.onProgress,
    }).finally(lines.stop);
    if (!result.complete) log(`  demo did not complete: ${result.error ?? 'no error given'}`);
    oursMs = result.complete ? Math.round(result.durationMs) : null;
    ceilingMs = result.rawCeilingMs ?? null;
    log(`  ours ${oursMs ?? '-'} ms, ceiling ${ceilingMs ?? '-'} ms`);
  }
  const identity = await generateIdentity();
  if (args['no-demo']) {
    const progress = periodicProgress({ describe: () => '  measuring the raw ceiling' });
    ceilingMs = Math.round(await rawTlsCeilingMs(identity, NODES - 1, SIZE).finally(progress.stop));
    log(`  ceiling ${ceilingMs} ms`);
  }
  const floorMs: Partial<Record<FloorMode, number>> = {};
  for (const mode of MODES) {
    const dir = await mkdtemp(join(os.tmpdir(), 'subnet-p2p-floor-'));
    const progress = periodicProgress({ describe: () => `  floor ${mode}: running` });
    try {
      floorMs[mode] = Math.round(
        await floorRunMs({
          mode,
          nodes: NODES,
          chunks: SIZE / CHUNK_BYTES,
          chunkBytes: CHUNK_BYTES,
          key: identity.privateKeyPem,
          cert: identity.certificatePem,
          dir,
        }),
      );
    } finally {
      progress.stop();
      await rm(dir, { recursive: true, force: true });
    }
    log(`  ${mode} ${floorMs[mode]} ms`);
  }
  return { rep, loadAverageBefore, ceilingMs, oursMs, floorMs };
}

log(`${NODES} node threads, one artifact of ${SIZE} bytes in ${CHUNK_BYTES}-byte chunks`);
const reps: Rep[] = [];
for (let rep = 1; rep <= REPS; rep++) {
  log(`run ${rep}/${REPS} (load average ${os.loadavg()[0]!.toFixed(2)})`);
  reps.push(await runOnce(rep));
}

const ratio = (ms: number | null | undefined, of: number | null | undefined) =>
  ms == null || of == null || of <= 0 ? null : round(ms / of);
const rows = reps.map((r) => ({
  ...r,
  /** Each time divided by the same run's raw ceiling. */
  perCeiling: {
    ours: ratio(r.oursMs, r.ceilingMs),
    ...Object.fromEntries(MODES.map((m) => [m, ratio(r.floorMs[m], r.ceilingMs)])),
  },
  /** Ours divided by the floor that does the same work (store). */
  oursPerStoreFloor: ratio(r.oursMs, r.floorMs.store),
}));
const summary = {
  date: new Date().toISOString(),
  machine: machineInfo(),
  command: `npm run bench:large-floor -- ${process.argv.slice(2).join(' ')}`.trim(),
  nodes: NODES,
  size: SIZE,
  chunkBytes: CHUNK_BYTES,
  reps: rows,
};
await mkdir(dirname(args.out), { recursive: true });
await writeFile(args.out, `${JSON.stringify(summary, null, 2)}\n`);

if (args.json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  const cols = ['ceiling', 'ours', ...MODES];
  console.log(`| rep | ${cols.map((c) => `${c} ms (/ ceiling)`).join(' | ')} | ours / store |`);
  console.log(`| --: | ${cols.map(() => '--:').join(' | ')} | --: |`);
  for (const r of rows) {
    const cell = (ms: number | null | undefined, per: number | null | undefined) =>
      ms == null ? '-' : `${ms} (${per ?? '-'})`;
    const cells = [
      cell(r.ceilingMs, 1),
      cell(r.oursMs, r.perCeiling.ours),
      ...MODES.map((m) => cell(r.floorMs[m], (r.perCeiling as Record<string, number | null>)[m])),
    ];
    console.log(`| ${r.rep} | ${cells.join(' | ')} | ${r.oursPerStoreFloor ?? '-'} |`);
  }
  log(`JSON: ${args.out}`);
}
