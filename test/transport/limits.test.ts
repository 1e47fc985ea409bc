import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { DEFAULT_LIMITS, resolveLimits } from '../../src/transport/index.ts';
import { bulkWindowFor } from '../../src/transport/limits.ts';

describe('transport limits', () => {
  it('has bounded defaults that validate', () => {
    assert.deepEqual(resolveLimits(), {
      ...DEFAULT_LIMITS,
      maxQueuedBytes: { ...DEFAULT_LIMITS.maxQueuedBytes },
    });
  });

  const bad: [string, Parameters<typeof resolveLimits>[0]][] = [
    ['limits.maxFrameBytes', { maxFrameBytes: 0 }],
    ['limits.maxFrameBytes', { maxFrameBytes: 2 ** 32 }],
    ['limits.maxMessageBytes', { maxMessageBytes: -1 }],
    ['limits.maxControlMessageBytes', { maxControlMessageBytes: 128 * 1024 }],
    ['limits.maxReceiveBufferBytes', { maxReceiveBufferBytes: 1024 }],
    ['limits.maxSocketBufferedBytes', { maxSocketBufferedBytes: 1.5 }],
    ['limits.maxQueuedBytes.bulk', { maxQueuedBytes: { control: 1, high: 1, bulk: 0 } }],
    ['limits.bulkMinShare', { bulkMinShare: 1 }],
    ['limits.bulkWindowBytes', { bulkWindowBytes: 0 }],
    ['limits.bulkReceiveBudgetBytes', { bulkReceiveBudgetBytes: 0 }],
    ['limits.minBulkWindowBytes', { minBulkWindowBytes: 4 * 1024 * 1024 }],
    ['limits.bulkTargetDelayMs', { bulkTargetDelayMs: 0 }],
    ['limits.bulkYieldLoopShare', { bulkYieldLoopShare: 1.5 }],
    ['limits.bulkYieldHighLaneMs', { bulkYieldHighLaneMs: -1 }],
    ['limits.maxCreditHoldMs', { maxCreditHoldMs: 0 }],
    ['limits.minBulkIntakeBytesPerSec', { minBulkIntakeBytesPerSec: 0 }],
    ['limits.maxPendingRequests', { maxPendingRequests: 0 }],
    ['limits.maxInboundRequests', { maxInboundRequests: Number.NaN }],
  ];
  for (const [field, partial] of bad) {
    it(`names ${field} when it is invalid`, () => {
      assert.throws(
        () => resolveLimits(partial),
        (err: unknown) => err instanceof ConfigError && err.field === field,
      );
    });
  }

  it('shares the bulk receive budget among neighbours, within the window bounds', () => {
    const l = resolveLimits();
    assert.equal(bulkWindowFor(l, 1), 2 * 1024 * 1024);
    assert.equal(bulkWindowFor(l, 4), 2 * 1024 * 1024);
    assert.equal(bulkWindowFor(l, 12), Math.floor((8 * 1024 * 1024) / 12));
    assert.equal(bulkWindowFor(l, 100), Math.floor((8 * 1024 * 1024) / 100));
    assert.equal(bulkWindowFor(l, 1000), 64 * 1024);
  });
});
