import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BroadcastCore,
  type CoreAction,
  CountingObserver,
  InMemoryPool,
  resolveChannel,
  resolveDownloadLimits,
} from '../../src/broadcast/index.ts';
import { simNodeIds } from '../../src/sim/ids.ts';
import { Rng } from '../../src/sim/rng.ts';
import type { ConnId } from '../../src/transport/index.ts';

function core(self: string) {
  const channels = new Map([['ingress', resolveChannel('ingress', { priority: () => 'later' })]]);
  return new BroadcastCore({
    self: self as never,
    channels,
    pools: new Map([['ingress', new InMemoryPool()]]),
    downloads: resolveDownloadLimits(),
    observer: new CountingObserver(),
  });
}

const sends = (actions: CoreAction[]) => actions.filter((a) => a.type === 'send');

describe('a slot-update message that could not be sent is recovered by onSendFailed()', () => {
  it('re-advertises live slots and re-withdraws freed ones', () => {
    const rng = new Rng(1);
    const [a, b] = simNodeIds(2, rng) as [never, never];
    const sender = core(a);
    const receiver = core(b);
    sender.peerUp(b, 1 as ConnId, 0);
    receiver.peerUp(a, 1 as ConnId, 0);
    sender.takeActions();
    receiver.takeActions();

    const x = sender.add('ingress', rng.bytes(5000), {}, 1);
    const y = sender.add('ingress', rng.bytes(5000), {}, 1);
    const [lost] = sends(sender.takeActions()); // could not be queued
    assert.deepEqual(lost?.slots, [0, 1]);
    assert.equal(receiver.stats().wants, 0);

    sender.onSendFailed(b, lost!.channel, lost!.slots, 2);
    for (const s of sends(sender.takeActions()))
      receiver.onUpdates(a, 1 as ConnId, s.lane, s.body, 3);
    receiver.takeActions();
    assert.equal(receiver.stats().wants, 2, 'both adverts arrived');

    sender.abort('ingress', x, 4);
    const [lostWithdrawal] = sends(sender.takeActions()); // the withdrawal is lost too
    sender.onSendFailed(b, lostWithdrawal!.channel, lostWithdrawal!.slots, 5);
    for (const s of sends(sender.takeActions()))
      receiver.onUpdates(a, 1 as ConnId, s.lane, s.body, 6);
    receiver.takeActions();
    assert.equal(receiver.stats().wants, 1, 'the withdrawn advert is gone, the live one stays');
    void y;
  });
});
