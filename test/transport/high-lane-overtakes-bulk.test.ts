import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Lane } from '../../src/transport/index.ts';
import { startSubnet, stopAll, type TestNode } from '../helpers/subnet.ts';

const BULK = 64 * 1024 * 1024;

describe('priority lanes on one link', () => {
  let nodes: TestNode[] = [];
  const order: string[] = [];

  before(async () => {
    nodes = await startSubnet(2, {
      limits: {
        maxMessageBytes: BULK + 1024,
        maxReceiveBufferBytes: 2 * (BULK + 1024) + 64 * 1024,
        maxQueuedBytes: { control: 1 << 20, high: 1 << 20, bulk: BULK + 1024 },
      },
      onMessage: (m) => {
        order.push(`${m.lane === Lane.bulk ? 'bulk' : 'high'}:${m.body.length}`);
      },
    });
  });
  after(() => stopAll(nodes));

  it('delivers a small high-lane message sent after a 64 MiB bulk message has started before the bulk message', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    const peer = b.identity.nodeId;
    const bulk = a.transport.send(peer, Lane.bulk, Buffer.alloc(BULK, 0xab));
    // The link pumps its queue to the socket once per turn of the event loop, in a
    // setImmediate: after that one, the bulk message is on its way (part of it has left the
    // queue for the socket).
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.ok(a.transport.queuedBytes(peer, Lane.bulk) < BULK);
    assert.ok(a.transport.queuedBytes(peer, Lane.bulk) > 0);
    const high = a.transport.send(peer, Lane.high, Buffer.alloc(100, 1));
    await Promise.all([bulk, high]);
    // Wait for the receiver to have both (a request on the bulk lane is FIFO behind the bulk message).
    await a.transport.request(peer, Lane.bulk, new Uint8Array(0)).catch(() => {});
    assert.deepEqual(order, ['high:100', `bulk:${BULK}`]);
  });
});
