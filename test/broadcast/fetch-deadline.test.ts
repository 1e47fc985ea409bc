import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fetchDeadlineMs } from '../../src/broadcast/fetch-deadline.ts';

describe('fetchDeadlineMs', () => {
  const limits = { downloadTimeoutMs: 5000, minThroughputBytesPerSec: 1_000_000 };

  it('is the base plus the bytes at the slowest acceptable throughput', () => {
    assert.equal(fetchDeadlineMs(0, limits), 5000);
    assert.equal(fetchDeadlineMs(2_000_000, limits), 7000);
    assert.equal(fetchDeadlineMs(4 * 1024 * 1024, limits), 9195);
  });

  it('rounds a fraction of a millisecond up', () => {
    assert.equal(fetchDeadlineMs(1, limits), 5001);
    assert.equal(fetchDeadlineMs(1, { downloadTimeoutMs: 0.5, minThroughputBytesPerSec: 1e9 }), 1);
  });
});
