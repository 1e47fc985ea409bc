import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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

describe('bulk credits yield to an overloaded event loop', () => {
  let nodes: TestNode[] = [];
  let received = 0;
  let allReceived: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allReceived = resolve;
  });

  before(async () => {
    nodes = await startSubnet(2, {
      // A small window, so the sender depends on credits to finish.
      limits: { bulkWindowBytes: 128 * 1024, minBulkWindowBytes: 64 * 1024 },
      onMessage: (m) => {
        if (m.lane !== Lane.bulk) return;
        busy(BUSY_MS);
        if (++received === MESSAGES) allReceived();
      },
    });
  });
  after(() => stopAll(nodes));

  it('holds credits back while the loop lags, and every bulk message still arrives', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    const peer = b.identity.nodeId;
    const sends = Array.from({ length: MESSAGES }, (_, i) =>
      a.transport.send(peer, Lane.bulk, Buffer.alloc(SIZE, i)),
    );
    await Promise.all(sends);
    await done;
    assert.equal(received, MESSAGES);
    const held = await metricValue(b.metrics, 'subnet_p2p_transport_bulk_credits_held_total');
    assert.ok(held > 0, 'the busy receiver held bulk credits back');
  });
});
