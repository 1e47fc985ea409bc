// Several hosts: five `subnet-p2p node` processes, each in its own network namespace with its own
// address on a bridge (tools/netns-lab.ts), driven through their HTTP APIs. Partition and
// heal (a link down and up), SIGKILL and restart, and a 20 mbit token bucket on one host's link
// saturated by bulk traffic while consensus artifacts are timed across it.
//
// Needs root and iproute2 (`ip netns`, `tc`); otherwise it skips, printing why. Not part of
// `npm test`: run it with `npm run test:hosts`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { labUnavailable, NetnsLab } from '../../tools/netns-lab.ts';
import {
  apiFetch,
  connectedTo,
  DaemonProcess,
  EventStreamClient,
  fetched,
  postArtifact,
  signedSubnet,
  status,
  within,
  writeConfig,
} from '../daemon/helpers.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';

const N = 5;
const SUBNET = 'hosts';
const PORT = 4100;
const API_PORT = 4180;
/** The link limit of the last host, and the bound on consensus latency across it under load. */
const RATE = '20mbit';
const RATE_BYTES_PER_SEC = 20e6 / 8;
const CONSENSUS_BOUND_MS = 1500;

const unavailable = labUnavailable();
if (unavailable !== undefined) console.log(`# several hosts: skipped: ${unavailable}`);

interface Host {
  nodeId: string;
  config: string;
  daemon: DaemonProcess;
  api: string;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('several hosts (network namespaces)', {
  skip: unavailable,
  timeout: slow(180_000),
}, () => {
  let lab: NetnsLab;
  let dir: string;
  const hosts: Host[] = [];
  const streams: EventStreamClient[] = [];

  async function start(i: number): Promise<void> {
    const h = hosts[i]!;
    h.daemon = new DaemonProcess(h.config, lab.execPrefix(i));
    h.api = await within(30_000, h.daemon.ready, `host ${i} ready`);
  }
  const others = (h: Host) => hosts.filter((x) => x !== h).map((x) => x.nodeId);
  const open = async (h: Host, channel: string) => {
    const s = await EventStreamClient.open(h.api, channel);
    streams.push(s);
    return s;
  };

  before(async () => {
    lab = await NetnsLab.create(N);
    dir = await tempDir('subnet-p2p-hosts-');
    const { ids } = await signedSubnet(
      dir,
      SUBNET,
      Array.from({ length: N }, (_, i) => `${lab.address(i)}:${PORT}`),
    );
    for (let i = 0; i < N; i++) {
      const config = await writeConfig(dir, `node${i}`, {
        identityDir: `node${i}`,
        registryFile: 'registry.json',
        registryPublicKey: 'operator/operator.pub',
        subnet: SUBNET,
        listen: `${lab.address(i)}:${PORT}`,
        api: `${lab.address(i)}:${API_PORT}`,
        // The lab's addresses are not loopback: plain HTTP must be allowed explicitly.
        apiAllowPlainHttp: true,
        logLevel: 'info',
        limits: { shutdownQuietMs: 300 },
      });
      hosts.push({ nodeId: ids[i]!, config, daemon: undefined!, api: '' });
    }
    await Promise.all(hosts.map((_, i) => start(i)));
  });

  after(async () => {
    for (const s of streams) s.close();
    await Promise.all(hosts.map((h) => h.daemon?.dispose()));
    await lab?.destroy();
    if (dir !== undefined) await removeTempDir(dir);
    const left = lab?.leftovers() ?? [];
    if (left.length > 0) throw new Error(`namespaces or links left behind: ${left.join('; ')}`);
  });

  it('every pair links across the bridge, each node at its own address', async () => {
    for (const [i, h] of hosts.entries()) {
      assert.equal(h.api, `http://${lab.address(i)}:${API_PORT}`);
      const s = await connectedTo(h.api, others(h));
      assert.equal(s.nodeId, h.nodeId);
      assert.equal((await status(h.api)).registryVersion, N);
      for (const p of s.peers) {
        const j = hosts.findIndex((x) => x.nodeId === p.nodeId);
        assert.equal(p.address, `${lab.address(j)}:${PORT}`);
      }
    }
  });

  it('an artifact posted on one host reaches every other host, byte for byte', async () => {
    const [origin, ...rest] = hosts as [Host, ...Host[]];
    const ingress = await Promise.all(rest.map((h) => open(h, 'ingress')));
    const consensus = await Promise.all(rest.map((h) => open(h, 'consensus')));
    const bytes = randomBytes(300_000);
    const vote = randomBytes(300);
    const id = await postArtifact(origin.api, 'ingress', bytes);
    const voteId = await postArtifact(origin.api, 'consensus', vote);
    for (const [i, h] of rest.entries()) {
      assert.equal(
        (await within(20_000, ingress[i]!.waitFor(id), 'ingress event')).size,
        bytes.length,
      );
      await within(20_000, consensus[i]!.waitFor(voteId), 'consensus event');
      assert.deepEqual(await fetched(h.api, 'ingress', id), bytes);
      assert.deepEqual(await fetched(h.api, 'consensus', voteId), vote);
    }
  });

  it("a host's link taken down (partition) and up again (heal): it catches up on what it missed", async () => {
    const cut = hosts[2]!;
    const rest = hosts.filter((h) => h !== cut);
    const before = new Map(
      (await status(hosts[0]!.api)).peers.map((p) => [p.nodeId, p.connId] as const),
    );
    await lab.linkDown(2);
    // The others notice by the idle timeout (5 s): nothing arrives from it any more.
    for (const h of rest) {
      await connectedTo(
        h.api,
        others(h).filter((id) => id !== cut.nodeId),
        30_000,
      );
    }
    const missed = randomBytes(200_000);
    const missedId = await postArtifact(hosts[0]!.api, 'ingress', missed);
    const missedVote = randomBytes(300);
    const missedVoteId = await postArtifact(hosts[1]!.api, 'consensus', missedVote);
    for (const h of rest) {
      await fetched(h.api, 'ingress', missedId);
      await fetched(h.api, 'consensus', missedVoteId);
    }
    await lab.linkUp(2);
    // Redials back off up to 5 s; the links come back with new connections.
    await connectedTo(cut.api, others(cut), 30_000);
    for (const h of rest) await connectedTo(h.api, others(h), 30_000);
    const healed = (await status(hosts[0]!.api)).peers.find((p) => p.nodeId === cut.nodeId)!;
    assert.notEqual(
      healed.connId,
      before.get(cut.nodeId),
      'the link to the cut host was not re-made',
    );
    assert.deepEqual(await fetched(cut.api, 'ingress', missedId, 30_000), missed);
    assert.deepEqual(await fetched(cut.api, 'consensus', missedVoteId, 30_000), missedVote);
  });

  it('a host killed with SIGKILL and restarted in its namespace catches up', async () => {
    const victim = hosts[3]!;
    const rest = hosts.filter((h) => h !== victim);
    victim.daemon.kill('SIGKILL');
    assert.equal((await victim.daemon.exited).signal, 'SIGKILL');
    for (const h of rest)
      await connectedTo(
        h.api,
        others(h).filter((id) => id !== victim.nodeId),
      );
    const missed = randomBytes(150_000);
    const missedId = await postArtifact(hosts[4]!.api, 'ingress', missed);
    const missedVoteId = await postArtifact(hosts[0]!.api, 'consensus', randomBytes(400));
    for (const h of rest) await fetched(h.api, 'ingress', missedId);
    await start(3);
    await connectedTo(victim.api, others(victim), 30_000);
    assert.deepEqual(await fetched(victim.api, 'ingress', missedId, 30_000), missed);
    await fetched(victim.api, 'consensus', missedVoteId, 30_000);
  });

  it(`under a ${RATE} token bucket saturated by bulk traffic, consensus artifacts still arrive within ${CONSENSUS_BOUND_MS} ms`, async (t) => {
    const slow = hosts[4]!;
    const senders = hosts.slice(0, 4);
    await lab.limit(4, RATE);
    for (const h of hosts) await connectedTo(h.api, others(h));
    const [consensus, ingress] = [await open(slow, 'consensus'), await open(slow, 'ingress')];

    /** Posts a vote on a sender (round robin) and times it until `slow` announces it. */
    let k = 0;
    async function timedVote(): Promise<number> {
      const from = senders[k++ % senders.length]!;
      const t0 = performance.now();
      const id = await postArtifact(from.api, 'consensus', randomBytes(300));
      await within(30_000, consensus.waitFor(id), `vote ${k} across the limited link`);
      return performance.now() - t0;
    }

    // Baseline: the same limited link, no bulk traffic.
    const baseline: number[] = [];
    for (let i = 0; i < 20; i++) baseline.push(await timedVote());

    // Load: 32 MiB of ingress posted on the four other hosts (13 s at the rate), and votes
    // timed one after another for as long as the bulk is still arriving.
    const BULK = 24;
    const SIZE = 1 << 20;
    const before = await lab.portCounters(4);
    const bulkStart = performance.now();
    const bulkIds = await Promise.all(
      Array.from({ length: BULK }, (_, i) =>
        postArtifact(senders[i % senders.length]!.api, 'ingress', randomBytes(SIZE)),
      ),
    );
    const bulkDone = within(
      120_000,
      Promise.all(bulkIds.map((id) => ingress.waitFor(id))),
      'bulk artifacts across the limited link',
    ).then(() => performance.now());
    let finished = false;
    void bulkDone.then(() => {
      finished = true;
    });
    // Let the bulk build up before the first vote: wait until the first bulk artifact arrived.
    await within(60_000, ingress.waitFor(bulkIds[0]!), 'first bulk artifact');
    const loaded: { ms: number; bulkPending: number }[] = [];
    while (!finished) {
      const ms = await timedVote();
      const pending = bulkIds.filter((id) => !ingress.events.some((e) => e.id === id)).length;
      loaded.push({ ms, bulkPending: pending });
    }
    const bulkMs = (await bulkDone) - bulkStart;
    const after = await lab.portCounters(4);
    const linkRate = after.sentBytes - before.sentBytes;
    const overlimited = after.overlimits - before.overlimits;
    const underLoad = loaded.filter((v) => v.bulkPending > 0).map((v) => v.ms);
    const goodput = (BULK * SIZE) / (bulkMs / 1000);
    const wire = linkRate / (bulkMs / 1000);
    const failures = (await (await apiFetch(`${slow.api}/metrics`)).text())
      .split('\n')
      .filter((line) => line.startsWith('subnet_p2p_broadcast_fetch_failures_total{'))
      .map((line) => line.replace(/peer="[^"]*",?/, ''));

    const b = [...baseline].sort((x, y) => x - y);
    const l = [...underLoad].sort((x, y) => x - y);
    const fmt = (xs: number[]) =>
      `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p90 ${quantile(xs, 0.9).toFixed(0)} ms, max ${xs.at(-1)!.toFixed(0)} ms`;
    t.diagnostic(`baseline (no bulk, ${b.length} votes): ${fmt(b)}`);
    t.diagnostic(`while bulk saturates the link (${l.length} votes): ${fmt(l)}`);
    t.diagnostic(
      `bulk: ${BULK} × 1 MiB in ${(bulkMs / 1000).toFixed(1)} s = ${((goodput * 8) / 1e6).toFixed(1)} Mbit/s of artifacts; the link carried ${((wire * 8) / 1e6).toFixed(1)} Mbit/s (limit ${RATE})`,
    );
    t.diagnostic(`packets over the bucket's rate during the bulk: ${overlimited}`);
    for (const line of failures) t.diagnostic(`slow host: ${line}`);
    t.diagnostic(await lab.qdiscStats(4));

    // The link was the bottleneck while the bulk lasted: never above the limit, and packets
    // over the bucket's rate again and again. How much of the rate the bulk used is only a
    // diagnostic: on a busy machine the slow host's loop lags while votes flow, and bulk then
    // yields to them by design (the load governor). One CI run carried 64% of the rate with
    // 36 319 packets over the limit; one with three other jobs on the two cores carried 21%
    // (4.2 Mbit/s) with 36 558 over the limit, the bucket as saturated as ever.
    assert.ok(wire <= RATE_BYTES_PER_SEC * 1.05, `the link carried more than the limit: ${wire}`);
    assert.ok(overlimited >= 1000, `the bucket was over its rate only ${overlimited} times`);
    assert.ok(goodput <= RATE_BYTES_PER_SEC * 1.05, `bulk faster than the limit: ${goodput}`);
    // Votes were timed while it was: several of them, every one within the bound.
    assert.ok(underLoad.length >= 5, `only ${underLoad.length} votes timed under load`);
    assert.ok(l.at(-1)! <= CONSENSUS_BOUND_MS, `a vote took ${l.at(-1)} ms under load`);
    // And a vote is far faster than the bulk around it: the whole bulk took many vote latencies.
    assert.ok(bulkMs > 5 * l.at(-1)!, `bulk ${bulkMs} ms vs vote ${l.at(-1)} ms`);
  });
});
