import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import { Lane } from '../../src/transport/index.ts';
import { forgedCertificate, rawConnect } from '../helpers/raw-peer.ts';
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

const REFUSED = 'subnet_p2p_transport_links_refused_total';

describe('connections are refused unless the registry vouches for them', () => {
  let nodes: TestNode[] = [];
  afterEach(() => stopAll(nodes));

  /** Two members of subnet-a (the highest identity is `target`) plus the rest as given. */
  async function setup(extra: 'none' | 'other-subnet') {
    const ids = await identities(3);
    const [low, other, target] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
    const a = await startNode(low, 'subnet-a');
    const t = await startNode(target, 'subnet-a');
    nodes = [a, t];
    const members = [
      { subnet: 'subnet-a', identity: low, address: a.address },
      { subnet: 'subnet-a', identity: target, address: t.address },
    ];
    if (extra === 'other-subnet') {
      members.push({ subnet: 'subnet-b', identity: other, address: '127.0.0.1:9' });
    }
    publish(nodes, registryDoc(members));
    await fullMesh(nodes);
    return { a, t, other };
  }

  it('refuses a certificate that is not in the registry', async () => {
    const { t, other } = await setup('none');
    const refused = nextEvent(t.transport, (e) => e.type === 'refused');
    const socket = await rawConnect(t.address, other);
    assert.equal((await refused).type === 'refused' && (await refused).reason, 'unknown_node');
    await once(socket, 'close');
    assert.equal(
      await metricValue(t.metrics, REFUSED, { reason: 'unknown_node', direction: 'inbound' }),
      1,
    );
  });

  it('refuses a member of another subnet', async () => {
    const { t, other } = await setup('other-subnet');
    const refused = nextEvent(t.transport, (e) => e.type === 'refused');
    const socket = await rawConnect(t.address, other);
    const e = await refused;
    assert.equal(e.type === 'refused' && e.reason, 'other_subnet');
    await once(socket, 'close');
    assert.equal(await metricValue(t.metrics, REFUSED, { reason: 'other_subnet' }), 1);
  });

  it("refuses a member's NodeId presented under a different key", async () => {
    const { a, t } = await setup('none');
    const forged = await forgedCertificate(a.identity.nodeId);
    const refused = nextEvent(t.transport, (e) => e.type === 'refused');
    const socket = await rawConnect(t.address, forged);
    const e = await refused;
    assert.equal(e.type === 'refused' && e.reason, 'certificate_mismatch');
    await once(socket, 'close');
    assert.equal(await metricValue(t.metrics, REFUSED, { reason: 'certificate_mismatch' }), 1);
    // The genuine link is unaffected.
    assert.ok(t.transport.connId(a.identity.nodeId) !== undefined);
  });

  it('refuses a connection from the higher NodeId of a pair (the lower one dials)', async () => {
    const { a, t } = await setup('none');
    const refused = nextEvent(a.transport, (e) => e.type === 'refused');
    const socket = await rawConnect(a.address, t.identity);
    const e = await refused;
    assert.equal(e.type === 'refused' && e.reason, 'wrong_direction');
    await once(socket, 'close');
  });

  it('processes no frame from a refused peer', async () => {
    const { t, other } = await setup('none');
    const refused = nextEvent(t.transport, (e) => e.type === 'refused');
    const socket = await rawConnect(t.address, other);
    socket.write(Buffer.alloc(1000, 0xff));
    await refused;
    await once(socket, 'close');
    assert.equal(await metricValue(t.metrics, 'subnet_p2p_transport_protocol_errors_total'), 0);
  });

  it('closes the link of a node removed from the registry while connected', async () => {
    const { a, t } = await setup('none');
    const down = nextEvent(a.transport, (e) => e.type === 'peer-down');
    publish(
      nodes,
      registryDoc([{ subnet: 'subnet-a', identity: a.identity, address: a.address }], 100),
    );
    const e = await down;
    assert.equal(e.type === 'peer-down' && e.reason, 'removed_from_registry');
    assert.equal(
      await metricValue(a.metrics, 'subnet_p2p_transport_links_closed_total', {
        reason: 'removed_from_registry',
      }),
      1,
    );
    assert.deepEqual(a.transport.peers(), []);
    await assert.rejects(a.transport.send(t.identity.nodeId, Lane.high, Buffer.from('x')), {
      code: 'ERR_LINK_CLOSED',
    });
  });
});
