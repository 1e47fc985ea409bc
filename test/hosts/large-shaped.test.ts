// A large artifact on shaped links: the demo's node processes, each in its own network namespace
// (tools/netns-lab.ts) whose uplink is limited to 20 Mbit/s by a token bucket, broadcast one
// chunked 4 MiB artifact; then the raw TLS star sends the same bytes from node 0's namespace to
// the others through the same links. A small run of what `npm run bench:large-shaped` measures.
//
// What it checks holds whatever the machine's load: the run completes; every node ran in its
// namespace at its address; both transfers took at least the time the bucket allows (so they went
// through it); and the origin uploaded fewer than n - 1 copies, by its own counters and at its
// eth0. Which one is faster is left to the benchmark (timing goals belong there).
//
// Needs root and iproute2 (`ip netns`, `tc`); otherwise it skips, printing why. Not part of
// `npm test`: run it with `npm run test:hosts`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DemoPhase } from '../../src/demo/run-demo.ts';
import { runDemo } from '../../src/demo/run-demo.ts';
import type { DemoResult } from '../../src/demo/summary.ts';
import { labUnavailable, NetnsLab } from '../../tools/netns-lab.ts';
import { slow } from '../helpers/slowdown.ts';

const run = promisify(execFile);

const N = 4;
const SIZE = 4 * 1024 * 1024;
const RATE_MBIT = 20;
/** The payload time of one copy at the rate, ms (the bucket also carries the headers). */
const COPY_MS = ((SIZE * 8) / (RATE_MBIT * 1e6)) * 1000;

const unavailable = labUnavailable();
if (unavailable !== undefined)
  console.log(`# large artifact on shaped links: skipped: ${unavailable}`);

describe('a large artifact on shaped links (network namespaces)', {
  skip: unavailable,
  timeout: slow(180_000),
}, () => {
  let lab: NetnsLab;
  let result: DemoResult;
  let pids: number[] = [];
  /** The namespace of each node process, as `ip netns identify` saw it while running. */
  let namespaces: Promise<string[]> = Promise.resolve([]);
  /** Bytes each namespace's eth0 had sent as the run entered each phase. */
  const egress = new Map<DemoPhase, Promise<number[]>>();

  before(async () => {
    lab = await NetnsLab.create(N, { testerPort: false });
    for (let i = 0; i < N; i++) await lab.limitEgress(i, RATE_MBIT);
    result = await runDemo({
      nodes: N,
      workload: { artifacts: 1, size: SIZE },
      nodeProcesses: true,
      placements: lab.hosts.map((_, i) => ({
        commandPrefix: lab.execPrefix(i),
        listenHost: lab.address(i),
      })),
      timeoutMs: slow(120_000),
      onPhase: (phase, nodes) => {
        if (phase === 'running') {
          pids = nodes.map((n) => n.pid!);
          namespaces = Promise.all(
            pids.map(async (pid) => (await run(lab.ip, ['netns', 'identify', String(pid)])).stdout),
          );
          namespaces.catch(() => undefined);
        }
        if (phase === 'running' || phase === 'ceiling' || phase === 'stopping') {
          const bytes = Promise.all(lab.hosts.map((_, i) => lab.egressBytes(i)));
          bytes.catch(() => undefined);
          egress.set(phase, bytes);
        }
      },
    });
  });

  after(async () => {
    await lab?.destroy();
    const left = lab?.leftovers() ?? [];
    if (left.length > 0) throw new Error(`namespaces or links left behind: ${left.join('; ')}`);
  });

  /** Bytes each eth0 sent between entering `from` and entering `to`. */
  async function sent(from: DemoPhase, to: DemoPhase): Promise<number[]> {
    const [a, b] = await Promise.all([egress.get(from)!, egress.get(to)!]);
    return b.map((x, i) => x - a[i]!);
  }

  it('completes, every node a process in its own namespace', async (t) => {
    assert.equal(result.error, undefined);
    assert.equal(result.complete, true);
    assert.equal(result.nodeIsolation, 'process');
    assert.equal(result.channels.ingress!.deliveries, N - 1);
    assert.deepEqual(
      (await namespaces).map((s) => s.trim()),
      lab.hosts,
    );
    for (const pid of pids) {
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} still exists`);
    }
    t.diagnostic(
      `broadcast ${result.durationMs.toFixed(0)} ms, raw TLS star ${result.rawCeilingMs} ms; ` +
        `one copy at the rate ${COPY_MS.toFixed(0)} ms, ${N - 1} copies ${((N - 1) * COPY_MS).toFixed(0)} ms; ` +
        `origin upload ratio ${result.originUploadRatio}`,
    );
  });

  it('both the broadcast and the raw star went through the token buckets', async () => {
    // The origin sends at least one copy, and the star's origin N - 1, at no more than the rate.
    assert.ok(result.durationMs >= 0.95 * COPY_MS, `broadcast took ${result.durationMs} ms`);
    assert.ok(result.rawCeilingMs !== null, 'no raw ceiling');
    assert.ok(
      result.rawCeilingMs! >= 0.95 * (N - 1) * COPY_MS,
      `raw star took ${result.rawCeilingMs} ms`,
    );
    // And the star's bytes left through the origin's eth0: N - 1 copies (and TLS, TCP headers).
    const star = await sent('ceiling', 'stopping');
    assert.ok(star[0]! >= (N - 1) * SIZE, `the star's origin sent ${star[0]} bytes`);
    assert.ok(star[0]! <= (N - 1) * SIZE * 1.15, `the star's origin sent ${star[0]} bytes`);
  });

  it('the origin uploads fewer than n - 1 copies: by its counters and at its eth0', async (t) => {
    assert.ok(result.originUploadRatio !== null, 'no origin upload ratio');
    assert.ok(result.originUploadRatio! < N - 1, `origin upload ratio ${result.originUploadRatio}`);
    const broadcast = await sent('running', 'ceiling');
    t.diagnostic(
      `eth0 bytes sent during the broadcast, in copies: ${broadcast.map((b) => (b / SIZE).toFixed(2)).join(', ')}`,
    );
    assert.ok(broadcast[0]! >= SIZE, `the origin sent ${broadcast[0]} bytes`);
    assert.ok(broadcast[0]! < (N - 1) * SIZE, `the origin sent ${broadcast[0]} bytes`);
    // The others passed chunks on: together they sent what the origin did not.
    const others = broadcast.slice(1).reduce((a, b) => a + b, 0);
    assert.ok(others + broadcast[0]! >= (N - 1) * SIZE, `all sent ${others + broadcast[0]!}`);
  });
});
