import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CreditHolder, LoadGovernor } from '../../src/transport/load-governor.ts';

const KiB = 1024;
const CREDIT = 32 * KiB;

/**
 * A governor on a fake clock: 5 ms ticks, rate-limited from 10 ms of lag, credits held 1 s at
 * most, a 64 KiB/s floor.
 */
function governor() {
  let now = 0;
  const g = new LoadGovernor({
    intervalMs: 5,
    yieldLagMs: 10,
    maxHoldMs: 1000,
    minRateBytesPerSec: 64 * KiB,
    now: () => now,
  });
  /** Advances the clock by `ms` and lets the timer tick then. */
  const tick = (ms: number) => {
    now += ms;
    g.sample(now);
  };
  return { g, tick };
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

/** Credits flow freely for a while: `perTick` credits every 5 ms tick, for 1 s. */
function flow(g: LoadGovernor, tick: (ms: number) => void, perTick: number): void {
  const h = holder();
  for (let t = 0; t < 200; t++) {
    for (let i = 0; i < perTick; i++) assert.equal(g.hold(h), false);
    tick(5);
  }
}

describe('load governor (bulk intake yields to an overloaded event loop)', () => {
  it('lets credits go at once while the loop keeps time', () => {
    const { g, tick } = governor();
    tick(5);
    tick(6);
    assert.equal(g.lagMs, 1);
    assert.equal(g.congested, false);
    assert.equal(g.hold(holder()), false);
    assert.equal(g.heldTotal, 0);
  });

  it('on lag, limits intake to half the rate that was flowing, then less while the lag lasts', () => {
    const { g, tick } = governor();
    flow(g, tick, 2); // 2 x 32 KiB per 5 ms = 12.8 MiB/s
    tick(40); // the timer fired 35 ms late
    assert.equal(g.congested, true);
    const first = g.rateBytesPerSec;
    // About half of 12.8 MiB/s (the average also counts the late tick's 40 ms without credit).
    assert.ok(first > 4 * 1024 * KiB && first < 6.4 * 1024 * KiB, `rate ${first}`);
    for (let i = 0; i < 15; i++) tick(20); // still lagging (15 ms late), 300 ms
    assert.ok(g.rateBytesPerSec < first * 0.5, `rate ${g.rateBytesPerSec}`);
    for (let i = 0; i < 200; i++) tick(20);
    assert.equal(g.rateBytesPerSec, 64 * KiB, 'down to the floor, never below');
  });

  it('while congested, releases held credits oldest first at the rate limit', () => {
    const { g, tick } = governor();
    tick(40); // congested from the start: nothing flowed, so the floor (64 KiB/s)
    assert.equal(g.rateBytesPerSec, 64 * KiB);
    const links = Array.from({ length: 4 }, () => holder());
    for (const l of links) assert.equal(g.hold(l), true);
    assert.equal(g.hold(links[0]!), true, 'a holder already waiting keeps waiting');
    assert.equal(g.holding, 4);
    // 64 KiB/s = one 32 KiB credit per 500 ms; the loop keeps lagging (ticks 15 ms late).
    for (let i = 0; i < 25; i++) tick(20); // 500 ms
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 0, 0, 0],
    );
    for (let i = 0; i < 24; i++) tick(20); // 980 ms: the second credit, none overdue yet
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 1, 0, 0],
    );
  });

  it('never holds a credit longer than maxHoldMs, however low the rate', () => {
    const { g, tick } = governor();
    tick(40);
    const links = Array.from({ length: 4 }, () => holder());
    for (const l of links) g.hold(l);
    for (let i = 0; i < 51; i++) tick(20); // 1020 ms
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 1, 1, 1],
    );
    assert.ok(g.forcedTotal >= 2);
  });

  it('once the loop keeps time again, raises the rate step by step, then lifts the limit', () => {
    const { g, tick } = governor();
    tick(40); // congested, at the floor
    const links = Array.from({ length: 3 }, () => holder());
    for (const l of links) g.hold(l);
    tick(5);
    assert.equal(g.congested, true, 'not lifted at the first punctual tick');
    assert.deepEqual(
      links.map((l) => l.released),
      [0, 0, 0],
    );
    const floor = g.rateBytesPerSec;
    for (let i = 0; i < 100; i++) tick(5); // 500 ms on time
    assert.ok(g.rateBytesPerSec > floor * 1.3, `rate ${g.rateBytesPerSec}`);
    for (let i = 0; i < 600; i++) tick(5); // 3 s more
    assert.deepEqual(
      links.map((l) => l.released),
      [1, 1, 1],
    );
    assert.equal(g.congested, false);
    assert.equal(g.hold(links[0]!), false);
  });

  it('forgets the holders of closed links, and releases the rest when stopped', () => {
    const { g, tick } = governor();
    tick(50);
    const a = holder();
    const b = holder();
    g.hold(a);
    g.hold(b);
    g.forget(a);
    g.stop();
    assert.deepEqual([a.released, b.released], [0, 1]);
  });
});
