import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Lane } from '../../src/transport/index.ts';
import { metricValue, nextEvent, startSubnet, stopAll, type TestNode } from '../helpers/subnet.ts';

const MESSAGE = 32 * 1024;
const BOUND = 256 * 1024;
/** One socket read can land on top of the bound before the pause takes effect. */
const READ_SLACK = 64 * 1024 + MESSAGE;

describe('the receive side bounds the bytes it holds per peer', () => {
  let nodes: TestNode[] = [];
  const held: (() => void)[] = [];
  let delivered = 0;
  let holding = true;

  before(async () => {
    nodes = await startSubnet(2, {
      limits: { maxMessageBytes: 64 * 1024, maxReceiveBufferBytes: BOUND },
      onMessage: (m) => {
        if (m.lane !== Lane.bulk) return;
        delivered++;
        if (!holding) return;
        return new Promise<void>((resolve) => held.push(resolve));
      },
    });
  });
  after(() => stopAll(nodes));

  it('pauses the socket at the bound while the handler holds messages, and resumes after', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    const paused = nextEvent(b.transport, (e) => e.type === 'receive-paused');
    const count = 100;
    const sends = Array.from({ length: count }, () =>
      a.transport.send(b.identity.nodeId, Lane.bulk, Buffer.alloc(MESSAGE, 3)),
    );
    const e = await paused;
    assert.ok(e.type === 'receive-paused');
    assert.ok(e.bufferedBytes >= BOUND - MESSAGE, `buffered ${e.bufferedBytes}`);
    assert.ok(e.bufferedBytes <= BOUND + READ_SLACK, `buffered ${e.bufferedBytes}`);
    assert.ok(held.length * MESSAGE <= BOUND + READ_SLACK);
    assert.ok(delivered < count);
    assert.equal(await metricValue(b.metrics, 'subnet_p2p_transport_receive_paused_total'), 1);

    // The handler catches up: everything arrives, nothing was lost.
    holding = false;
    for (const release of held.splice(0)) release();
    await Promise.all(sends);
    await a.transport.request(b.identity.nodeId, Lane.bulk, new Uint8Array(0)).catch(() => {});
    assert.equal(delivered, count);
  });
});
