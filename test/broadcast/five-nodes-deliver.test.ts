import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ArtifactId, DeliveredArtifact } from '../../src/broadcast/index.ts';
import {
  drain,
  metricValue,
  NodeGroup,
  randomBytes,
  readUntil,
  sameBytes,
  startNodes,
} from '../helpers/nodes.ts';
import { slow } from '../helpers/slowdown.ts';

const NODES = 5;
const CONSENSUS_PER_NODE = 10;
const CONSENSUS_BYTES = 200;
const INGRESS_PER_NODE = 4;
const INGRESS_BYTES = 64 * 1024;

describe('five nodes over mutual TLS', () => {
  const group = new NodeGroup();
  after(() => group.stop());

  it('every node receives every other node’s artifacts exactly once', {
    timeout: slow(60_000),
  }, async () => {
    const { nodes } = await startNodes(group, NODES);
    const streams = nodes.map(({ node }) => ({
      consensus: node.channel('consensus').received(),
      ingress: node.channel('ingress').received(),
    }));

    // Every node broadcasts a mix, all in one synchronous burst per node.
    const sent = new Map<ArtifactId, { origin: number; bytes: Uint8Array; channel: string }>();
    nodes.forEach(({ node }, origin) => {
      for (let i = 0; i < CONSENSUS_PER_NODE; i++) {
        const bytes = randomBytes(CONSENSUS_BYTES);
        sent.set(node.channel('consensus').broadcast(bytes), {
          origin,
          bytes,
          channel: 'consensus',
        });
      }
      for (let i = 0; i < INGRESS_PER_NODE; i++) {
        const bytes = randomBytes(INGRESS_BYTES);
        sent.set(node.channel('ingress').broadcast(bytes), { origin, bytes, channel: 'ingress' });
      }
    });
    assert.equal(sent.size, NODES * (CONSENSUS_PER_NODE + INGRESS_PER_NODE));

    const others = NODES - 1;
    const received = await Promise.all(
      streams.map(async (s) => {
        const [c, i] = await Promise.all([
          readUntil(s.consensus, (seen) => seen.length >= others * CONSENSUS_PER_NODE),
          readUntil(s.ingress, (seen) => seen.length >= others * INGRESS_PER_NODE),
        ]);
        return [...c, ...i];
      }),
    );

    for (const [n, artifacts] of received.entries()) {
      const ids = artifacts.map((a) => a.id);
      assert.equal(new Set(ids).size, ids.length, `node ${n} got an artifact twice`);
      const expected = [...sent].filter(([, s]) => s.origin !== n).map(([id]) => id);
      assert.deepEqual(new Set(ids), new Set(expected), `node ${n} got the wrong artifacts`);
      for (const a of artifacts) {
        const s = sent.get(a.id)!;
        assert.equal(a.channel, s.channel);
        assert.ok(sameBytes(a.bytes, s.bytes), `node ${n}: bytes of ${a.id}`);
      }
    }

    // Every node holds every artifact, its own included.
    for (const { node } of nodes) {
      for (const [id, s] of sent) {
        assert.ok(sameBytes(node.channel(s.channel).get(id), s.bytes), `get(${id})`);
      }
    }

    for (const [n, { node }] of nodes.entries()) {
      const m = node.metrics;
      assert.equal(await metricValue(m, 'subnet_p2p_broadcast_duplicate_downloads_total'), 0);
      assert.equal(
        await metricValue(m, 'subnet_p2p_broadcast_delivered_total'),
        others * (CONSENSUS_PER_NODE + INGRESS_PER_NODE),
        `node ${n}`,
      );
      // Ingress went as adverts and was pulled once per artifact; consensus went inline.
      assert.equal(
        await metricValue(m, 'subnet_p2p_broadcast_downloads_total', {
          channel: 'ingress',
          outcome: 'succeeded',
        }),
        others * INGRESS_PER_NODE,
      );
      assert.ok(
        (await metricValue(m, 'subnet_p2p_broadcast_updates_sent_total', {
          channel: 'consensus',
          kind: 'inline',
        })) >=
          others * CONSENSUS_PER_NODE,
      );
      assert.equal(await metricValue(m, 'subnet_p2p_broadcast_wants'), 0);
    }

    // Nothing else arrives: after the nodes stop, the streams end with nothing more in them.
    await group.stop();
    for (const s of streams) {
      const extra: DeliveredArtifact[] = [
        ...(await drain(s.consensus)),
        ...(await drain(s.ingress)),
      ];
      assert.deepEqual(
        extra.map((a) => a.id),
        [],
      );
    }
  });
});
