import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../src/util/backoff.ts';

describe('backoffDelay', () => {
  it('doubles from the base and stops at the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, { baseMs: 250, maxMs: 5000 }));
    assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 5000, 5000]);
  });

  it('stays finite and capped for any attempt count', () => {
    assert.equal(backoffDelay(10_000, { baseMs: 1, maxMs: 7000 }), 7000);
    assert.equal(backoffDelay(10_000, { baseMs: 1, maxMs: Number.POSITIVE_INFINITY }), 2 ** 30);
  });

  it('multiplies by (1 - jitter * random()), calling random once', () => {
    let calls = 0;
    const random = (): number => {
      calls++;
      return 0.5;
    };
    assert.equal(backoffDelay(2, { baseMs: 100, maxMs: 5000, jitter: 0.5, random }), 300);
    assert.equal(calls, 1);
    // random() in [0, 1): the delay lies in (capped * (1 - jitter), capped].
    assert.equal(backoffDelay(9, { baseMs: 100, maxMs: 5000, jitter: 0.5, random: () => 0 }), 5000);
  });

  it('does not call random without jitter', () => {
    const random = (): number => assert.fail('random called');
    assert.equal(backoffDelay(1, { baseMs: 100, maxMs: 5000, random }), 200);
  });
});
