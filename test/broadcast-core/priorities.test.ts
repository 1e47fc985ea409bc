import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdvertInfo, ArtifactId, PriorityDecision } from '../../src/broadcast/index.ts';
import { allHold, broadcastRandom, simSubnet } from '../helpers/sim.ts';

describe('priorities, later/drop and abort', () => {
  it('with downloads saturated, higher-priority fetch-now artifacts are fetched first', () => {
    // The first attribute byte is the priority.
    const priority = (a: AdvertInfo): PriorityDecision => ({ fetch: a.attributes[0] ?? 0 });
    const { net, ids } = simSubnet(2, {
      seed: 13,
      channels: { ingress: { priority } },
      downloads: { maxConcurrentDownloads: 1 },
    });
    const [origin, receiver] = ids as [(typeof ids)[0], (typeof ids)[0]];
    const low: ArtifactId[] = [];
    const high: ArtifactId[] = [];
    for (let i = 0; i < 10; i++)
      low.push(
        net.broadcast(origin, 'ingress', net.rng.bytes(10_000), { attributes: Uint8Array.of(1) }),
      );
    for (let i = 0; i < 3; i++)
      high.push(
        net.broadcast(origin, 'ingress', net.rng.bytes(10_000), { attributes: Uint8Array.of(9) }),
      );
    const all = [...low, ...high].map((id) => ({ channel: 'ingress', id, origin }));
    assert.ok(net.run({ until: () => allHold(net, all), maxTime: 60_000 }));
    const order = [...net.node(receiver).deliveries.entries()]
      .sort((a, b) => a[1].at - b[1].at)
      .map(([k]) => k.split(':')[1]);
    // The first low advert arrived alone and started downloading at once; every other low one
    // waited: the 3 high ones come right after it.
    assert.equal(order[0], low[0]);
    assert.deepEqual(new Set(order.slice(1, 4)), new Set(high));
  });

  it("'later' keeps the advert and asks again at each re-evaluation; 'drop' forgets it", () => {
    const asked = new Map<string, number>();
    let decide: (id: string) => PriorityDecision = () => 'later';
    const priority = (a: AdvertInfo): PriorityDecision => {
      asked.set(a.id, (asked.get(a.id) ?? 0) + 1);
      return a.attributes[0] === 0xdd ? 'drop' : decide(a.id);
    };
    const { net, ids } = simSubnet(2, { seed: 17, channels: { ingress: { priority } } });
    const [origin, receiver] = ids as [(typeof ids)[0], (typeof ids)[0]];
    const later = net.broadcast(origin, 'ingress', net.rng.bytes(5000));
    const dropped = net.broadcast(origin, 'ingress', net.rng.bytes(5000), {
      attributes: Uint8Array.of(0xdd),
    });
    net.run({ maxTime: 3500 }); // three periodic re-evaluations (every 1 s)
    const r = net.node(receiver);
    assert.equal(r.core.get('ingress', later), undefined);
    assert.equal(r.core.get('ingress', dropped), undefined);
    assert.ok((asked.get(later) ?? 0) >= 3, `asked ${asked.get(later)} times`);
    assert.equal(asked.get(dropped), 1);
    assert.equal(r.observer.get('downloads', { outcome: 'started' }), 0);
    // The application changes its mind and asks for a re-evaluation now.
    decide = () => ({ fetch: 1 });
    net.reprioritize(receiver, 'ingress');
    assert.ok(
      net.run({ until: () => r.core.get('ingress', later) !== undefined, maxTime: net.now + 5000 }),
    );
    net.run({ maxTime: net.now + 5000 });
    assert.equal(r.core.get('ingress', dropped), undefined);
  });

  it('an aborted artifact stops being fetched everywhere', () => {
    let fetchNow = false;
    const priority = (): PriorityDecision => (fetchNow ? { fetch: 0 } : 'later');
    const { net, ids } = simSubnet(5, { seed: 19, channels: { ingress: { priority } } });
    const origin = ids[0]!;
    const [keep] = broadcastRandom(net, origin, 'ingress', 1, 8000);
    const [gone] = broadcastRandom(net, origin, 'ingress', 1, 8000);
    net.run({ maxTime: 500 });
    net.abort(origin, 'ingress', gone!.id);
    fetchNow = true;
    for (const id of ids) net.reprioritize(id);
    assert.ok(net.run({ until: () => allHold(net, [keep!]), maxTime: 30_000 }));
    net.run({ maxTime: net.now + 10_000 });
    for (const node of net.nodes()) {
      assert.equal(node.core.get('ingress', gone!.id), undefined);
      assert.equal(node.core.stats().wants, 0, 'the withdrawn advert is gone');
    }
    assert.equal(net.node(origin).core.stats().slots.ingress, 1);
  });

  it('aborting during a download cancels it', () => {
    const { net, ids } = simSubnet(2, { seed: 23 });
    const [origin, receiver] = ids as [(typeof ids)[0], (typeof ids)[0]];
    const [a] = broadcastRandom(net, origin, 'ingress', 1, 100_000);
    // Run until the receiver has started fetching, then withdraw.
    net.run({
      until: () => net.node(receiver).observer.get('downloads', { outcome: 'started' }) === 1,
      maxTime: 5000,
    });
    net.abort(origin, 'ingress', a!.id);
    net.run({ maxTime: net.now + 5000 });
    const r = net.node(receiver);
    assert.equal(r.observer.get('downloads', { outcome: 'cancelled' }), 1);
    assert.equal(r.core.get('ingress', a!.id), undefined);
  });
});
