import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allHold,
  broadcastRandom,
  duplicateDownloads,
  type Sent,
  simSubnet,
} from '../helpers/sim.ts';

/** Seeds each scenario runs with; a failing seed is printed by the assertion message. */
const SEEDS = [1, 2, 3, 42, 2026];

describe('eventual delivery on the simulated network', () => {
  for (const seed of SEEDS) {
    it(`steady mixed workload, each node downloads each artifact once (seed ${seed})`, () => {
      const { net, ids } = simSubnet(7, { seed });
      const sent: Sent[] = [];
      for (const id of ids) {
        sent.push(...broadcastRandom(net, id, 'consensus', 3, 300));
        sent.push(...broadcastRandom(net, id, 'ingress', 3, 64 * 1024));
      }
      assert.ok(net.run({ until: () => allHold(net, sent), maxTime: 60_000 }), `seed ${seed}`);
      assert.equal(duplicateDownloads(net), 0);
      for (const node of net.nodes()) {
        // Every other node's ingress artifacts were each fetched exactly once.
        assert.equal(
          node.observer.get('downloads', { channel: 'ingress', outcome: 'succeeded' }),
          6 * 3,
        );
        assert.equal(node.deliveries.size, 6 * 6);
      }
    });

    it(`partition of a minority, then heal (seed ${seed})`, () => {
      const { net, ids } = simSubnet(7, { seed });
      const minority = ids.slice(0, 2);
      net.partition(minority);
      const sent = [
        ...broadcastRandom(net, ids[0]!, 'ingress', 4, 20_000),
        ...broadcastRandom(net, ids[5]!, 'consensus', 4, 500),
        ...broadcastRandom(net, ids[6]!, 'ingress', 4, 20_000),
      ];
      net.run({ maxTime: 10_000 });
      assert.ok(!allHold(net, sent), 'nothing crosses the partition');
      net.heal();
      assert.ok(net.run({ until: () => allHold(net, sent), maxTime: 120_000 }), `seed ${seed}`);
    });

    it(`crash and restart: the restarted node catches up (seed ${seed})`, () => {
      const { net, ids } = simSubnet(6, { seed });
      const before = broadcastRandom(net, ids[1]!, 'ingress', 3, 10_000);
      net.run({ until: () => allHold(net, before), maxTime: 60_000 });
      net.crash(ids[0]!);
      const during = broadcastRandom(net, ids[2]!, 'ingress', 3, 10_000);
      net.run({ maxTime: net.now + 5000 });
      net.restart(ids[0]!);
      const all = [...before, ...during];
      assert.ok(
        net.run({ until: () => allHold(net, all), maxTime: net.now + 120_000 }),
        `seed ${seed}`,
      );
    });

    it(`flapping links (seed ${seed})`, () => {
      const { net, ids } = simSubnet(6, { seed });
      const sent: Sent[] = [];
      for (let round = 0; round < 10; round++) {
        const a = net.rng.pick(ids);
        const b = net.rng.pick(ids.filter((x) => x !== a));
        net.setCut(a, b, true);
        sent.push(
          ...broadcastRandom(
            net,
            net.rng.pick(ids),
            net.rng.pick(['consensus', 'ingress']),
            2,
            5000,
          ),
        );
        net.run({ maxTime: net.now + net.rng.int(20, 400) });
        net.setCut(a, b, false);
      }
      assert.ok(
        net.run({ until: () => allHold(net, sent), maxTime: net.now + 120_000 }),
        `seed ${seed}`,
      );
    });

    it(`a node joining later gets everything (seed ${seed})`, () => {
      const { net, ids } = simSubnet(6, { seed, mesh: false });
      const [newcomer, ...members] = ids as [(typeof ids)[0], ...typeof ids];
      for (const a of members) for (const b of members) if (a < b) net.link(a, b);
      const sent = members.flatMap((m) => broadcastRandom(net, m, 'ingress', 2, 8000));
      net.run({ until: () => allHold(net, sent, members), maxTime: 60_000 });
      for (const m of members) net.link(newcomer, m);
      assert.ok(
        net.run({ until: () => allHold(net, sent), maxTime: net.now + 60_000 }),
        `seed ${seed}`,
      );
    });

    it(`relay reaches a node whose link to the origin is cut (seed ${seed})`, () => {
      const { net, ids } = simSubnet(4, { seed });
      net.setCut(ids[0]!, ids[3]!, true);
      const sent = [
        ...broadcastRandom(net, ids[0]!, 'consensus', 2, 100),
        ...broadcastRandom(net, ids[0]!, 'ingress', 2, 30_000),
      ];
      assert.ok(net.run({ until: () => allHold(net, sent), maxTime: 60_000 }), `seed ${seed}`);
      assert.equal(net.node(ids[3]!).deliveries.size, 4);
    });
  }

  it('the same seed gives the same run', () => {
    const run = () => {
      const { net, ids } = simSubnet(5, { seed: 99 });
      const sent = ids.flatMap((id) => broadcastRandom(net, id, 'ingress', 2, 9000));
      net.run({ until: () => allHold(net, sent), maxTime: 60_000 });
      return {
        now: net.now,
        events: net.queue.processed,
        deliveries: net.nodes().map((n) => [...n.deliveries]),
      };
    };
    assert.deepEqual(run(), run());
  });
});
