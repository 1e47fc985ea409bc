import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChannelState, channelNumber } from '../../src/broadcast/core/channel-state.ts';
import { CoreContext, DEFAULT_MESSAGE_LIMITS } from '../../src/broadcast/core/context.ts';
import { BULK_RELAY_DELAY_FACTOR } from '../../src/broadcast/core/delayed-relays.ts';
import {
  LINK_SALT_BYTES,
  RECEIPT_BYTES,
  RECEIPT_WINDOW_MS,
  Receipts,
  receiptTag,
  receiptWindowMs,
  tagKey,
} from '../../src/broadcast/core/receipts.ts';
import { artifactId } from '../../src/broadcast/ids.ts';
import {
  CountingObserver,
  resolveChannel,
  resolveDownloadLimits,
  SlotUpdates,
} from '../../src/broadcast/index.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { Lane } from '../../src/transport/index.ts';
import { allHold, broadcastRandom, type Sent, simSubnet } from '../helpers/sim.ts';

const LIMITS = resolveDownloadLimits();
const DELAY = LIMITS.pushRelayDelayMs;

/** Every node's count of `name` (with `labels`), summed. */
function total(
  net: ReturnType<typeof simSubnet>['net'],
  name: Parameters<CountingObserver['get']>[0],
  labels?: Record<string, string>,
) {
  return net.nodes().reduce((sum, x) => sum + x.observer.get(name, labels), 0);
}

/**
 * One origin's `artifacts` of `size` bytes on `channel` in a full mesh of `n` nodes (one-way
 * latencies of 10 to 100 ms, under the shortest relay delay), run until every node holds them
 * and then past every relay delay (each delayed advert sent or suppressed). `owed`: the
 * relayed adverts receipts may spare, each of the n - 1 receivers' to the n - 2 others.
 */
function fullMeshRound(seed: number, channel: string, size: number, relayWaitMs: number) {
  const n = 8;
  const artifacts = 20;
  const { net, ids } = simSubnet(n, { seed, latencyMs: [10, 100] });
  // Links up and their keys exchanged (until then, the adverts go as before).
  net.run({ maxTime: 1000 });
  const sent = broadcastRandom(net, ids[0]!, channel, artifacts, size);
  assert.ok(net.run({ until: () => allHold(net, sent), maxTime: 20_000 }));
  net.run({ maxTime: net.now + 2 * relayWaitMs });
  return { net, n, artifacts, owed: artifacts * (n - 1) * (n - 2) };
}

describe('receipts', () => {
  it('in a full mesh, replace the relayed adverts of pushed artifacts', () => {
    const { net, owed } = fullMeshRound(11, 'consensus', 300, DELAY);
    const adverts = total(net, 'updates_sent', { kind: 'advert' });
    const suppressed = total(net, 'relay_suppressed');
    assert.equal(adverts + suppressed, owed);
    assert.equal(adverts, 0, 'every receiver sent its receipt before any relay was due');
    assert.equal(total(net, 'receipts', { kind: 'sent' }), owed);
    assert.equal(total(net, 'receipts', { kind: 'received' }), owed);
    assert.equal(total(net, 'downloads', { outcome: 'started' }), 0);
  });

  it('in a full mesh, replace the relayed adverts of fetched artifacts', () => {
    // Advertised artifacts (above the push threshold, on a bulk channel): every receiver fetches
    // each from the origin, then owes the n - 2 others a relayed advert. They all heard the
    // origin's advert, so the receipts come first and only the origin's adverts go out.
    const { net, n, artifacts, owed } = fullMeshRound(
      12,
      'ingress',
      4000,
      BULK_RELAY_DELAY_FACTOR * DELAY,
    );
    assert.equal(total(net, 'downloads', { outcome: 'succeeded' }), artifacts * (n - 1));
    assert.equal(total(net, 'relay_suppressed'), owed);
    assert.equal(total(net, 'updates_sent', { kind: 'advert' }), artifacts * (n - 1));
    assert.equal(total(net, 'receipts', { kind: 'sent' }), owed);
  });

  it('leave a peer that missed the push its adverts: it fetches the artifact', () => {
    // A faulty origin pushes its artifact to two of its three peers only (equivocation by
    // omission). The two exchange receipts, so neither advertises it to the other, but neither
    // has a receipt from the third: both advertise it there, and it fetches it.
    const { net, ids } = simSubnet(4, { seed: 3 });
    const [origin, a, b, c] = ids as [NodeId, NodeId, NodeId, NodeId];
    const bytes = net.rng.bytes(200) as Uint8Array<ArrayBuffer>;
    const id = artifactId(bytes);
    const push = SlotUpdates.encode({
      channel: channelNumber('consensus'),
      updates: [
        {
          slot: 0,
          commit: 1,
          inline: { artifact: bytes, attributes: new Uint8Array() },
          withdrawn: false,
        },
      ],
    });
    net.run({ maxTime: 1000 });
    assert.ok(net.inject(origin, a, push, Lane.high));
    assert.ok(net.inject(origin, b, push, Lane.high));
    const sent: Sent[] = [{ channel: 'consensus', id: id as never, origin }];
    assert.ok(net.run({ until: () => allHold(net, sent, [a, b, c]), maxTime: 10_000 }));
    net.run({ maxTime: net.now + 2 * DELAY });
    const relayers = [a, b].map((x) => net.node(x).observer);
    assert.equal(
      relayers.reduce((s, o) => s + o.get('relay_suppressed'), 0),
      2,
      'a and b: no advert to each other',
    );
    assert.equal(
      relayers.reduce((s, o) => s + o.get('updates_sent', { kind: 'advert' }), 0),
      2,
      'a and b: each advertised it to c',
    );
    assert.equal(net.node(c).observer.get('downloads', { outcome: 'succeeded' }), 1);
  });

  it('malformed ones (not a whole number, too many, a bad key half) drop the message', () => {
    const { net, ids } = simSubnet(3, { seed: 5 });
    const [a, b, c] = ids as [NodeId, NodeId, NodeId];
    net.run({ maxTime: 1000 });
    const channel = channelNumber('consensus');
    const bad = [
      SlotUpdates.encode({ channel, receipts: new Uint8Array(RECEIPT_BYTES + 1) }),
      SlotUpdates.encode({
        channel,
        receipts: new Uint8Array((DEFAULT_MESSAGE_LIMITS.maxUpdatesPerMessage + 1) * RECEIPT_BYTES),
      }),
      SlotUpdates.encode({ channel, linkSalt: new Uint8Array(LINK_SALT_BYTES - 1) }),
    ];
    for (const body of bad) assert.ok(net.inject(b, a, body, Lane.high));
    net.run({ maxTime: net.now + 100 });
    assert.equal(
      net.node(a).observer.get('messages_dropped', { reason: 'malformed', peer: b }),
      bad.length,
    );
    // Honest traffic still flows, from and to the sender of the bad messages too.
    const sent = [
      ...broadcastRandom(net, a, 'consensus', 3, 300),
      ...broadcastRandom(net, b, 'consensus', 3, 300),
      ...broadcastRandom(net, c, 'ingress', 2, 50_000),
    ];
    assert.ok(net.run({ until: () => allHold(net, sent), maxTime: net.now + 10_000 }));
  });

  it('a peer flooding receipts holds at most 2 x maxSlots of them; honest traffic flows', () => {
    const maxSlots = 64;
    const { net, ids } = simSubnet(4, {
      seed: 9,
      channels: { consensus: { lane: Lane.high, maxSlots }, ingress: { lane: Lane.bulk } },
    });
    const [a, flooder] = ids as [NodeId, NodeId];
    net.run({ maxTime: 1000 });
    const channel = channelNumber('consensus');
    const per = DEFAULT_MESSAGE_LIMITS.maxUpdatesPerMessage;
    for (let i = 0; i < 20; i++) {
      const receipts = net.rng.bytes(per * RECEIPT_BYTES) as Uint8Array<ArrayBuffer>;
      assert.ok(net.inject(flooder, a, SlotUpdates.encode({ channel, receipts }), Lane.high));
      net.run({ maxTime: net.now + 20 });
    }
    // Within the origin's share of the receivers' 64 slots (peerShare 0.25: 16).
    const sent = broadcastRandom(net, a, 'consensus', 10, 300);
    assert.ok(net.run({ until: () => allHold(net, sent), maxTime: net.now + 10_000 }));
    assert.equal(net.node(a).observer.get('receipts', { kind: 'received' }) >= 20 * per, true);
    assert.equal(net.node(a).observer.get('messages_dropped', { reason: 'malformed' }), 0);
  });
});

describe('delayed relays (the bound)', () => {
  it('a member whose artifacts are evicted as fast as they come leaves at most maxSlots waiting', () => {
    // Slots freed and taken again within the relay delay leave their waiting relays behind:
    // the queue holds at most the channel's slots, and its oldest go at once past that.
    const maxSlots = 16;
    const { net, ids } = simSubnet(5, {
      seed: 21,
      latencyMs: [1, 2],
      channels: { consensus: { lane: Lane.high, maxSlots }, ingress: { lane: Lane.bulk } },
    });
    const [flooder, ...honest] = ids as [NodeId, ...NodeId[]];
    net.run({ maxTime: 1000 });
    let most = 0;
    for (let burst = 0; burst < 20; burst++) {
      broadcastRandom(net, flooder, 'consensus', 20, 200);
      net.run({ maxTime: net.now + 20 });
      for (const x of net.nodes()) most = Math.max(most, x.core.stats().waitingRelays);
    }
    assert.ok(most <= maxSlots, `at most ${maxSlots} waiting, saw ${most}`);
    assert.ok(most >= maxSlots / 2, `the flood did fill the queue (${most})`);
    // Honest traffic still flows to and from every other member.
    const sent = honest.flatMap((h) => broadcastRandom(net, h, 'consensus', 2, 200));
    assert.ok(net.run({ until: () => allHold(net, sent, honest), maxTime: net.now + 10_000 }));
  });
});

describe('Receipts (the bound and the window)', () => {
  const ch = {
    name: 'consensus',
    cfg: resolveChannel('consensus', { lane: Lane.high, maxSlots: 50 }),
  } as unknown as ChannelState;
  const peer = 'peer' as NodeId;
  /** Two ends of one link, their halves exchanged. */
  function pair() {
    const ctx = (self: string) =>
      new CoreContext(self as NodeId, LIMITS, DEFAULT_MESSAGE_LIMITS, new CountingObserver());
    const cx = ctx('x');
    const [x, y] = [new Receipts(cx), new Receipts(ctx('y'))];
    x.peerUp(peer);
    y.peerUp(peer);
    assert.ok(x.onSalt(peer, y.takeSalt(peer)!));
    assert.ok(y.onSalt(peer, x.takeSalt(peer)!));
    assert.equal(x.takeSalt(peer), undefined, 'sent once per link');
    return { x, y, cx };
  }

  it('match across the link only with the same key; a wrong-sized half is refused', () => {
    const { x, y } = pair();
    const id = artifactId(new Uint8Array([1, 2, 3]));
    y.queue(peer, ch, id);
    assert.ok(x.onReceipts(peer, ch, y.take(peer).get('consensus')!));
    assert.equal(x.has(peer, ch, id), true);
    assert.equal(x.has(peer, ch, artifactId(new Uint8Array([4]))), false);
    const other = pair();
    other.y.queue(peer, ch, id);
    const z = pair().x;
    assert.ok(z.onReceipts(peer, ch, other.y.take(peer).get('consensus')!));
    assert.equal(z.has(peer, ch, id), false, 'another link, another key');
    assert.equal(x.onSalt(peer, new Uint8Array(LINK_SALT_BYTES + 1)), false);
  });

  it('are kept for at most 2 x maxSlots per peer and channel, and for the window', () => {
    const { x, y } = pair();
    const ids = Array.from({ length: 500 }, (_, i) =>
      artifactId(new Uint8Array(new Uint32Array([i]).buffer)),
    );
    for (const id of ids) y.queue(peer, ch, id);
    const bytes = y.take(peer).get('consensus')!;
    assert.ok(x.onReceipts(peer, ch, bytes));
    assert.ok(x.heldFrom(peer, 'consensus') <= 2 * 50);
    assert.equal(x.has(peer, ch, ids.at(-1)!), true, 'the newest are kept');
    assert.equal(x.has(peer, ch, ids[0]!), false, 'the oldest went');
    // A receipt is kept for half a window at least, and gone after a whole one.
    const { x: x2, y: y2, cx } = pair();
    y2.queue(peer, ch, ids[0]!);
    assert.ok(x2.onReceipts(peer, ch, y2.take(peer).get('consensus')!));
    cx.now += receiptWindowMs(DELAY) / 2 - 1;
    assert.equal(x2.has(peer, ch, ids[0]!), true);
    cx.now += receiptWindowMs(DELAY) / 2 + 1;
    assert.equal(x2.has(peer, ch, ids[0]!), false, 'gone after the window');
    y2.queue(peer, ch, ids[1]!);
    assert.ok(x2.onReceipts(peer, ch, y2.take(peer).get('consensus')!));
    x2.peerDown(peer);
    assert.equal(x2.has(peer, ch, ids[1]!), false, 'gone with the link');
    assert.ok(receiptWindowMs(DELAY) >= 4 * DELAY, 'kept well past the relay delay');
    assert.ok(receiptWindowMs(1) >= RECEIPT_WINDOW_MS);
  });
});

describe('receiptTag', () => {
  const key = tagKey(Uint8Array.from({ length: 16 }, (_, i) => 7 * i + 3));
  const ids = Array.from({ length: 20_000 }, (_, i) =>
    artifactId(new Uint8Array(new Uint32Array([i]).buffer)),
  );

  it('is 48 bits, the same for the same key and id, and differs with the key', () => {
    const tags = ids.slice(0, 100).map((id) => receiptTag(key, id));
    for (const t of tags) assert.ok(Number.isSafeInteger(t) && t >= 0 && t < 2 ** 48, String(t));
    assert.deepEqual(
      ids.slice(0, 100).map((id) => receiptTag(key, id)),
      tags,
    );
    const other = tagKey(Uint8Array.from({ length: 16 }, (_, i) => 11 * i + 5));
    assert.ok(ids.slice(0, 100).every((id, i) => receiptTag(other, id) !== tags[i]));
  });

  it('separates 20 000 ids, and every id from the 64 one hex digit away from it', () => {
    assert.equal(new Set(ids.map((id) => receiptTag(key, id))).size, ids.length);
    const id = ids[0]!;
    const tag = receiptTag(key, id);
    for (let at = 0; at < 64; at++) {
      const digit = id[at] === '0' ? '1' : '0';
      const near = `${id.slice(0, at)}${digit}${id.slice(at + 1)}` as typeof id;
      assert.notEqual(receiptTag(key, near), tag, `hex digit ${at}`);
    }
  });
});
