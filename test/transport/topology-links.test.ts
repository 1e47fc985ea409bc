import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import type { NodeId } from '../../src/identity/index.ts';
import { linkedPeers, type TopologyOptions } from '../../src/transport/index.ts';
import { rawConnect } from '../helpers/raw-peer.ts';
import {
  identities,
  linkUp,
  metricValue,
  nextEvent,
  publish,
  registryDoc,
  startNode,
  stopAll,
  type TestNode,
} from '../helpers/subnet.ts';

const SUBNET = 'subnet-a';
/** 8 nodes above a full-mesh limit of 4: each links 4 others (ring distances 1 and 2). */
const topology: TopologyOptions = { fullMeshMaxNodes: 4 };

const entry = (n: TestNode) => ({ subnet: SUBNET, identity: n.identity, address: n.address });
const idOf = (n: TestNode) => n.identity.nodeId;
const sorted = (xs: Iterable<NodeId>) => [...xs].sort();

/** Every node's neighbours per `linkedPeers` when `members` form the subnet. */
function expectedGraph(members: TestNode[]): Map<NodeId, ReadonlySet<NodeId>> {
  const ids = members.map(idOf);
  return new Map(ids.map((id) => [id, linkedPeers(ids, id, topology)]));
}

/** Resolves once every node has a link up to each of its expected neighbours. */
async function linksUp(nodes: TestNode[], graph: Map<NodeId, ReadonlySet<NodeId>>): Promise<void> {
  await Promise.all(
    nodes.flatMap((n) => [...graph.get(idOf(n))!].map((peer) => linkUp(n.transport, peer))),
  );
}

/** A pair of members that are not neighbours in `graph`, the lower NodeId first. */
function nonNeighbours(
  nodes: TestNode[],
  graph: Map<NodeId, ReadonlySet<NodeId>>,
): [TestNode, TestNode] {
  for (const a of nodes) {
    for (const b of nodes) {
      if (idOf(a) < idOf(b) && !graph.get(idOf(a))!.has(idOf(b))) return [a, b];
    }
  }
  throw new Error('every pair is linked');
}

describe('sparse topology on real transports', () => {
  let nodes: TestNode[] = [];
  afterEach(() => stopAll(nodes));

  async function start(n: number): Promise<TestNode[]> {
    const ids = await identities(n);
    nodes = await Promise.all(ids.map((id) => startNode(id, SUBNET, { topology })));
    return nodes;
  }

  it('links exactly the pairs linkedPeers gives, and peers() lists only them', async () => {
    await start(8);
    const graph = expectedGraph(nodes);
    for (const peers of graph.values()) assert.equal(peers.size, 4);
    const ups = new Map(nodes.map((n) => [idOf(n), [] as NodeId[]]));
    for (const n of nodes) {
      n.transport.subscribe((e) => {
        if (e.type === 'peer-up') ups.get(idOf(n))!.push(e.peer);
      });
    }
    publish(nodes, registryDoc(nodes.map(entry)));
    await linksUp(nodes, graph);

    let dials = 0;
    let refused = 0;
    for (const n of nodes) {
      const want = sorted(graph.get(idOf(n))!);
      assert.deepEqual(sorted(n.transport.peers().map((p) => p.nodeId)), want);
      assert.ok(n.transport.peers().every((p) => p.state === 'connected'));
      // One peer-up per neighbour, none for anyone else.
      assert.deepEqual(sorted(ups.get(idOf(n))!), want);
      for (const other of nodes) {
        if (other !== n && !graph.get(idOf(n))!.has(idOf(other))) {
          assert.equal(n.transport.connId(idOf(other)), undefined);
        }
      }
      dials += await metricValue(n.metrics, 'subnet_p2p_transport_dials_total');
      refused += await metricValue(n.metrics, 'subnet_p2p_transport_links_refused_total');
    }
    // Each linked pair was dialed once, by its lower NodeId; nobody dialed a non-neighbour.
    assert.equal(dials, (8 * 4) / 2);
    assert.equal(refused, 0);
  });

  it('refuses an inbound connection from a member that is not a neighbour', async () => {
    await start(8);
    const graph = expectedGraph(nodes);
    publish(nodes, registryDoc(nodes.map(entry)));
    await linksUp(nodes, graph);
    // `low` would be the right direction to dial `high`, but they are not neighbours.
    const [low, high] = nonNeighbours(nodes, graph);
    const refusedEvent = nextEvent(high.transport, (e) => e.type === 'refused');
    const socket = await rawConnect(high.address, low.identity);
    const e = await refusedEvent;
    assert.equal(e.type === 'refused' && e.reason, 'not_a_neighbor');
    assert.equal(e.type === 'refused' && e.direction, 'inbound');
    await once(socket, 'close');
    assert.equal(
      await metricValue(high.metrics, 'subnet_p2p_transport_links_refused_total', {
        reason: 'not_a_neighbor',
        direction: 'inbound',
      }),
      1,
    );
    assert.equal(high.transport.connId(idOf(low)), undefined);
  });

  it('closes links to members that stop being neighbours as the subnet grows', async () => {
    await start(8);
    const graph = expectedGraph(nodes);
    const [a, b] = nonNeighbours(nodes, graph);
    // Version 4: a, b and two others, a full mesh (4 <= fullMeshMaxNodes).
    const first = [a, b, ...nodes.filter((n) => n !== a && n !== b).slice(0, 2)];
    publish(first, registryDoc(first.map(entry)));
    await linksUp(first, expectedGraph(first));
    assert.equal(a.transport.peers().length, 3);
    const before = new Map(first.map((n) => [idOf(n), n.transport.connId(idOf(a))]));

    // Version 8: all eight, sparse; a and b are no longer neighbours.
    const aDown = nextEvent(a.transport, (e) => e.type === 'peer-down' && e.peer === idOf(b));
    const bDown = nextEvent(b.transport, (e) => e.type === 'peer-down' && e.peer === idOf(a));
    publish(nodes, registryDoc(nodes.map(entry)));
    const downs = await Promise.all([aDown, bDown]);
    for (const d of downs) assert.equal(d.type === 'peer-down' && d.reason, 'not_a_neighbor');
    await linksUp(nodes, graph);
    assert.deepEqual(sorted(a.transport.peers().map((p) => p.nodeId)), sorted(graph.get(idOf(a))!));
    assert.equal(a.transport.connId(idOf(b)), undefined);
    // Links of the first version that are still neighbours stayed up (same connection).
    for (const n of first) {
      if (n !== a && graph.get(idOf(a))!.has(idOf(n))) {
        assert.equal(n.transport.connId(idOf(a)), before.get(idOf(n)));
      }
    }
  });
});
