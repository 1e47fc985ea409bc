import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder } from '../../src/transport/frame.ts';
import { Lane } from '../../src/transport/lanes.ts';
import { SendScheduler } from '../../src/transport/send-scheduler.ts';

/**
 * A sender and a receiver that credits bulk bytes every min(32 KiB, window / 4), as links do:
 * whatever the window and the message sizes, every message gets through (no credit deadlock).
 */
function transfer(window: number, sizes: number[], delayControl: boolean): number {
  let now = 0;
  const threshold = Math.min(32 * 1024, window / 4);
  let uncredited = 0;
  let pending: Uint8Array[] = [];
  let delivered = 0;
  const decoder = new FrameDecoder(
    { maxFrameBytes: 64 * 1024, maxMessageBytes: 1 << 24, maxControlMessageBytes: 64 * 1024 },
    () => {
      delivered++;
    },
    (lane, bytes) => {
      if (lane === Lane.bulk) uncredited += bytes;
    },
  );
  const s = new SendScheduler(
    {
      writableLength: 0,
      write: (chunks) => {
        pending.push(...chunks);
        return true;
      },
    },
    {
      maxFrameBytes: 64 * 1024,
      maxMessageBytes: [64 * 1024, 1 << 24, 1 << 24],
      maxQueuedBytes: [1 << 20, 1 << 30, 1 << 30],
      maxSinkBufferedBytes: 1 << 30,
      minShare: [0, 0, 0.1],
      ...(delayControl
        ? {
            delayControl: {
              now: () => now,
              targetDelayMs: 20,
              minWindowBytes: Math.min(window, 64 * 1024),
            },
          }
        : {}),
    },
  );
  s.setWindow(Lane.bulk, window);
  for (const size of sizes) void s.enqueue(Lane.bulk, new Uint8Array(size));
  for (let round = 0; round < 100_000 && delivered < sizes.length; round++) {
    const chunks = pending;
    pending = [];
    if (chunks.length === 0 && uncredited < threshold) break; // stalled
    for (const c of chunks) decoder.push(Buffer.from(c));
    now += 30; // slow credits: the delay control shrinks the window to its floor
    if (uncredited >= threshold) {
      const credit = uncredited;
      uncredited = 0;
      s.credit(Lane.bulk, credit);
    }
  }
  return delivered;
}

describe('bulk flow control never stalls', () => {
  it('delivers any mix of message sizes through any window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4 * 1024, max: 2 * 1024 * 1024 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 200_000 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.boolean(),
        (window, sizes, delayControl) => {
          assert.equal(transfer(window, sizes, delayControl), sizes.length);
        },
      ),
      { numRuns: 300, seed: 424242 },
    );
  });
});
