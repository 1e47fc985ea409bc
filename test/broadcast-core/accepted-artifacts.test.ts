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
import { type ConnId, Lane } from '../../src/transport/index.ts';

/** Two cores linked by hand: `a` pushes small artifacts inline to `b`. */
function pair() {
  const rng = new Rng(4);
  const [a, b] = simNodeIds(2, rng) as [never, never];
  const make = (self: never) =>
    new BroadcastCore({
      self,
      channels: new Map([['consensus', resolveChannel('consensus', { lane: Lane.high })]]),
      pools: new Map([['consensus', new InMemoryPool()]]),
      downloads: resolveDownloadLimits(),
      observer: new CountingObserver(),
    });
  const sender = make(a);
  const receiver = make(b);
  sender.peerUp(b, 1 as ConnId, 0);
  receiver.peerUp(a, 1 as ConnId, 0);
  sender.takeActions();
  receiver.takeActions();
  /** Broadcasts `n` artifacts at the sender and delivers its message; returns the receiver's actions. */
  const push = (n: number): CoreAction[] => {
    for (let i = 0; i < n; i++) sender.add('consensus', rng.bytes(100), {}, 1);
    for (const s of sender.takeActions()) {
      if (s.type === 'send') receiver.onUpdates(a, 1 as ConnId, s.lane, s.body, 2);
    }
    return receiver.takeActions();
  };
  return { sender, receiver, push };
}

describe('accepted artifacts', () => {
  it('an artifact aborted while it is being validated is not delivered, kept or relayed', () => {
    const { receiver, push } = pair();
    const [validate] = push(1).filter((x) => x.type === 'validate');
    assert.ok(validate?.type === 'validate');
    assert.equal(receiver.abort('consensus', validate.artifact.id, 3), true);
    receiver.onValidated(validate.token, 'accept', 4);
    assert.deepEqual(
      receiver.takeActions().filter((x) => x.type !== 'wake'),
      [],
    );
    assert.equal(receiver.get('consensus', validate.artifact.id), undefined);
  });

  it('does not pin the whole received message: accepted bytes are copied', () => {
    const { receiver, push } = pair();
    const validations = push(50).filter((x) => x.type === 'validate');
    assert.equal(validations.length, 50);
    for (const v of validations)
      if (v.type === 'validate') receiver.onValidated(v.token, 'accept', 3);
    const delivered = receiver.takeActions().filter((x) => x.type === 'deliver');
    assert.equal(delivered.length, 50);
    for (const d of delivered) {
      if (d.type !== 'deliver') continue;
      assert.equal(d.artifact.bytes.buffer.byteLength, d.artifact.bytes.length);
      assert.equal(receiver.get('consensus', d.artifact.id)?.bytes.buffer.byteLength, 100);
    }
  });
});
