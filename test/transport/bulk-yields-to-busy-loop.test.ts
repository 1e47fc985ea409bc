import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bulkToBusyReceiver } from '../helpers/busy-receiver.ts';
import { metricValue } from '../helpers/subnet.ts';

const MESSAGES = 24;

/**
 * Sends MESSAGES bulk messages of 64 KiB to a receiver whose loop each one blocks for 30 ms (far
 * over the 10 ms threshold); with `crucial`, the receiver answers each with a high-lane message
 * (crucial traffic it must keep flowing). Resolves with the credits the receiver held back once
 * all arrived.
 */
async function creditsHeld(crucial: boolean): Promise<number> {
  const { received, inspected } = await bulkToBusyReceiver(
    {
      // A small window, so the sender depends on credits to finish.
      limits: { bulkWindowBytes: 128 * 1024, minBulkWindowBytes: 64 * 1024 },
      messages: MESSAGES,
      size: 64 * 1024,
      busyMs: 30,
      answerHigh: crucial,
    },
    (b) => metricValue(b.metrics, 'subnet_p2p_transport_bulk_credits_held_total'),
  );
  assert.equal(received, MESSAGES);
  return inspected;
}

describe('bulk credits yield to an overloaded event loop', () => {
  it('holds credits back while the loop lags and high-lane traffic flows; every bulk message still arrives', async () => {
    assert.ok((await creditsHeld(true)) > 0, 'the busy receiver held bulk credits back');
  });

  it('holds none without high-lane traffic: bulk has nothing to yield to', async () => {
    assert.equal(await creditsHeld(false), 0);
  });
});
