import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CreditHolder, LoadGovernor } from '../../src/transport/load-governor.ts';

const KiB = 1024;
const CREDIT = 32 * KiB;

/**
 * A governor on a fake clock: 5 ms ticks, a 200 ms window, rate-limited once the loop runs late
 * half the time; credits held 1 s at most; a 64 KiB/s floor. `highLaneMs` 0 (the default here):
 * it yields whether or not high-lane traffic flows.
 */
function governor(highLaneMs = 0) {
  let now = 0;
  const g = new LoadGovernor({
    intervalMs: 5,
    windowMs: 200,
    yieldShare: 0.5,
    highLaneMs,
    maxHoldMs: 1000,
    minRateBytesPerSec: 64 * KiB,
    now: () => now,
  });
  /** The timer fires `ms` after the previous tick. */
  const tick = (ms: number) => {
    now += ms;
    g.sample(now);
  };
  /** `ms` of an overloaded loop: every tick 15 ms late (75% of the time late). */
  const overloaded = (ms: number) => {
    for (let t = 0; t < ms; t += 20) tick(20);
  };
  /** `ms` of a loop that keeps time. */
  const punctual = (ms: number) => {
    for (let t = 0; t < ms; t += 5) tick(5);
  };
  return { g, tick, overloaded, punctual };
}

/** A link owing `CREDIT` bytes each time it asks; counts its releases. */
function holder(): CreditHolder & { released: number } {
  return {
    released: 0,
    owedCredit: () => CREDIT,
    releaseCredit() {
      this.released += 1;
    },
  };
}

describe('load governor (bulk intake yields to an overloaded event loop)', () => {
  it('lets credits go at once while the loop keeps time, and ignores one long task', () => {
    const { g, tick, punctual } = governor();
    punctual(300);
    tick(60); // one 55 ms task (a GC, say): 27% of the window
    assert.equal(g.lagMs, 55);
    assert.equal(g.congested, false);
    assert.equal(g.hold(holder()), false);
    assert.equal(g.heldTotal, 0);
  });

  it('on overload, limits intake to about half of what flowed, then less while it lasts', () => {
    const { g, punctual, overloaded } = governor();
    const h = holder();
    // 2 credits per 5 ms tick = 12.8 MiB/s, for 1 s.
    for (let t = 0; t < 200; t++) {
      g.hold(h);
      g.hold(h);
      punctual(5);
    }
    overloaded(160); // the late share crosses 50%
    assert.equal(g.congested, true);
    const first = g.rateBytesPerSec;
    // The average of what flowed decays while nothing is credited, before the share crosses.
    assert.ok(first > 2 * 1024 * KiB && first < 6.4 * 1024 * KiB, `rate ${first}`);
    overloaded(300);
    assert.ok(g.rateBytesPerSec < first * 0.5, `rate ${g.rateBytesPerSec}`);
    overloaded(10_000);
    assert.equal(g.rateBytesPerSec, 64 * KiB, 'down to the floor, never below');
  });

  it('while overloaded, releases held credits oldest first at the rate limit', () => {
    const { g, overloaded } = governor();
    overloaded(200); // nothing flowed before: the floor, 64 KiB/s
    assert.equal(g.congested, true);
    assert.equal(g.rateBytesPerSec, 64 * KiB);
    const links = Array.from({ length: 4 }, () => holder());
    for (const l of links) assert.equal(g.hold(l), true);
    assert.equal(g.hold(links[0]!), true, 'a holder already waiting keeps waiting');
    assert.equal(g.holding, 4);
    // 64 KiB/s = one 32 KiB credit per 500 ms.
    overloaded(520);
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 0, 0, 0],
    );
    overloaded(460); // 980 ms: the second credit, none overdue yet
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 1, 0, 0],
    );
  });

  it('never holds a credit longer than maxHoldMs, however low the rate', () => {
    const { g, overloaded } = governor();
    overloaded(200);
    const links = Array.from({ length: 4 }, () => holder());
    for (const l of links) g.hold(l);
    overloaded(1020);
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 1, 1, 1],
    );
    assert.ok(g.forcedTotal >= 2);
  });

  it('once the loop keeps time, raises the rate by half every 100 ms, then lifts the limit', () => {
    const { g, overloaded, punctual } = governor();
    overloaded(200);
    const links = Array.from({ length: 3 }, () => holder());
    for (const l of links) g.hold(l);
    punctual(5);
    assert.equal(g.congested, true, 'the window still remembers the overload');
    const floor = g.rateBytesPerSec;
    punctual(400);
    assert.ok(g.rateBytesPerSec > floor * 1.4, `rate ${g.rateBytesPerSec}`);
    punctual(2000);
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 1, 1],
    );
    assert.equal(g.congested, false);
    assert.equal(g.hold(links[0]!), false);
  });

  it('forgets the holders of closed links, and releases the rest when stopped', () => {
    const { g, overloaded } = governor();
    overloaded(200);
    const a = holder();
    const b = holder();
    g.hold(a);
    g.hold(b);
    g.forget(a);
    g.stop();
    assert.deepEqual([a.released, b.released], [0, 1]);
  });

  it('with highLaneMs, yields only while high-lane traffic flowed within it', () => {
    const { g, overloaded } = governor(2000);
    const links = Array.from({ length: 3 }, () => holder());
    overloaded(1000);
    assert.equal(g.guarding, false);
    assert.equal(g.congested, false, 'no crucial traffic: nothing to yield to');
    assert.equal(g.hold(links[0]!), false);
    g.highLaneFrame();
    overloaded(20);
    assert.equal(g.guarding, true);
    assert.equal(g.congested, true, 'a high-lane frame: bulk yields again');
    for (const l of links) assert.equal(g.hold(l), true);
    overloaded(1960); // 1.98 s after the last high-lane frame: still yielding
    assert.equal(g.congested, true);
    overloaded(60); // over 2 s: the limit goes, and every held credit with it
    assert.equal(g.guarding, false);
    assert.equal(g.congested, false);
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 1, 1],
    );
  });
});
