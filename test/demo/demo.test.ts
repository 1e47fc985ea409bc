// `subnet-p2p demo` end to end, through the real binary: worker threads, identities and a
// registry file on disk, nodes (transport + broadcast layer) on 127.0.0.1 over mutual TLS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DemoResult } from '../../src/demo/summary.ts';
import { isCleanError, runCli } from '../cli/run-cli.ts';

test('a small mixed demo completes: every artifact reaches every other node once', async () => {
  const run = await runCli(['demo', '--nodes', '4', '--artifacts', '20', '--json']);
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as DemoResult;
  assert.equal(result.complete, true);
  assert.equal(result.nodes, 4);
  assert.equal(result.artifacts, 20);
  assert.equal(result.linksUp, 6);
  assert.equal(result.expectedDeliveries, 20 * 3);
  assert.equal(result.deliveries, result.expectedDeliveries);
  // Mixed: every 4th artifact of a node is consensus (5 of 20), the rest ingress.
  const { consensus, ingress } = result.channels;
  assert.equal(consensus?.artifacts, 5);
  assert.equal(ingress?.artifacts, 15);
  assert.equal(consensus.deliveries, 15);
  assert.equal(ingress.deliveries, 45);
  assert.ok(consensus.minSize! >= 200 && consensus.maxSize! <= 1000);
  assert.ok(ingress.minSize! >= 16 * 1024 && ingress.maxSize! <= 1024 * 1024);
  assert.equal(result.payloadBytes, consensus.payloadBytes + ingress.payloadBytes);
  // Ingress is pulled once per receiver; consensus is pushed.
  assert.equal(result.duplicateDownloads, 0);
  assert.equal(result.duplicateDeliveries, 0);
  assert.ok(result.downloads >= 45);
  assert.equal(result.idealBytes, 3 * result.payloadBytes);
  assert.ok(result.wireBytes > result.idealBytes);
  assert.ok(
    result.amplification !== null && result.amplification < 1.3,
    `amplification ${result.amplification}`,
  );
  for (const name of ['consensus', 'ingress']) {
    const l = result.latencyMs[name];
    assert.ok(l && l.p50 !== null && l.p99 !== null && l.max !== null, name);
    assert.ok(l.p50! >= 0 && l.p50! <= l.p99! && l.p99! <= l.max!, name);
  }
  assert.ok(result.durationMs > 0);
  // Worker threads by default: peakRssMb is the one process's, every node in it.
  assert.equal(result.nodeIsolation, 'thread');
  assert.ok(result.peakRssMb !== undefined && result.peakRssMb > 0);
  assert.equal(result.peakRssMb, result.peakParentRssMb);
});

test('a demo that cannot finish in time fails cleanly with exit 1', async () => {
  const run = await runCli([
    'demo',
    '--nodes',
    '3',
    '--artifacts',
    '3000',
    '--size',
    '65536',
    '--timeout-ms',
    '1000',
    '--json',
  ]);
  assert.equal(run.status, 1, run.stderr);
  // Progress lines first (stderr is not a terminal: `demo: ...`), then one clean error line.
  assert.ok(isCleanError({ ...run, stderr: run.stderr.replace(/^demo: .*\n/gm, '') }), run.stderr);
  assert.match(run.stderr, /timed out after 1000 ms/);
  const result = JSON.parse(run.stdout) as DemoResult;
  assert.equal(result.complete, false);
  assert.match(result.error ?? '', /timed out/);
  assert.ok(result.deliveries < result.expectedDeliveries);
});

test('demo options are checked', async () => {
  for (const args of [
    ['--nodes', '1'],
    ['--artifacts', '0'],
    ['--size', '8'],
  ]) {
    const run = await runCli(['demo', ...args]);
    assert.equal(run.status, 2, args.join(' '));
    assert.match(run.stderr, new RegExp(args[0]!), args.join(' '));
  }
});
