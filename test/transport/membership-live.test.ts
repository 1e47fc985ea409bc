import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  fullMesh,
  identities,
  linkUp,
  nextEvent,
  publish,
  registryDoc,
  startNode,
  stopAll,
  type TestNode,
} from '../helpers/subnet.ts';

describe('membership changes apply live', () => {
  let nodes: TestNode[] = [];
  after(() => stopAll(nodes));

  it('dials a node added by a new registry version, and drops it when removed', async () => {
    const ids = await identities(3);
    nodes = await Promise.all(ids.map((id) => startNode(id, 'subnet-a')));
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const entry = (n: TestNode) => ({
      subnet: 'subnet-a',
      identity: n.identity,
      address: n.address,
    });
    publish(nodes, registryDoc([entry(a), entry(c)], 1));
    await fullMesh([a, c]);
    assert.equal(b.transport.peers().length, 0);

    // b joins: everyone learns version 2; links to b come up.
    publish(nodes, registryDoc([entry(a), entry(b), entry(c)], 2));
    await fullMesh(nodes);
    assert.deepEqual(
      a.transport.peers().map((p) => p.state),
      ['connected', 'connected'],
    );

    // b leaves at version 3; a and c close their links to it, and keep theirs.
    const aDown = nextEvent(
      a.transport,
      (e) => e.type === 'peer-down' && e.peer === b.identity.nodeId,
    );
    const cDown = nextEvent(
      c.transport,
      (e) => e.type === 'peer-down' && e.peer === b.identity.nodeId,
    );
    publish([a, c], registryDoc([entry(a), entry(c)], 3));
    await Promise.all([aDown, cDown]);
    await linkUp(a.transport, c.identity.nodeId);
    assert.deepEqual(
      a.transport.peers().map((p) => p.nodeId),
      [c.identity.nodeId],
    );
    // b, still at version 2, tries to reconnect and is refused as unknown.
    const refused = await nextEvent(
      c.transport,
      (e) => e.type === 'refused' && e.reason === 'unknown_node',
    );
    assert.equal(refused.type, 'refused');
  });
});
