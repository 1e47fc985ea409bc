import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CreditHolder, LoadGovernor } from '../../src/transport/load-governor.ts';

/** A governor on a fake clock: 5 ms ticks, credits held from 10 ms of lag, for 100 ms at most. */
function governor() {
  let now = 0;
  const g = new LoadGovernor({ intervalMs: 5, yieldLagMs: 10, maxHoldMs: 100, now: () => now });
  /** Advances the clock by `ms` and lets the timer tick then. */
  const tick = (ms: number) => {
    now += ms;
    g.sample(now);
  };
  return { g, tick };
}

function holder(): CreditHolder & { released: number } {
  return {
    released: 0,
    releaseCredit() {
      this.released += 1;
    },
  };
}

describe('load governor (bulk credits yield to an overloaded event loop)', () => {
  it('lets credits go at once while the loop keeps time', () => {
    const { g, tick } = governor();
    tick(5);
    tick(6);
    assert.equal(g.lagMs, 1);
    assert.equal(g.congested, false);
    assert.equal(g.hold(holder()), false);
    assert.equal(g.heldTotal, 0);
  });

  it('holds credits while the loop lags, and releases them all once it keeps time again', () => {
    const { g, tick } = governor();
    const a = holder();
    const b = holder();
    tick(40); // the timer fired 35 ms late
    assert.equal(g.lagMs, 35);
    assert.equal(g.hold(a), true);
    assert.equal(g.hold(b), true);
    assert.equal(g.hold(a), true, 'a holder already waiting keeps waiting');
    assert.equal(g.holding, 2);
    tick(20); // still late
    assert.deepEqual([a.released, b.released], [0, 0]);
    tick(5); // on time
    assert.deepEqual([a.released, b.released], [1, 1]);
    assert.equal(g.holding, 0);
    assert.equal(g.heldTotal, 2);
    assert.equal(g.hold(a), false);
  });

  it('never holds a credit longer than maxHoldMs, oldest first, however long the lag lasts', () => {
    const { g, tick } = governor();
    const a = holder();
    const b = holder();
    tick(50);
    g.hold(a);
    tick(60);
    g.hold(b);
    tick(45); // a has waited 105 ms, b 45 ms
    assert.deepEqual([a.released, b.released], [1, 0]);
    tick(60); // b has waited 105 ms
    assert.deepEqual([a.released, b.released], [1, 1]);
    assert.equal(g.forcedTotal, 2);
  });

  it('forgets the holders of closed links, and releases the rest when stopped', () => {
    const { g, tick } = governor();
    const a = holder();
    const b = holder();
    tick(50);
    g.hold(a);
    g.hold(b);
    g.forget(a);
    g.stop();
    assert.deepEqual([a.released, b.released], [0, 1]);
  });
});
