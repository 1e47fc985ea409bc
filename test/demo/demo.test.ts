// `subnet-p2p demo` end to end, through the real binary: worker threads, identities and a
// registry file on disk, transports on 127.0.0.1.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DemoResult } from '../../src/demo/summary.ts';
import { isCleanError, runCli } from '../cli/run-cli.ts';

test('a small demo completes: full mesh, every message delivered, exit 0', () => {
  const run = runCli(['demo', '--nodes', '4', '--messages', '20', '--size', '4096', '--json']);
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as DemoResult;
  assert.equal(result.complete, true);
  assert.equal(result.nodes, 4);
  assert.equal(result.linksUp, 6);
  assert.equal(result.expectedLinks, 6);
  assert.deepEqual(result.delivered, result.expected);
  // 4 nodes x 3 peers x (20 bulk + 2 urgent).
  assert.deepEqual(result.expected, { high: 24, bulk: 240 });
  assert.equal(result.payloadBytes, 24 * 100 + 240 * 4096);
  assert.ok(result.wireBytes > result.payloadBytes);
  assert.ok(result.overhead !== null && result.overhead > 1 && result.overhead < 1.1);
  assert.equal(result.latencyMs.bulk.samples, 240);
  assert.ok(result.latencyMs.high.p50 !== null && result.latencyMs.high.p50 >= 0);
});

test('a demo that cannot finish in time fails cleanly with exit 1', () => {
  const run = runCli([
    'demo',
    '--nodes',
    '3',
    '--messages',
    '100000',
    '--timeout-ms',
    '1000',
    '--json',
  ]);
  assert.equal(run.status, 1, run.stderr);
  assert.ok(isCleanError(run), run.stderr);
  assert.match(run.stderr, /timed out after 1000 ms/);
  const result = JSON.parse(run.stdout) as DemoResult;
  assert.equal(result.complete, false);
  assert.match(result.error ?? '', /timed out/);
});

test('demo options are checked', () => {
  const run = runCli(['demo', '--nodes', '1']);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--nodes/);
});
