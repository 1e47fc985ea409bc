import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ConnId } from '../../src/transport/index.ts';
import {
  fullMesh,
  identities,
  metricValue,
  nextEvent,
  publish,
  registryDoc,
  startNode,
  stopAll,
  type TestNode,
} from '../helpers/subnet.ts';

describe('links come back after a peer restarts', () => {
  let nodes: TestNode[] = [];
  afterEach(() => stopAll(nodes));

  for (const restarted of ['dialer', 'acceptor'] as const) {
    it(`with a higher connection id when the ${restarted} restarts`, async () => {
      const [low, high] = (await identities(2)) as [never, never];
      const a = await startNode(low, 'subnet-a');
      const b = await startNode(high, 'subnet-a');
      nodes = [a, b];
      const doc = registryDoc([
        { subnet: 'subnet-a', identity: a.identity, address: a.address },
        { subnet: 'subnet-a', identity: b.identity, address: b.address },
      ]);
      publish(nodes, doc);
      await fullMesh(nodes);

      const [stays, goes] = restarted === 'dialer' ? [b, a] : [a, b];
      const peer = goes.identity.nodeId;
      const firstConn = stays.transport.connId(peer)!;
      const down = nextEvent(stays.transport, (e) => e.type === 'peer-down' && e.peer === peer);
      const up = nextEvent(stays.transport, (e) => e.type === 'peer-up' && e.peer === peer);
      await goes.transport.stop();
      const e = await down;
      assert.equal(e.type === 'peer-down' && e.reason, 'goodbye_received');

      // Same identity, same port: a restart.
      const port = Number(goes.address.split(':')[1]);
      const again = await startNode(goes.identity, 'subnet-a', {}, port);
      nodes = [stays, again];
      publish([again], doc);
      const back = await up;
      assert.ok(back.type === 'peer-up');
      assert.ok((back.connId as ConnId) > firstConn, `${back.connId} > ${firstConn}`);
      assert.equal(stays.transport.connId(peer), back.connId);
      assert.equal(
        await metricValue(stays.metrics, 'subnet_p2p_transport_links_closed_total', {
          reason: 'goodbye_received',
        }),
        1,
      );
    });
  }

  it('the dialer keeps retrying, with backoff, until the peer is reachable', async () => {
    const [low, high] = (await identities(2)) as [never, never];
    const a = await startNode(low, 'subnet-a');
    // The peer is not running yet: reserve a port by starting and stopping a node on it.
    const placeholder = await startNode(high, 'subnet-a');
    const port = Number(placeholder.address.split(':')[1]);
    await placeholder.transport.stop();
    const doc = registryDoc([
      { subnet: 'subnet-a', identity: a.identity, address: a.address },
      { subnet: 'subnet-a', identity: high, address: `127.0.0.1:${port}` },
    ]);
    publish([a], doc);
    nodes = [a];
    // Let a few dials fail; the retry delays grow (jitter takes at most half of one).
    const delays: number[] = [];
    await new Promise<void>((resolve) => {
      const off = a.transport.subscribe((e) => {
        if (e.type !== 'dial-retry') return;
        delays.push(e.delayMs);
        if (e.attempt === 4) {
          off();
          resolve();
        }
      });
    });
    assert.equal(delays.length, 4);
    assert.ok(delays[3]! > delays[0]!, `delays ${delays}`);
    assert.ok((await metricValue(a.metrics, 'subnet_p2p_transport_dials_total')) >= 4);
    const b = await startNode(high, 'subnet-a', {}, port);
    nodes = [a, b];
    publish([b], doc);
    await fullMesh(nodes);
  });

  it('backs off further each time a peer drops the link right after TLS', async () => {
    const [low, high] = (await identities(2)) as [never, never];
    const a = await startNode(low, 'subnet-a');
    const b = await startNode(high, 'subnet-a');
    nodes = [a, b];
    const both = registryDoc([
      { subnet: 'subnet-a', identity: a.identity, address: a.address },
      { subnet: 'subnet-a', identity: b.identity, address: b.address },
    ]);
    // b does not know a yet: it refuses a's links after the handshake.
    publish([b], registryDoc([{ subnet: 'subnet-a', identity: b.identity, address: b.address }]));
    const retries: { attempt: number; delayMs: number }[] = [];
    await new Promise<void>((resolve) => {
      const off = a.transport.subscribe((e) => {
        if (e.type !== 'dial-retry') return;
        retries.push(e);
        if (retries.length === 4) {
          off();
          resolve();
        }
      });
      publish([a], both);
    });
    assert.deepEqual(
      retries.map((r) => r.attempt),
      [1, 2, 3, 4],
    );
    assert.ok(retries[3]!.delayMs > retries[0]!.delayMs);
    assert.ok(
      (await metricValue(b.metrics, 'subnet_p2p_transport_links_refused_total', {
        reason: 'unknown_node',
      })) >= 4,
    );
    // Once b learns of a, the link comes up.
    publish([b], both);
    await fullMesh(nodes);
  });
});
