// bench:compare in small: 4 node processes per system, 1 KiB artifacts, every system (gossipsub
// asked for explicitly: it is no longer a default), subnet-p2p on a channel of library defaults
// and on `consensus`, with per-round CPU profiles, so the benchmark (its node processes, the
// libp2p versions and overrides that run on Node 20, the wire counters, the CPU accounting, the
// profiles, the summary) cannot rot unnoticed; and raw-pull alone above its push threshold, so
// its advert / request path is measured too. No assertion on speed.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCompare, warmupRounds } from '../../bench/compare/compare.ts';
import { PUSH_THRESHOLD_BYTES, SYSTEMS } from '../../bench/compare/protocol.ts';
import { markdownTables, summarizeRound, systemLabel } from '../../bench/compare/summary.ts';
import { parseSs, wireDelta, wireSnapshot } from '../../bench/compare/wire.ts';
import { NODE_V8_FLAGS } from '../../src/util/v8-heap.ts';
import { slow } from '../helpers/slowdown.ts';

test('parseSs keeps the sockets of the given processes with their bytes_sent', () => {
  const text = [
    '0      0      127.0.0.1:4100 127.0.0.1:50000 users:(("node",pid=11,fd=20))',
    '\t cubic wscale:7,7 rto:204 bytes_sent:1234 bytes_acked:1235 bytes_received:99',
    '0      0      127.0.0.1:50000 127.0.0.1:4100 users:(("node",pid=12,fd=21))',
    '\t cubic wscale:7,7 rto:204 bytes_received:1234',
    '0      0      127.0.0.1:22 127.0.0.1:40000 users:(("sshd",pid=99,fd=3))',
    '\t cubic bytes_sent:777',
  ].join('\n');
  const snap = parseSs(text, new Set([11, 12]));
  assert.deepEqual(
    [...snap],
    [
      ['127.0.0.1:4100 127.0.0.1:50000', 1234],
      ['127.0.0.1:50000 127.0.0.1:4100', 0],
    ],
  );
  const later = new Map([['127.0.0.1:4100 127.0.0.1:50000', 2000]]);
  assert.deepEqual(wireDelta(snap, later), { bytes: 766, sockets: 1, socketsLost: 1 });
});

test('a round without every report is not complete', () => {
  const r = summarizeRound({
    system: 'raw-tls',
    size: 1024,
    perNode: 2,
    nodes: 3,
    durationMs: 10,
    wire: null,
    reports: [],
  });
  assert.equal(r.complete, false);
  assert.equal(r.expectedDeliveries, 12);
  assert.equal(r.duplicateReceptions, null);
});

test('every system delivers every artifact to every node, with its figures', async () => {
  const nodes = 4;
  const perNode = 3;
  const size = 1024;
  const ssWorks = (await wireSnapshot(new Set([process.pid]))) !== null;
  const profileDir = mkdtempSync(join(tmpdir(), 'compare-profiles-'));
  let profiles: string[];
  let result: Awaited<ReturnType<typeof runCompare>>;
  try {
    result = await runCompare({
      nodes,
      systems: SYSTEMS,
      rounds: [{ size, perNode }],
      roundTimeoutMs: slow(60_000),
      settleMs: 100,
      profileDir,
    });
    profiles = readdirSync(profileDir);
  } finally {
    rmSync(profileDir, { recursive: true, force: true });
  }
  // subnet-p2p runs the 1 KiB round twice: a channel of library defaults, then consensus.
  assert.deepEqual(result.results.map(systemLabel), [
    'subnet-p2p (default)',
    'subnet-p2p (consensus)',
    'gossipsub',
    'raw-pull',
    'raw-tls',
  ]);
  // A profile per node and round, warm-ups included (subnet-p2p: 3 warm-ups and 2 rounds; the
  // others: 2 and 1); the results leave the warm-ups out.
  const rounds = SYSTEMS.map((s) => warmupRounds(s).length + (s === 'subnet-p2p' ? 2 : 1));
  assert.deepEqual(
    SYSTEMS.map((s) => warmupRounds(s).length),
    SYSTEMS.map((s) => (s === 'subnet-p2p' ? 3 : 2)),
  );
  assert.equal(profiles.length, nodes * rounds.reduce((a, b) => a + b, 0), profiles.join(' '));
  assert.equal(result.options.warmup, true);
  assert.equal(result.options.warmupPasses, 1);
  for (const r of result.results) {
    const busy = Object.entries(r.stages ?? {}).filter(([n]) => n !== 'idle');
    assert.ok(
      busy.reduce((a, [, ms]) => a + ms, 0) > 0,
      `${systemLabel(r)}: ${JSON.stringify(r.stages)}`,
    );
  }
  for (const r of result.results) {
    const what = `${r.system}: ${JSON.stringify(r)}`;
    assert.equal(r.complete, true, what);
    assert.equal(r.expectedDeliveries, (nodes - 1) * nodes * perNode, what);
    assert.equal(r.deliveries, r.expectedDeliveries, what);
    assert.equal(r.idealBytes, (nodes - 1) * nodes * perNode * size, what);
    assert.ok(r.durationMs !== null && r.durationMs > 0, what);
    assert.ok(r.throughputMBps !== null && r.throughputMBps > 0, what);
    assert.ok(r.duplicateReceptions !== null && r.duplicateReceptions >= 0, what);
    assert.ok(r.latencyMs.p50 !== null && r.latencyMs.p50 <= r.latencyMs.p99!, what);
    assert.ok(r.cpuSeconds > 0, what);
    assert.ok(r.cpuMsPerMB !== null && r.cpuMsPerMB > 0, what);
    assert.ok(r.peakRssMB.maxNode > 0, what);
    // The round's window, for cutting a perf recording to it (bench/perf-stages.ts).
    assert.equal(r.window?.pids.length, nodes, what);
    assert.ok(r.window!.monotonicEndS > r.window!.monotonicStartS, what);
    if (ssWorks) {
      // Full mesh: one TCP connection per pair, both ends counted.
      assert.equal(r.sockets, nodes * (nodes - 1), what);
      assert.equal(r.socketsLost, 0, what);
      // TLS or noise records carry every payload byte, and more.
      assert.ok(r.wireBytes !== null && r.wireBytes > r.idealBytes, what);
    }
  }
  const raw = result.results.find((r) => r.system === 'raw-tls')!;
  assert.equal(raw.duplicateReceptions, 0);
  // raw-pull pushes 1 KiB to every peer, and each receiver hashes what it delivers.
  const pull = result.results.find((r) => r.system === 'raw-pull')!;
  const copies = nodes * perNode * (nodes - 1);
  assert.deepEqual(pull.counters, {
    pushesSent: copies,
    advertsSent: 0,
    requestsSent: 0,
    artifactsSent: 0,
    payloadsReceived: copies,
    hashMismatches: 0,
  });
  assert.equal(pull.duplicateReceptions, 0);
  const ours = result.results.find((r) => r.channel === 'consensus')!;
  assert.ok(ours.counters.inlineSent! >= nodes * perNode * (nodes - 1), 'pushed inline');
  assert.equal(result.ratios.length, 1);
  assert.ok(result.ratios[0]!.throughputVsRaw !== null);
  // The headline: each subnet-p2p round against raw TLS, CPU per MB of both and their ratio.
  assert.deepEqual(
    result.headline.map((h) => h.channel),
    ['default', 'consensus'],
  );
  for (const h of result.headline) {
    assert.ok(h.cpuMsPerMB !== null && h.cpuMsPerMB > 0, JSON.stringify(h));
    assert.ok(h.rawCpuMsPerMB !== null && h.rawCpuMsPerMB > 0, JSON.stringify(h));
    assert.equal(h.cpuRatio.measured, h.cpuMsPerMB / h.rawCpuMsPerMB);
    assert.equal(h.cpuRatio.goal, '<= 3');
    assert.ok(h.throughputRatio.measured !== null && h.throughputRatio.measured > 0);
  }
  // The design's floor: raw-pull against raw TLS, subnet-p2p against raw-pull, per subnet-p2p round.
  assert.deepEqual(
    result.floor.map((f) => f.channel),
    ['default', 'consensus'],
  );
  for (const f of result.floor) {
    assert.equal(f.pullVsRaw.cpu, f.pullCpuMsPerMB! / f.rawCpuMsPerMB!, JSON.stringify(f));
    assert.equal(f.oursVsPull.cpu, f.oursCpuMsPerMB! / f.pullCpuMsPerMB!, JSON.stringify(f));
    assert.ok(f.pullVsRaw.throughput !== null && f.oursVsPull.throughput !== null);
  }
  assert.equal(result.headline[0]!.amplification.goal, '<= 1.2');
  assert.equal(result.headline[1]!.amplification.goal, null);
  assert.ok(result.goals.length > 0, 'gossipsub ran: its goals are there');
  const tables = markdownTables(result.results, result.ratios, result.goals);
  assert.match(tables, /^\| 1 KiB default channel \| [\d.]+ \| [\d.]+ \| [\d.]+ \(goal <= 3: /m);
  assert.match(tables, /^\| 1 KiB consensus \| /m);
  assert.match(tables, /^\| Workload \| raw TLS CPU ms\/MB \| raw-pull CPU ms\/MB \| /m);
  assert.match(tables, /^\| 1 KiB consensus( \| [\d.]+){7} \| (-?\d+|–) \|$/m);
  for (const r of result.results) {
    const s = systemLabel(r).replace(/[()]/g, '\\$&');
    assert.match(tables, new RegExp(`\\| 1 KiB \\| ${s} \\| 4 x 3 \\| yes`));
  }
  assert.match(tables, /^\| Stage: .* \| 1 KiB subnet-p2p \(default\) \| /m);
  assert.match(tables, /^\| adverts \/ slots \| [\d.]+ % \(/m);
});

test('raw-pull advertises, is asked for and sends each artifact above its push threshold', async () => {
  const nodes = 4;
  const perNode = 3;
  const size = 4 * PUSH_THRESHOLD_BYTES;
  const result = await runCompare({
    nodes,
    systems: ['raw-pull'],
    rounds: [{ size, perNode }],
    roundTimeoutMs: slow(60_000),
    settleMs: 100,
    warmup: false,
    // --node-flag: the node processes start with the subnet-p2p command's flags.
    nodeFlags: NODE_V8_FLAGS,
  });
  assert.deepEqual(result.options.nodeFlags, [...NODE_V8_FLAGS]);
  const [r] = result.results;
  const what = JSON.stringify(r);
  assert.equal(r?.complete, true, what);
  assert.equal(r.deliveries, (nodes - 1) * nodes * perNode, what);
  const copies = nodes * perNode * (nodes - 1);
  assert.deepEqual(
    r.counters,
    {
      pushesSent: 0,
      advertsSent: copies,
      requestsSent: copies,
      artifactsSent: copies,
      payloadsReceived: copies,
      hashMismatches: 0,
    },
    what,
  );
  assert.equal(r.duplicateReceptions, 0, what);
  assert.ok(r.cpuSeconds > 0 && r.cpuMsPerMB !== null && r.cpuMsPerMB > 0, what);
  // Without raw TLS or subnet-p2p in the run, the floor has the size and no ratios.
  assert.deepEqual(
    result.floor.map((f) => [f.size, f.channel, f.pullVsRaw.cpu, f.oursVsPull.cpu]),
    [[size, null, null, null]],
  );
});
