// Flow control at its smallest window: a receiver whose loop each bulk message blocks for 20 ms,
// and a 1 ms delay target, push the sender's delay-controlled window down to the floor that
// resolveLimits accepts (MIN_BULK_WINDOW_FLOOR). Every message must still arrive: at that
// window the sender always has enough in flight for the receiver to credit. Below the floor
// (8 KiB, accepted before) the sender waited forever for a credit; such limits are now refused.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { resolveLimits } from '../../src/transport/index.ts';
import { MIN_BULK_WINDOW_FLOOR } from '../../src/transport/limits.ts';
import { bulkToBusyReceiver } from '../helpers/busy-receiver.ts';

it('bulk keeps flowing at the smallest window accepted', async () => {
  const { received } = await bulkToBusyReceiver(
    {
      limits: {
        bulkWindowBytes: 512 * 1024,
        minBulkWindowBytes: MIN_BULK_WINDOW_FLOOR,
        bulkTargetDelayMs: 1,
      },
      messages: 40,
      size: 64 * 1024,
      busyMs: 20,
    },
    async () => undefined,
  );
  assert.equal(received, 40);
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
