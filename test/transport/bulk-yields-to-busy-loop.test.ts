import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lane } from '../../src/transport/index.ts';
import { metricValue, startSubnet, stopAll, type TestNode } from '../helpers/subnet.ts';

const MESSAGES = 24;
const SIZE = 64 * 1024;
/** Each bulk message keeps the receiver's loop busy this long: far over the 10 ms threshold. */
const BUSY_MS = 30;

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the event loop is blocked, as by an overloaded machine
  }
}

/**
 * Sends MESSAGES bulk messages from a to a receiver whose loop each one blocks for BUSY_MS;
 * with `crucial`, the receiver answers each with a high-lane message (crucial traffic it must
 * keep flowing). Resolves with the credits the receiver held back once all arrived.
 */
async function busyReceiver(crucial: boolean): Promise<number> {
  let nodes: TestNode[] = [];
  let received = 0;
  let allReceived: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allReceived = resolve;
  });
  try {
    nodes = await startSubnet(2, {
      // A small window, so the sender depends on credits to finish.
      limits: { bulkWindowBytes: 128 * 1024, minBulkWindowBytes: 64 * 1024 },
      onMessage: (m) => {
        if (m.lane !== Lane.bulk) return;
        busy(BUSY_MS);
        if (crucial) void nodes[1]!.transport.send(m.peer, Lane.high, Buffer.from('vote'));
        if (++received === MESSAGES) allReceived();
      },
    });
    const [a, b] = nodes as [TestNode, TestNode];
    const sends = Array.from({ length: MESSAGES }, (_, i) =>
      a.transport.send(b.identity.nodeId, Lane.bulk, Buffer.alloc(SIZE, i)),
    );
    await Promise.all(sends);
    await done;
    assert.equal(received, MESSAGES);
    return await metricValue(b.metrics, 'subnet_p2p_transport_bulk_credits_held_total');
  } finally {
    await stopAll(nodes);
  }
}

describe('bulk credits yield to an overloaded event loop', () => {
  it('holds credits back while the loop lags and high-lane traffic flows; every bulk message still arrives', async () => {
    assert.ok((await busyReceiver(true)) > 0, 'the busy receiver held bulk credits back');
  });

  it('holds none without high-lane traffic: bulk has nothing to yield to', async () => {
    assert.equal(await busyReceiver(false), 0);
  });
});
