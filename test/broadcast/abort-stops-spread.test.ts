import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AdvertInfo, ArtifactId, PriorityDecision } from '../../src/broadcast/index.ts';
import {
  drain,
  metricValue,
  NodeGroup,
  randomBytes,
  readUntil,
  startNodes,
  TEST_CHANNELS,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';
import { slow } from '../helpers/slowdown.ts';

const HOLD = Uint8Array.of(1);

/** A promise with its resolver. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('abort', () => {
  const group = new NodeGroup();
  after(() => group.stop());

  it('an artifact aborted before anyone fetched it is never delivered, and its advert is gone', {
    timeout: slow(30_000),
  }, async () => {
    // Receivers put artifacts marked HOLD off ('later') until the gate opens.
    let gateOpen = false;
    const heldSeen = [deferred(), deferred(), deferred()];
    const fenceSeen = [deferred(), deferred(), deferred()];
    const priority =
      (i: number) =>
      (a: AdvertInfo): PriorityDecision => {
        const held = a.attributes.length === 1 && a.attributes[0] === HOLD[0];
        (held ? heldSeen : fenceSeen)[i]!.resolve();
        return held && !gateOpen ? 'later' : { fetch: 0 };
      };
    const { nodes } = await startNodes(group, 3, (i) => ({
      channels: { ...TEST_CHANNELS, ingress: { ...TEST_CHANNELS.ingress, priority: priority(i) } },
    }));
    const [origin, ...receivers] = nodes as [TestBroadcastNode, ...TestBroadcastNode[]];
    const streams = receivers.map((r) => r.node.channel('ingress').received());
    const ingress = origin.node.channel('ingress');

    const held = ingress.broadcast(randomBytes(64 * 1024), { attributes: HOLD });
    await Promise.all([1, 2].map((i) => heldSeen[i]!.promise));
    for (const r of receivers) {
      assert.equal(await metricValue(r.node.metrics, 'subnet_p2p_broadcast_wants'), 1);
    }

    // Abort, and in the same burst broadcast a fence: its slot update travels after the
    // withdrawal on the same lane, so a receiver that sees the fence has applied the withdrawal.
    assert.equal(ingress.abort(held), true);
    const fence: ArtifactId = ingress.broadcast(randomBytes(64 * 1024));
    assert.equal(ingress.get(held), undefined);
    await Promise.all([1, 2].map((i) => fenceSeen[i]!.promise));

    // The receivers would now fetch the held artifact: they no longer know of it.
    gateOpen = true;
    for (const r of receivers) r.node.channel('ingress').reprioritize();
    const got = await Promise.all(streams.map((s) => readUntil(s, (seen) => seen.length >= 1)));
    for (const seen of got) {
      assert.deepEqual(
        seen.map((a) => a.id),
        [fence],
      );
    }

    for (const { node } of nodes) {
      assert.equal(node.channel('ingress').get(held), undefined);
      assert.notEqual(node.channel('ingress').get(fence), undefined);
      assert.equal(await metricValue(node.metrics, 'subnet_p2p_broadcast_wants'), 0);
    }
    for (const r of receivers) {
      const m = r.node.metrics;
      // One download each: the fence.
      assert.equal(
        await metricValue(m, 'subnet_p2p_broadcast_downloads_total', { outcome: 'started' }),
        1,
      );
    }
    // The origin holds one slot (the fence); the held artifact's slot was withdrawn.
    assert.equal(
      await metricValue(origin.node.metrics, 'subnet_p2p_broadcast_slots', { channel: 'ingress' }),
      1,
    );
    assert.equal(
      await metricValue(origin.node.metrics, 'subnet_p2p_broadcast_updates_sent_total', {
        kind: 'withdrawn',
      }),
      2,
    );

    await group.stop();
    for (const s of streams) {
      assert.deepEqual(
        (await drain(s)).map((a) => a.id),
        [],
      );
    }
  });
});
