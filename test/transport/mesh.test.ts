import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueueFullError, RemoteError } from '../../src/errors.ts';
import { Lane } from '../../src/transport/index.ts';
import { metricValue, startSubnet, stopAll, type TestNode } from '../helpers/subnet.ts';

describe('a subnet of 4 nodes over mutual TLS', () => {
  let nodes: TestNode[] = [];
  const received: string[] = [];

  before(async () => {
    nodes = await startSubnet(4, {
      onMessage: (m) => {
        received.push(Buffer.from(m.body).toString());
      },
      onRequest: (req) => {
        const text = Buffer.from(req.body).toString();
        if (text === 'fail') throw new QueueFullError('asked to fail');
        return Buffer.from(`echo:${text}`);
      },
    });
  });
  after(() => stopAll(nodes));

  it('forms exactly one link per pair, dialed by the lower NodeId', async () => {
    for (const [i, n] of nodes.entries()) {
      const peers = n.transport.peers();
      assert.equal(peers.length, 3);
      assert.ok(peers.every((p) => p.state === 'connected' && p.connId !== undefined));
      // Node i (sorted) dials the 3 - i nodes above it and accepts the i below it: one link
      // each, plus one for every time that link closed and was made again (as it is when a
      // loaded machine stalls a node past a link timeout).
      const closedWith = async (others: TestNode[]) => {
        let closed = 0;
        for (const o of others) {
          closed += await metricValue(n.metrics, 'subnet_p2p_transport_links_closed_total', {
            peer: o.identity.nodeId,
          });
        }
        return closed;
      };
      const [below, above] = [nodes.slice(0, i), nodes.slice(i + 1)];
      assert.equal(
        await metricValue(n.metrics, 'subnet_p2p_transport_links_established_total', {
          direction: 'outbound',
        }),
        above.length + (await closedWith(above)),
      );
      assert.equal(
        await metricValue(n.metrics, 'subnet_p2p_transport_links_established_total', {
          direction: 'inbound',
        }),
        below.length + (await closedWith(below)),
      );
      assert.equal(await metricValue(n.metrics, 'subnet_p2p_transport_links_up'), 3);
    }
  });

  it('carries messages both ways on every lane', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    const before = received.length;
    await a.transport.send(b.identity.nodeId, Lane.high, Buffer.from('a->b high'));
    await b.transport.send(a.identity.nodeId, Lane.bulk, Buffer.from('b->a bulk'));
    await a.transport.send(b.identity.nodeId, Lane.control, Buffer.from('a->b control'));
    const got = await a.transport.request(b.identity.nodeId, Lane.high, Buffer.from('sync'));
    assert.equal(Buffer.from(got).toString(), 'echo:sync');
    // The request went after the messages on a FIFO lane... not across lanes; wait for all 3.
    while (received.length < before + 3) {
      await b.transport.request(a.identity.nodeId, Lane.bulk, Buffer.from('sync'));
    }
    assert.deepEqual(received.slice(before).sort(), ['a->b control', 'a->b high', 'b->a bulk']);
  });

  it('reports a failing remote handler as a RemoteError with its code', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    await assert.rejects(
      a.transport.request(b.identity.nodeId, Lane.high, Buffer.from('fail')),
      (err: unknown) => err instanceof RemoteError && err.remoteCode === 'ERR_QUEUE_FULL',
    );
  });

  it('counts frames and bytes per lane in both directions', async () => {
    const [a] = nodes as [TestNode];
    assert.ok(
      (await metricValue(a.metrics, 'subnet_p2p_transport_sent_frames_total', { lane: 'high' })) >
        0,
    );
    assert.ok(
      (await metricValue(a.metrics, 'subnet_p2p_transport_received_bytes_total', {
        lane: 'control',
      })) > 0,
    );
  });
});
