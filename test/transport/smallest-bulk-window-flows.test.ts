// Flow control at its smallest window: a receiver whose loop each bulk message blocks for 20 ms,
// and a 1 ms delay target, push the sender's delay-controlled window down to the floor that
// resolveLimits accepts (MIN_BULK_WINDOW_FLOOR). Every message must still arrive: at that
// window the sender always has enough in flight for the receiver to credit. Below the floor
// (8 KiB, accepted before) the sender waited forever for a credit; such limits are now refused.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { Lane, resolveLimits } from '../../src/transport/index.ts';
import { MIN_BULK_WINDOW_FLOOR } from '../../src/transport/limits.ts';
import { startSubnet, stopAll, type TestNode } from '../helpers/subnet.ts';

const MESSAGES = 40;
const SIZE = 64 * 1024;

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the receiver's loop is blocked, so every credit comes back late
  }
}

it('bulk keeps flowing at the smallest window accepted', async () => {
  let nodes: TestNode[] = [];
  let received = 0;
  let allReceived: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allReceived = resolve;
  });
  try {
    nodes = await startSubnet(2, {
      limits: {
        bulkWindowBytes: 512 * 1024,
        minBulkWindowBytes: MIN_BULK_WINDOW_FLOOR,
        bulkTargetDelayMs: 1,
      },
      onMessage: (m) => {
        if (m.lane !== Lane.bulk) return;
        busy(20);
        if (++received === MESSAGES) allReceived();
      },
    });
    const [a, b] = nodes as [TestNode, TestNode];
    await Promise.all(
      Array.from({ length: MESSAGES }, (_, i) =>
        a.transport.send(b.identity.nodeId, Lane.bulk, Buffer.alloc(SIZE, i)),
      ),
    );
    await done;
    assert.equal(received, MESSAGES);
  } finally {
    await stopAll(nodes);
  }
});

it('refuses a smallest window below two credit batches', () => {
  assert.throws(
    () => resolveLimits({ minBulkWindowBytes: 8 * 1024 }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.field === 'limits.minBulkWindowBytes' &&
      /never be credited/.test(err.message),
  );
  assert.equal(
    resolveLimits({ minBulkWindowBytes: MIN_BULK_WINDOW_FLOOR }).minBulkWindowBytes,
    MIN_BULK_WINDOW_FLOOR,
  );
});
