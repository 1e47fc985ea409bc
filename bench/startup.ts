/**
 * `npm run bench:startup`: how long the installed command takes to start, against plain
 * `node -e 0` measured in the same run (these machines are shared: read the ratios).
 *
 * Rows, each the median (and min, max) of `--reps` runs, interleaved so that load affects all
 * rows alike:
 * - `node -e 0`: the floor, Node itself;
 * - `subnet-p2p --version`;
 * - `subnet-p2p keygen`: a node's keys and certificate written to a folder;
 * - daemon ready, alone: `subnet-p2p node --config` from spawn to its `node ready` log line;
 * - four daemons ready, started together: spawn to the last `node ready`.
 *
 * It runs the compiled CLI (bin/subnet-p2p.js -> dist/), as installed; the npm script builds it
 * first.
 *
 *   npm run bench:startup -- [--reps 10] [--json]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateIdentity, writeIdentity } from '../src/identity/index.ts';
import { addNode, initRegistry, writeRegistryFile } from '../src/registry/index.ts';
import { DaemonProcess, freePort } from '../test/daemon/helpers.ts';
import { runGroup } from '../test/helpers/leftovers.ts';
import { positiveArg } from './args.ts';
import { machineInfo } from './machine.ts';

const BIN = fileURLToPath(new URL('../bin/subnet-p2p.js', import.meta.url));
const DAEMONS = 4;

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const REPS = positiveArg('reps', values.reps);

/** Wall-clock ms of `node ...args` until it exits; throws if it fails. */
async function timeRun(args: readonly string[]): Promise<number> {
  const start = performance.now();
  const run = await runGroup(process.execPath, args);
  if (run.status !== 0)
    throw new Error(`node ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return performance.now() - start;
}

/** Starts a daemon; resolves with the ms from spawn to its `node ready` log line. */
async function startDaemon(config: string, live: Set<DaemonProcess>): Promise<number> {
  const start = performance.now();
  const daemon = new DaemonProcess(config);
  live.add(daemon);
  await daemon.ready;
  return performance.now() - start;
}

/** Stops the daemons (SIGTERM, their graceful shutdown) and waits for them to exit. */
async function stopAll(live: Set<DaemonProcess>): Promise<void> {
  await Promise.all(
    [...live].map(async (d) => {
      d.kill('SIGTERM');
      await d.exited;
    }),
  );
  live.clear();
}

/** `n` node configs in `dir`: keys, an unsigned registry listing them all, a config each. */
async function subnetConfigs(dir: string, n: number): Promise<string[]> {
  let doc = initRegistry();
  const configs: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = await generateIdentity();
    await writeIdentity(join(dir, `node${i}`), id);
    const port = await freePort();
    doc = addNode(doc, {
      subnet: 's1',
      address: `127.0.0.1:${port}`,
      certificatePem: id.certificatePem,
    });
    const config = join(dir, `node${i}.json`);
    await writeFile(
      config,
      JSON.stringify({
        identityDir: `node${i}`,
        registryFile: 'registry.json',
        subnet: 's1',
        listen: `127.0.0.1:${port}`,
        api: '127.0.0.1:0',
        dataDir: `data${i}`,
        logLevel: 'info',
      }),
    );
    configs.push(config);
  }
  await writeRegistryFile(join(dir, 'registry.json'), doc);
  return configs;
}

interface Row {
  name: string;
  ms: number[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const dir = await mkdtemp(join(tmpdir(), 'subnet-p2p-bench-startup-'));
// Daemons run in process groups of their own, killed however this process ends.
const live = new Set<DaemonProcess>();
try {
  // One subnet of four: the lone daemon is its node 0 (it starts and is ready without peers).
  const configs = await subnetConfigs(dir, DAEMONS);
  const rows: Row[] = [
    { name: 'node -e 0', ms: [] },
    { name: 'subnet-p2p --version', ms: [] },
    { name: 'subnet-p2p keygen', ms: [] },
    { name: 'daemon ready, alone', ms: [] },
    { name: `${DAEMONS} daemons ready, started together`, ms: [] },
  ];
  const [floor, version, keygen, alone, together] = rows as [Row, Row, Row, Row, Row];
  // A warm-up of each (the page cache, the compiled code cache), not counted.
  for (let rep = -1; rep < REPS; rep++) {
    const sample = (row: Row, ms: number) => {
      if (rep >= 0) row.ms.push(ms);
    };
    sample(floor, await timeRun(['-e', '0']));
    sample(version, await timeRun([BIN, '--version']));
    sample(keygen, await timeRun([BIN, 'keygen', '--out', join(dir, `keys${rep + 1}`)]));
    sample(alone, await startDaemon(configs[0]!, live));
    await stopAll(live);
    const all = await Promise.all(configs.map((c) => startDaemon(c, live)));
    sample(together, Math.max(...all));
    await stopAll(live);
    process.stderr.write(`startup: ${rep + 1}/${REPS} reps\n`);
  }
  const base = median(floor.ms);
  const result = {
    date: new Date().toISOString(),
    machine: { ...machineInfo(), freeMemGiB: +(freemem() / 1024 ** 3).toFixed(1) },
    totalMemGiB: +(totalmem() / 1024 ** 3).toFixed(1),
    reps: REPS,
    rows: rows.map((r) => ({
      name: r.name,
      medianMs: Math.round(median(r.ms)),
      minMs: Math.round(Math.min(...r.ms)),
      maxMs: Math.round(Math.max(...r.ms)),
      vsNode: +(median(r.ms) / base).toFixed(2),
    })),
  };
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(
      `${result.date}, ${result.machine.nproc} cores, ${result.totalMemGiB} GiB, Node ${process.version}, ${REPS} reps\n`,
    );
    console.log('| command | median (ms) | min-max (ms) | ÷ node -e 0 |');
    console.log('| --- | --- | --- | --- |');
    for (const r of result.rows) {
      console.log(`| ${r.name} | ${r.medianMs} | ${r.minMs}-${r.maxMs} | ${r.vsNode} |`);
    }
  }
} finally {
  await stopAll(live);
  await rm(dir, { recursive: true, force: true });
}
