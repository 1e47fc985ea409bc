/**
 * A node whose event loop stalls for longer than the idle timeout keeps its links to peers that
 * kept sending meanwhile. After such a stall the link's keepalive timer runs before the data
 * that waited in the socket is read (timers come first in a loop turn); the link took its peer
 * for silent and closed by `idle_timeout`, in 4 of 6 runs of one 2 s stall (found when loaded
 * test runs lost links). The peer here is in a worker thread, so it keeps pinging (every 100 ms)
 * while the main thread is stalled by a busy loop 2 s long, twice the idle timeout; three
 * stalls.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { NodeId } from '../../src/identity/index.ts';
import { identities } from '../helpers/common.ts';
import { linkUp, publish, registryDoc, startNode, type TestNode } from '../helpers/subnet.ts';

const KEEPALIVE_MS = 100;
const IDLE_TIMEOUT_MS = 1000;
const STALL_MS = 2 * IDLE_TIMEOUT_MS;
const STALLS = 3;

/** Blocks this thread's event loop for `ms`. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else runs on this thread
  }
}

/**
 * Three keepalive intervals after a stall: a link closed by the stall has reported its
 * peer-down by then (an observation window for an event that must not come, not a wait for one).
 */
function afterThreeKeepalives(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 3 * KEEPALIVE_MS));
}

describe('a stalled event loop', () => {
  let node: TestNode | undefined;
  let worker: Worker | undefined;
  after(async () => {
    if (worker !== undefined) {
      worker.postMessage({ stop: true });
      await once(worker, 'exit');
    }
    await node?.transport.stop();
  });

  it('keeps the links of peers that kept sending while it was stalled', async () => {
    const [identity] = await identities(1);
    node = await startNode(identity!, 's', {
      timing: { keepaliveIntervalMs: KEEPALIVE_MS, idleTimeoutMs: IDLE_TIMEOUT_MS },
    });
    worker = new Worker(new URL('./stalled-loop-peer.mjs', import.meta.url), { execArgv: [] });
    const [peer] = (await once(worker, 'message')) as [
      { nodeId: NodeId; certificatePem: string; address: string },
    ];
    worker.postMessage({
      nodeId: identity!.nodeId,
      certificatePem: identity!.certificatePem,
      address: node.address,
    });
    publish(
      [node],
      registryDoc([
        { subnet: 's', identity: identity!, address: node.address },
        { subnet: 's', identity: { ...identity!, ...peer }, address: peer.address },
      ]),
    );
    await linkUp(node.transport, peer.nodeId);
    const connId = node.transport.connId(peer.nodeId);
    const downs: string[] = [];
    node.transport.subscribe((e) => {
      if (e.type === 'peer-down') downs.push(e.reason);
    });
    for (let i = 0; i < STALLS; i++) {
      stall(STALL_MS);
      await afterThreeKeepalives();
      assert.deepEqual(downs, [], `stall ${i + 1}`);
    }
    assert.equal(node.transport.connId(peer.nodeId), connId, 'the same link throughout');
  });
});
