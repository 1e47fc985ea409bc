// bench:compare in small: 4 node processes per system, 1 KiB artifacts, every system, so the
// benchmark (its node processes, the libp2p versions and overrides that run on Node 20, the
// wire counters, the summary) cannot rot unnoticed. No assertion on speed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCompare } from '../../bench/compare/compare.ts';
import { SYSTEMS } from '../../bench/compare/protocol.ts';
import { markdownTables, summarizeRound } from '../../bench/compare/summary.ts';
import { parseSs, wireDelta, wireSnapshot } from '../../bench/compare/wire.ts';
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
  const result = await runCompare({
    nodes,
    systems: SYSTEMS,
    rounds: [{ size, perNode }],
    roundTimeoutMs: slow(60_000),
    settleMs: 100,
  });
  assert.equal(result.results.length, SYSTEMS.length);
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
    assert.ok(r.peakRssMB.maxNode > 0, what);
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
  const ours = result.results.find((r) => r.system === 'subnet-p2p')!;
  assert.ok(ours.counters.inlineSent! >= nodes * perNode * (nodes - 1), 'pushed inline');
  assert.equal(result.ratios.length, 1);
  assert.ok(result.ratios[0]!.throughputVsRaw !== null);
  const tables = markdownTables(result.results, result.ratios, result.goals);
  for (const s of SYSTEMS) assert.match(tables, new RegExp(`\\| 1 KiB \\| ${s} \\| 4 x 3 \\| yes`));
});
