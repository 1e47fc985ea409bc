// The demo with `nodeProcesses`: every node a child process of its own (node-host.ts), the same
// node code as in a worker thread, through the IPC channel. Small runs; each checks that no
// node process outlives the demo.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LARGE_ARTIFACT_BYTES } from '../../src/demo/protocol.ts';
import { type DemoNode, type DemoOptions, runDemo } from '../../src/demo/run-demo.ts';
import type { DemoResult } from '../../src/demo/summary.ts';

/** Runs the demo with node processes; `atRunning` sees the nodes as the workload starts. */
async function runWithProcesses(
  options: Omit<DemoOptions, 'nodeProcesses' | 'timeoutMs' | 'onPhase'>,
  atRunning: (nodes: readonly DemoNode[]) => void = () => undefined,
): Promise<{ result: DemoResult; pids: number[] }> {
  let pids: number[] = [];
  const result = await runDemo({
    ...options,
    nodeProcesses: true,
    timeoutMs: 60_000,
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
