import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BULK_RELAY_DELAY_FACTOR } from '../../src/broadcast/core/delayed-relays.ts';
import { channelNumber, DEFAULT_DOWNLOAD_LIMITS } from '../../src/broadcast/index.ts';
import { SlotUpdates } from '../../src/broadcast/proto/broadcast.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { Lane } from '../../src/transport/index.ts';
import { allHold, broadcastRandom, simSubnet } from '../helpers/sim.ts';

function advert(slot: number, commit: number, id: Uint8Array, size = 1000) {
  return {
    slot,
    commit,
    advert: {
      id: id as Uint8Array<ArrayBuffer>,
      size,
      attributes: new Uint8Array(0),
      pushed: false,
    },
    withdrawn: false,
  };
}

/**
 * Past every relayed advert of a bulk-lane artifact: a node relays what it fetched only after
 * its relay delay (its peers most likely fetch it from the origin too; see Receipts).
 */
const RELAYED_MS = BULK_RELAY_DELAY_FACTOR * DEFAULT_DOWNLOAD_LIMITS.pushRelayDelayMs + 1000;

describe('misbehaving peers do not prevent delivery', () => {
  for (const serve of ['wrong-bytes', 'silent'] as const) {
    it(`a relayer that ${serve === 'silent' ? 'never answers' : 'serves wrong bytes'} is routed around`, () => {
      for (const seed of [7, 8, 9]) {
        const { net, ids } = simSubnet(4, { seed, downloads: { downloadTimeoutMs: 500 } });
        const [bad, origin, relayer, far] = ids as [NodeId, NodeId, NodeId, NodeId];
        net.node(bad).serve = serve;
        // At first far's only route to the artifacts is the bad relayer.
        net.setCut(origin, far, true);
        net.setCut(relayer, far, true);
        const sent = broadcastRandom(net, origin, 'ingress', 3, 20_000);
        net.run({ until: () => allHold(net, sent, [bad]), maxTime: 60_000 });
        net.run({ maxTime: net.now + RELAYED_MS });
        const obs = net.node(far).observer;
        if (serve === 'wrong-bytes') {
          assert.equal(
            obs.get('peer_faults', { peer: bad, reason: 'bad_hash' }),
            3,
            `seed ${seed}`,
          );
        } else {
          assert.ok(obs.get('downloads', { outcome: 'retried' }) >= 3, `seed ${seed}`);
        }
        assert.ok(sent.every((s) => net.node(far).core.get('ingress', s.id) === undefined));
        // An honest route opens: everything arrives, and no fault is counted against it.
        net.setCut(relayer, far, false);
        const honest = [origin, relayer, far];
        assert.ok(
          net.run({ until: () => allHold(net, sent, honest), maxTime: net.now + 120_000 }),
          `seed ${seed}`,
        );
        assert.equal(obs.get('peer_faults'), obs.get('peer_faults', { peer: bad }));
      }
    });
  }

  it('a peer serving wrong bytes for its own adverts is counted faulty and never asked again', () => {
    const { net, ids } = simSubnet(3, { seed: 11 });
    const [liar, honest, victim] = ids as [NodeId, NodeId, NodeId];
    const good = broadcastRandom(net, honest, 'ingress', 1, 5000);
    // Only the liar advertises it to the victim at first.
    net.setCut(honest, victim, true);
    net.node(liar).serve = 'wrong-bytes';
    net.run({ until: () => allHold(net, good, [liar]), maxTime: 10_000 });
    net.run({ maxTime: net.now + RELAYED_MS });
    assert.ok(
      net.node(victim).observer.get('peer_faults', { peer: liar, reason: 'bad_hash' }) >= 1,
    );
    assert.equal(net.node(victim).core.get('ingress', good[0]!.id), undefined);
    net.setCut(honest, victim, false);
    assert.ok(net.run({ until: () => allHold(net, good), maxTime: net.now + 30_000 }));
  });

  it('stale and out-of-order updates are ignored and counted', () => {
    const { net, ids } = simSubnet(2, { seed: 5 });
    const [a, b] = ids as [(typeof ids)[0], (typeof ids)[0]];
    const ch = channelNumber('ingress');
    const id1 = net.rng.bytes(32);
    const id2 = net.rng.bytes(32);
    net.inject(a, b, SlotUpdates.encode({ channel: ch, updates: [advert(0, 10, id2)] }));
    net.inject(a, b, SlotUpdates.encode({ channel: ch, updates: [advert(0, 5, id1)] }));
    net.run({ maxTime: 1000 });
    const obs = net.node(b).observer;
    assert.equal(obs.get('adverts', { outcome: 'stale' }), 1);
    // Updates from an older connection are dropped whole.
    net.setCut(a, b, true);
    net.setCut(a, b, false);
    net.run({ maxTime: net.now + 1000 });
    const staleLink = net.node(b).core; // connection ids moved on; a message carrying the old one:
    staleLink.onUpdates(
      a,
      1 as never,
      Lane.bulk,
      SlotUpdates.encode({ channel: ch, updates: [advert(1, 99, id1)] }),
      net.now,
    );
    assert.equal(obs.get('messages_dropped', { reason: 'stale_connection' }), 1);
  });

  it('an advert flood beyond the slot limit is refused, memory stays bounded, others flow', () => {
    const maxSlots = 50;
    const { net, ids } = simSubnet(3, {
      seed: 9,
      channels: { ingress: { maxSlots, priority: () => 'later' as const }, consensus: {} },
    });
    const [flooder, honest, victim] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
    const ch = channelNumber('ingress');
    for (let batch = 0; batch < 20; batch++) {
      const updates = Array.from({ length: 100 }, (_, i) =>
        advert(batch * 100 + i, batch * 100 + i + 1, net.rng.bytes(32)),
      );
      net.inject(flooder, victim, SlotUpdates.encode({ channel: ch, updates }));
    }
    const good = broadcastRandom(net, honest, 'consensus', 5, 200);
    assert.ok(net.run({ until: () => allHold(net, good), maxTime: 30_000 }));
    const obs = net.node(victim).observer;
    assert.equal(obs.get('adverts', { outcome: 'over_limit' }), 2000 - maxSlots);
    assert.ok(net.node(victim).core.stats().wants <= maxSlots);
    // A batch over the per-message update limit is malformed as a whole.
    const huge = Array.from({ length: 1001 }, (_, i) =>
      advert(i % maxSlots, 10_000 + i, net.rng.bytes(32)),
    );
    net.inject(flooder, victim, SlotUpdates.encode({ channel: ch, updates: huge }));
    net.run({ maxTime: net.now + 1000 });
    assert.equal(obs.get('messages_dropped', { reason: 'malformed' }), 1);
  });

  it('garbage and unknown channels are dropped and counted', () => {
    const { net, ids } = simSubnet(2, { seed: 3 });
    net.inject(ids[0]!, ids[1]!, Uint8Array.of(0xff, 0xff, 0xff));
    net.inject(ids[0]!, ids[1]!, SlotUpdates.encode({ channel: 12345, updates: [] }));
    // The ingress channel lives on the bulk lane: its messages on the high lane are refused,
    // with updates or without (receipts alone take the channel's lane too).
    const ingress = channelNumber('ingress');
    const withdrawn = { slot: 0, commit: 1, withdrawn: true };
    net.inject(
      ids[0]!,
      ids[1]!,
      SlotUpdates.encode({ channel: ingress, updates: [withdrawn] }),
      Lane.high,
    );
    net.inject(ids[0]!, ids[1]!, SlotUpdates.encode({ channel: ingress, updates: [] }), Lane.high);
    net.run({ maxTime: 1000 });
    const obs = net.node(ids[1]!).observer;
    assert.equal(obs.get('messages_dropped', { reason: 'malformed' }), 1);
    assert.equal(obs.get('messages_dropped', { reason: 'unknown_channel' }), 1);
    assert.equal(obs.get('messages_dropped', { reason: 'wrong_lane' }), 2);
  });
});
