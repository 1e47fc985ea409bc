/**
 * `npm run bench:durable`: artifacts acknowledged (201) per second through the daemon's HTTP API,
 * with durable acceptance on and off, in one run. Two daemons in this process on loopback (the
 * origin and one peer); `--clients` concurrent clients POST `--count` artifacts of each size to
 * the origin's `ingress` channel. Each run has fresh daemons; after a warm-up, each size runs off, on, on, off (the mean of each mode is
 * reported).
 *
 *   npm run bench:durable -- [--count 1000] [--clients 4] [--sizes 1024,65536]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDaemonConfig } from '../src/daemon/config.ts';
import { type Daemon, startDaemon } from '../src/daemon/run-daemon.ts';
import { generateIdentity, writeIdentity } from '../src/identity/index.ts';
import { silentLogger } from '../src/log.ts';
import { addNode, initRegistry, writeRegistryFile } from '../src/registry/index.ts';
import { periodicProgress } from '../src/util/progress.ts';
import { apiFetch, connectedTo, freePort, registerApiToken } from '../test/daemon/helpers.ts';
import { positiveArg } from './args.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '4' },
    sizes: { type: 'string', default: '1024,65536' },
  },
});
const COUNT = positiveArg('count', values.count);
const CLIENTS = positiveArg('clients', values.clients);
const SIZES = values.sizes.split(',').map((s) => positiveArg('sizes', s));

/** Two connected daemons, the origin with durable acceptance on or off. */
async function pair(durable: boolean): Promise<{ dir: string; daemons: Daemon[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'subnet-p2p-bench-durable-'));
  const ids = [await generateIdentity(), await generateIdentity()];
  const ports = [await freePort(), await freePort()];
  let doc = initRegistry();
  for (const [i, id] of ids.entries()) {
    await writeIdentity(join(dir, `node${i}`), id);
    doc = addNode(doc, {
      subnet: 's1',
      address: `127.0.0.1:${ports[i]}`,
      certificatePem: id.certificatePem,
    });
  }
  await writeRegistryFile(join(dir, 'registry.json'), doc);
  const daemons: Daemon[] = [];
  for (const i of [0, 1]) {
    const config = parseDaemonConfig(
      {
        identityDir: `node${i}`,
        registryFile: 'registry.json',
        subnet: 's1',
        listen: `127.0.0.1:${ports[i]}`,
        api: '127.0.0.1:0',
        durable: i === 0 ? durable : true,
        limits: { shutdownQuietMs: 10 },
      },
      dir,
    );
    const daemon = await startDaemon(config, { logger: silentLogger() });
    registerApiToken(daemon.apiUrl, daemon.apiToken);
    daemons.push(daemon);
  }
  await connectedTo(`http://127.0.0.1:${daemons[0]!.api.port}`, [daemons[1]!.node.nodeId]);
  return { dir, daemons };
}

async function fsyncMeanMs(daemon: Daemon): Promise<number | undefined> {
  const metric = daemon.node.metrics.getSingleMetric('subnet_p2p_daemon_durable_fsync_seconds');
  const { values: v } = await metric!.get();
  const sum = v.find((x) => (x as { metricName?: string }).metricName?.endsWith('_sum'))?.value;
  const count = v.find((x) => (x as { metricName?: string }).metricName?.endsWith('_count'))?.value;
  return count ? ((sum ?? 0) / count) * 1000 : undefined;
}

/** Acknowledged artifacts per second: `COUNT` POSTs of `size` bytes by `CLIENTS` clients. */
async function run(size: number, durable: boolean) {
  const status = { size, durable, posted: () => 0 };
  current = status;
  const { dir, daemons } = await pair(durable);
  const url = `http://127.0.0.1:${daemons[0]!.api.port}/v1/channels/ingress/artifacts`;
  const bodies = Array.from({ length: COUNT }, () => randomBytes(size));
  let next = 0;
  status.posted = () => next;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < COUNT) {
        const body = bodies[next++]!;
        const res = await apiFetch(url, { method: 'POST', body });
        if (res.status !== 201) throw new Error(`POST: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const fsync = await fsyncMeanMs(daemons[0]!);
  for (const d of daemons) await d.stop();
  await rm(dir, { recursive: true, force: true });
  return { perSecond: COUNT / seconds, fsync };
}

/** The run under way, for the progress lines. */
let current: { size: number; durable: boolean; posted: () => number } | undefined;
// Without a terminal (CI, a log file): the run under way every few seconds, on stderr.
const lines = periodicProgress({
  describe: () =>
    current === undefined
      ? 'bench:durable: starting'
      : `bench:durable: ${current.size} B, durable ${current.durable ? 'on' : 'off'}, ` +
        `${current.posted()}/${COUNT} posted`,
});

console.log(
  `# bench:durable  ${new Date().toISOString()}  nproc ${cpus().length}  memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(freemem() / 2 ** 30).toFixed(1)})  node ${process.version}`,
);
console.log(
  `# ${COUNT} POSTs per size and mode, ${CLIENTS} concurrent clients, origin + 1 peer on loopback, tmpdir ${tmpdir()}`,
);
console.log('size_bytes  off_per_s  on_per_s  on/off  fsync_mean_ms');
// A warm-up run (not reported), then each size as off, on, on, off: the mean of each mode.
await run(SIZES[0]!, true);
for (const size of SIZES) {
  const runs: { durable: boolean; perSecond: number; fsync: number | undefined }[] = [];
  for (const durable of [false, true, true, false])
    runs.push({ durable, ...(await run(size, durable)) });
  const mean = (d: boolean) =>
    runs.filter((r) => r.durable === d).reduce((s, r) => s + r.perSecond, 0) / 2;
  const off = mean(false);
  const on = mean(true);
  const fsync =
    runs
      .filter((r) => r.durable)
      .map((r) => r.fsync ?? 0)
      .reduce((s, x) => s + x, 0) / 2;
  console.log(
    `${String(size).padStart(10)}  ${off.toFixed(0).padStart(9)}  ${on.toFixed(0).padStart(8)}  ${(on / off).toFixed(2).padStart(6)}  ${fsync.toFixed(3)}`,
  );
}
lines.stop();
