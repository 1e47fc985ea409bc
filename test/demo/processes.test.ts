// The demo with `nodeProcesses`: every node a child process of its own (node-host.ts), the same
// node code as in a worker thread, through the IPC channel. Small runs; each checks that no
// node process outlives the demo.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEMO_SUBNET, LARGE_ARTIFACT_BYTES } from '../../src/demo/protocol.ts';
import {
  type DemoNode,
  type DemoOptions,
  REGISTRY_FILE,
  runDemo,
} from '../../src/demo/run-demo.ts';
import type { DemoResult } from '../../src/demo/summary.ts';
import { nodeIdOfCertificate, type RegistryDocument } from '../../src/registry/index.ts';
import { slow } from '../helpers/slowdown.ts';

/** Runs the demo with node processes; `atRunning` sees the nodes as the workload starts. */
async function runWithProcesses(
  options: Omit<DemoOptions, 'nodeProcesses' | 'timeoutMs' | 'onPhase'>,
  atRunning: (nodes: readonly DemoNode[]) => void = () => undefined,
): Promise<{ result: DemoResult; pids: number[] }> {
  let pids: number[] = [];
  const result = await runDemo({
    ...options,
    nodeProcesses: true,
    timeoutMs: slow(60_000),
    onPhase: (phase, nodes) => {
      if (phase !== 'running') return;
      pids = nodes.map((n) => {
        assert.equal(typeof n.pid, 'number', `node ${n.index} has a process`);
        return n.pid!;
      });
      atRunning(nodes);
    },
  });
  return { result, pids };
}

/** Asserts that none of `pids` is a process any more (exited and reaped). */
function assertGone(pids: readonly number[]): void {
  for (const pid of pids) {
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} still exists`);
  }
}

test('with node processes, a small mixed demo completes and leaves no process behind', async () => {
  const { result, pids } = await runWithProcesses({ nodes: 3, workload: { artifacts: 12 } });
  assert.equal(result.error, undefined);
  assert.equal(result.complete, true);
  assert.equal(result.nodeIsolation, 'process');
  assert.equal(result.deliveries, 12 * 2);
  assert.equal(
    result.channels.consensus!.deliveries,
    result.channels.consensus!.expectedDeliveries,
  );
  assert.ok(result.channels.consensus!.artifacts > 0);
  assert.ok(result.channels.ingress!.artifacts > 0);
  assert.ok(result.peakRssMb !== undefined && result.peakRssMb > 0, `${result.peakRssMb}`);
  assert.ok(result.peakParentRssMb !== undefined && result.peakParentRssMb > 0);
  assert.equal(pids.length, 3);
  assert.equal(new Set([...pids, process.pid]).size, 4, 'one process per node');
  assertGone(pids);
});

test('with node processes, chunked artifacts (just above the threshold) arrive', async () => {
  const { result, pids } = await runWithProcesses({
    nodes: 3,
    workload: { artifacts: 3, size: LARGE_ARTIFACT_BYTES + 1 },
  });
  assert.equal(result.error, undefined);
  assert.equal(result.complete, true);
  assert.equal(result.nodeIsolation, 'process');
  assert.equal(result.channels.ingress!.deliveries, 3 * 2);
  assert.ok(result.originUploadRatio !== null && result.originUploadRatio! > 0);
  assert.ok(result.peakRssMb !== undefined && result.peakRssMb > 0, `${result.peakRssMb}`);
  assertGone(pids);
});

test('a node process killed mid-run fails the demo clearly and leaves no process behind', async () => {
  let killed: number | undefined;
  const { result, pids } = await runWithProcesses(
    { nodes: 3, workload: { artifacts: 12 } },
    (nodes) => {
      killed = nodes[1]!.pid!;
      process.kill(killed, 'SIGKILL');
    },
  );
  assert.ok(killed !== undefined);
  assert.equal(result.complete, false);
  assert.equal(result.error, 'node 1 exited early (signal SIGKILL)');
  assert.ok(result.deliveries < result.expectedDeliveries);
  assertGone(pids);
});

test('with placements, each node listens and is listed at its address, and the raw ceiling runs as processes', async () => {
  // 127.0.0.1 and 127.0.0.2: both loopback, no command prefix (test/hosts runs the nodes in
  // network namespaces).
  const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.1'];
  const { result, pids } = await runWithProcesses({
    nodes: 3,
    workload: { artifacts: 1, size: LARGE_ARTIFACT_BYTES + 1 },
    placements: hosts.map((listenHost) => ({ listenHost })),
    keep: true,
  });
  try {
    assert.equal(result.error, undefined);
    assert.equal(result.complete, true);
    assert.equal(result.channels.ingress!.deliveries, 2);
    assert.ok(result.rawCeilingMs !== null && result.rawCeilingMs! > 0, `${result.rawCeilingMs}`);
    // Node i (identity in node-0<i + 1>) is listed at its host.
    const registry = JSON.parse(
      await readFile(join(result.directory!, REGISTRY_FILE), 'utf8'),
    ) as RegistryDocument;
    const listed = registry.subnets[DEMO_SUBNET]!.nodes;
    for (const [i, host] of hosts.entries()) {
      const crt = await readFile(
        join(result.directory!, `node-${String(i + 1).padStart(2, '0')}`, 'node.crt'),
        'utf8',
      );
      assert.match(
        listed[nodeIdOfCertificate(crt)]!.address,
        new RegExp(`^${host.replaceAll('.', '\\.')}:\\d+$`),
      );
    }
    assertGone(pids);
  } finally {
    await rm(result.directory!, { recursive: true, force: true });
  }
});

test('placements are checked: one per node, a command prefix only for node processes', async () => {
  const workload = { artifacts: 1 };
  await assert.rejects(
    runDemo({ nodes: 2, workload, timeoutMs: 10_000, nodeProcesses: true, placements: [{}] }),
    RangeError,
  );
  await assert.rejects(
    runDemo({
      nodes: 2,
      workload,
      timeoutMs: 10_000,
      placements: [{ commandPrefix: ['env'] }, {}],
    }),
    TypeError,
  );
});
