import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ArtifactId } from '../../src/broadcast/index.ts';
import {
  drain,
  metricValue,
  NodeGroup,
  publishTo,
  randomBytes,
  readUntil,
  SUBNET,
  sameBytes,
  startNodes,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';
import { slow } from '../helpers/slowdown.ts';
import { nextEvent, registryDoc } from '../helpers/subnet.ts';

describe('relay', () => {
  const group = new NodeGroup();
  after(() => group.stop());

  it('artifacts cross a lost link through the node both ends still reach', {
    timeout: slow(30_000),
  }, async () => {
    const { nodes, doc } = await startNodes(group, 3);
    const [a, b, c] = nodes as [TestBroadcastNode, TestBroadcastNode, TestBroadcastNode];
    const id = (n: TestBroadcastNode) => n.identity.nodeId;

    // C adopts a registry version without A: it closes its link to A and refuses A from now
    // on, while A and B still list everyone. A and C are left to hear each other through B.
    const cLostA = nextEvent(c.node.transport, (e) => e.type === 'peer-down' && e.peer === id(a));
    const aLostC = nextEvent(a.node.transport, (e) => e.type === 'peer-down' && e.peer === id(c));
    publishTo(
      [c],
      registryDoc(
        [b, c].map((x) => ({ subnet: SUBNET, identity: x.identity, address: x.address })),
        doc.version + 1,
      ),
    );
    await Promise.all([cLostA, aLostC]);
    assert.equal(c.node.transport.connId(id(a)), undefined);
    assert.notEqual(c.node.transport.connId(id(b)), undefined);

    const streams = new Map(
      [a, c].map((n) => [
        n,
        {
          consensus: n.node.channel('consensus').received(),
          ingress: n.node.channel('ingress').received(),
        },
      ]),
    );
    const sent = new Map<TestBroadcastNode, Map<ArtifactId, Uint8Array>>();
    for (const origin of [a, c]) {
      const mine = new Map<ArtifactId, Uint8Array>();
      for (let k = 0; k < 3; k++) {
        const bytes = randomBytes(300);
        mine.set(origin.node.channel('consensus').broadcast(bytes), bytes);
      }
      for (let k = 0; k < 2; k++) {
        const bytes = randomBytes(64 * 1024);
        mine.set(origin.node.channel('ingress').broadcast(bytes), bytes);
      }
      sent.set(origin, mine);
    }

    for (const [receiver, origin] of [
      [a, c],
      [c, a],
    ] as const) {
      const s = streams.get(receiver)!;
      const [cons, ingr] = await Promise.all([
        readUntil(s.consensus, (seen) => seen.length >= 3),
        readUntil(s.ingress, (seen) => seen.length >= 2),
      ]);
      const got = [...cons, ...ingr];
      const expected = sent.get(origin)!;
      assert.deepEqual(new Set(got.map((x) => x.id)), new Set(expected.keys()));
      for (const artifact of got) {
        // Everything came through B: A and C have no link.
        assert.equal(artifact.from, id(b));
        assert.ok(sameBytes(artifact.bytes, expected.get(artifact.id)!));
      }
    }

    // B got both sides' artifacts directly and relayed each one (adverts only).
    assert.ok((await metricValue(b.node.metrics, 'subnet_p2p_broadcast_relayed_total')) >= 10);
    for (const n of nodes) {
      assert.equal(
        await metricValue(n.node.metrics, 'subnet_p2p_broadcast_duplicate_downloads_total'),
        0,
      );
    }
    assert.equal(c.node.transport.connId(id(a)), undefined);

    await group.stop();
    for (const s of streams.values()) {
      const extra = [...(await drain(s.consensus)), ...(await drain(s.ingress))];
      assert.deepEqual(
        extra.map((x) => x.id),
        [],
      );
    }
  });
});
