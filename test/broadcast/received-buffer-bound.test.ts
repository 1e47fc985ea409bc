import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChannelEndpoint,
  type ChannelHost,
  type DeliveredArtifact,
} from '../../src/broadcast/index.ts';

function host(): ChannelHost & { dropped: number } {
  return {
    dropped: 0,
    add: () => {
      throw new Error('unused');
    },
    abort: () => false,
    get: () => undefined,
    reprioritize: () => {},
    purge: () => 0,
    purgeBelow: () => 0,
    list: () => ({ artifacts: [], next: undefined }),
    stats: () => {
      throw new Error('unused');
    },
    deliveryDropped(this: { dropped: number }) {
      this.dropped++;
    },
  };
}

const artifact = (i: number) => ({ id: String(i), channel: 'c' }) as unknown as DeliveredArtifact;

describe('received(): a bounded buffer per iterator', () => {
  it('keeps at most maxBufferedDeliveries, dropping and counting the oldest', async () => {
    const h = host();
    const ch = new ChannelEndpoint('c', h, { maxBufferedDeliveries: 3 });
    const it = ch.received();
    for (let i = 0; i < 5; i++) ch.deliver(artifact(i));
    assert.equal(h.dropped, 2);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await it.next()).value?.id);
    assert.deepEqual(got, ['2', '3', '4']);
  });

  it('hands an artifact straight to a waiting reader, and each iterator gets its own copy', async () => {
    const ch = new ChannelEndpoint('c', host());
    const a = ch.received();
    const b = ch.received();
    const waiting = a.next();
    ch.deliver(artifact(7));
    assert.equal((await waiting).value?.id, '7');
    assert.equal((await b.next()).value?.id, '7');
  });

  it('unsubscribes on break, and ends every iterator (after its buffer) when the node stops', async () => {
    const ch = new ChannelEndpoint('c', host());
    for await (const _ of (() => {
      const it = ch.received();
      ch.deliver(artifact(1));
      return it;
    })()) {
      break;
    }
    assert.equal(ch.subscribers, 0);
    const it = ch.received();
    ch.deliver(artifact(2));
    ch.end();
    assert.equal((await it.next()).value?.id, '2');
    assert.equal((await it.next()).done, true);
    assert.equal((await ch.received().next()).done, true);
  });
});
