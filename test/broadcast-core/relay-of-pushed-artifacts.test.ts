import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BroadcastCore,
  type CoreAction,
  CountingObserver,
  InMemoryPool,
  resolveChannel,
  resolveDownloadLimits,
  SlotUpdates,
} from '../../src/broadcast/index.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { simNodeIds } from '../../src/sim/ids.ts';
import { SimNetwork } from '../../src/sim/network.ts';
import { Rng } from '../../src/sim/rng.ts';
import { type ConnId, Lane } from '../../src/transport/index.ts';
import { allHold, broadcastRandom, CHANNELS } from '../helpers/sim.ts';

const DELAY = resolveDownloadLimits().pushRelayDelayMs;

/**
 * Three cores wired by hand: origin `o` pushes small artifacts to relayer `r`, whose other
 * peer is `c`. `linked` says whether the topology links `o` and `c`.
 */
function trio(originLinkedToC: boolean) {
  const rng = new Rng(7);
  const [o, r, c] = simNodeIds(3, rng) as [NodeId, NodeId, NodeId];
  const linked = (a: NodeId, b: NodeId) =>
    a !== b && (originLinkedToC || !((a === o && b === c) || (a === c && b === o)));
  const make = (self: NodeId) => {
    const observer = new CountingObserver();
    const core = new BroadcastCore({
      self,
      channels: new Map([['consensus', resolveChannel('consensus', { lane: Lane.high })]]),
      pools: new Map([['consensus', new InMemoryPool()]]),
      downloads: resolveDownloadLimits(),
      observer,
      linked,
    });
    return { core, observer };
  };
  const origin = make(o);
  const relayer = make(r);
  const other = make(c);
  origin.core.peerUp(r, 1 as ConnId, 0);
  relayer.core.peerUp(o, 1 as ConnId, 0);
  relayer.core.peerUp(c, 2 as ConnId, 0);
  other.core.peerUp(r, 2 as ConnId, 0);
  for (const x of [origin, relayer, other]) x.core.takeActions();

  /** The origin broadcasts `n` artifacts at `at`; the relayer gets, validates and accepts them. */
  const push = (n: number, at: number): string[] => {
    const ids = Array.from({ length: n }, () =>
      origin.core.add('consensus', rng.bytes(100), {}, at),
    );
    for (const s of origin.core.takeActions()) {
      if (s.type === 'send') relayer.core.onUpdates(o, 1 as ConnId, s.lane, s.body, at);
    }
    for (const v of relayer.core.takeActions()) {
      if (v.type === 'validate') relayer.core.onValidated(v.token, 'accept', at);
    }
    return ids;
  };
  /** The relayer's slot-update messages to `c` among `actions`, decoded. */
  const toC = (actions: CoreAction[]) =>
    actions
      .filter((x) => x.type === 'send' && x.peer === c)
      .map((x) => (x.type === 'send' ? SlotUpdates.decode(x.body).updates : []));
  return { relayer, other, o, r, c, push, toC };
}

describe('relay of pushed artifacts', () => {
  it('to a peer the origin links to: delayed, batched, and marked pushed', () => {
    const { relayer, push, toC } = trio(true);
    push(3, 10);
    push(2, 40);
    assert.deepEqual(toC(relayer.core.takeActions()), [], 'nothing relayed before the delay');
    relayer.core.tick(10 + DELAY);
    const messages = toC(relayer.core.takeActions());
    assert.equal(messages.length, 1, 'one message for all five');
    assert.equal(messages[0]!.length, 5);
    assert.ok(messages[0]!.every((u) => u.advert?.pushed === true));
  });

  it('not to a peer that advertised the artifact to us meanwhile (it has it)', () => {
    const { relayer, other, r, c, push, toC } = trio(true);
    const [first, second] = push(2, 10);
    // `c` got `first` from the origin too, accepted it, and advertises it to the relayer.
    const accepted = relayer.core.get('consensus', first as never)!;
    other.core.add('consensus', accepted.bytes, {}, 20);
    for (const s of other.core.takeActions()) {
      if (s.type === 'send' && s.peer === r)
        relayer.core.onUpdates(c, 2 as ConnId, s.lane, s.body, 20);
    }
    relayer.core.tick(10 + DELAY);
    const updates = toC(relayer.core.takeActions()).flat();
    assert.equal(updates.length, 1);
    assert.equal(Buffer.from(updates[0]!.advert!.id).toString('hex'), second);
    assert.equal(relayer.observer.get('relay_suppressed'), 1);
  });

  it('to a peer the origin does not link to: at once, and not marked pushed (no grace there)', () => {
    const { relayer, push, toC } = trio(false);
    push(2, 10);
    const updates = toC(relayer.core.takeActions()).flat();
    assert.equal(updates.length, 2);
    assert.ok(updates.every((u) => u.advert !== undefined && u.advert.pushed === false));
  });

  it('in a LAN full mesh, staggered relay delays suppress about half of the relayed adverts', () => {
    const n = 8;
    const artifacts = 20;
    // Latencies well under the stagger between relayers (the 100 ms delay spread over 7).
    const net = new SimNetwork({ seed: 11, channels: CHANNELS, latencyMs: [1, 2] });
    const ids = simNodeIds(n, net.rng);
    for (const id of ids) net.addNode(id);
    net.fullMesh();
    const sent = broadcastRandom(net, ids[0]!, 'consensus', artifacts, 300);
    // Run past every relay delay, so that all relayed adverts have been sent or suppressed.
    assert.ok(net.run({ until: () => allHold(net, sent), maxTime: 10_000 }));
    net.run({ maxTime: net.now + 2 * DELAY });
    const relayers = net.nodes().filter((x) => x.id !== ids[0]);
    const adverts = relayers.reduce(
      (sum, x) => sum + x.observer.get('updates_sent', { kind: 'advert' }),
      0,
    );
    const suppressed = relayers.reduce((sum, x) => sum + x.observer.get('relay_suppressed'), 0);
    // Each relayer owes an advert to n - 2 other relayers (none to the origin, which has it).
    const owed = artifacts * (n - 1) * (n - 2);
    assert.equal(adverts + suppressed, owed);
    assert.ok(suppressed >= 0.4 * owed, `${suppressed} of ${owed} suppressed`);
  });
});
