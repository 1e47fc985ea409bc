import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ArtifactId, DeliveredArtifact, Validation } from '../../src/broadcast/index.ts';
import {
  drain,
  metricValue,
  NodeGroup,
  randomBytes,
  readUntil,
  sameBytes,
  startNodes,
  TEST_CHANNELS,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';
import { slow } from '../helpers/slowdown.ts';

const BAD = Uint8Array.of(0xba, 0xd0);
const THROWS = Uint8Array.of(0xee);

describe('validation hook', () => {
  const group = new NodeGroup();
  after(() => group.stop());

  it('rejected artifacts are not delivered and count as peer faults; a throwing hook ignores', {
    timeout: slow(30_000),
  }, async () => {
    const BAD_PER_CHANNEL = 3;
    const GOOD_PER_CHANNEL = 3;
    // Each receiver's hook is called once per bad artifact and once for the throwing one.
    const expectedCalls = 2 * BAD_PER_CHANNEL + 1;
    const calls = [0, 0, 0];
    const callDone: (() => void)[] = [];
    const allCalled = [1, 2].map(
      (i) =>
        new Promise<void>((resolve) => {
          callDone[i] = resolve;
        }),
    );
    const verdictOf = (i: number, a: DeliveredArtifact): Validation => {
      const bad = sameBytes(a.attributes, BAD);
      const throws = sameBytes(a.attributes, THROWS);
      if (bad || throws) {
        calls[i]!++;
        // Resolve after the driver has handed the verdict to the core.
        if (calls[i] === expectedCalls) setImmediate(callDone[i]!);
      }
      if (throws) throw new Error('hook bug');
      return bad ? 'reject' : 'accept';
    };
    const { nodes } = await startNodes(group, 3, (i) => ({
      channels: {
        // Synchronous on one channel, asynchronous on the other.
        consensus: { ...TEST_CHANNELS.consensus, validate: (a) => verdictOf(i, a) },
        ingress: {
          ...TEST_CHANNELS.ingress,
          validate: async (a) => {
            await Promise.resolve();
            return verdictOf(i, a);
          },
        },
      },
    }));
    const [origin, ...receivers] = nodes as [TestBroadcastNode, ...TestBroadcastNode[]];
    const streams = receivers.map((r) => ({
      consensus: r.node.channel('consensus').received(),
      ingress: r.node.channel('ingress').received(),
    }));

    const bad: ArtifactId[] = [];
    const good: ArtifactId[] = [];
    for (const [channel, size] of [
      ['consensus', 300],
      ['ingress', 64 * 1024],
    ] as const) {
      const ch = origin.node.channel(channel);
      for (let k = 0; k < BAD_PER_CHANNEL; k++) {
        bad.push(ch.broadcast(randomBytes(size), { attributes: BAD }));
      }
      for (let k = 0; k < GOOD_PER_CHANNEL; k++) good.push(ch.broadcast(randomBytes(size)));
    }
    const throwing = origin.node.channel('consensus').broadcast(randomBytes(100), {
      attributes: THROWS,
    });

    const delivered = await Promise.all(
      streams.map(async (s) => {
        const [c, i] = await Promise.all([
          readUntil(s.consensus, (seen) => seen.length >= GOOD_PER_CHANNEL),
          readUntil(s.ingress, (seen) => seen.length >= GOOD_PER_CHANNEL),
        ]);
        return [...c, ...i].map((a) => a.id);
      }),
    );
    await Promise.all(allCalled);

    for (const ids of delivered) assert.deepEqual(new Set(ids), new Set(good));
    for (const [n, r] of receivers.entries()) {
      const m = r.node.metrics;
      assert.equal(calls[n + 1], expectedCalls);
      assert.equal(
        await metricValue(m, 'subnet_p2p_broadcast_peer_faults_total', { reason: 'rejected' }),
        2 * BAD_PER_CHANNEL,
      );
      assert.equal(
        await metricValue(m, 'subnet_p2p_broadcast_peer_faults_total', {
          reason: 'rejected',
          peer: origin.identity.nodeId,
        }),
        2 * BAD_PER_CHANNEL,
      );
      assert.equal(
        await metricValue(m, 'subnet_p2p_broadcast_validations_total', { verdict: 'reject' }),
        2 * BAD_PER_CHANNEL,
      );
      assert.equal(
        await metricValue(m, 'subnet_p2p_broadcast_validations_total', { verdict: 'ignore' }),
        1,
      );
      for (const id of bad) {
        assert.equal(r.node.channel('consensus').get(id), undefined);
        assert.equal(r.node.channel('ingress').get(id), undefined);
      }
      assert.equal(r.node.channel('consensus').get(throwing), undefined);
    }

    await group.stop();
    for (const s of streams) {
      const extra = [...(await drain(s.consensus)), ...(await drain(s.ingress))];
      assert.deepEqual(
        extra.map((a) => a.id),
        [],
      );
    }
  });
});
