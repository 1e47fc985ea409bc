/**
 * One machine-speed factor for every deadline of the tests. Tests wait on events; a deadline
 * only turns a hang into a failure that says what hung, so it must hold on the slowest machine
 * the suite runs on. Each is written as what an idle 2-core machine needs with room to spare,
 * times {@link SLOWDOWN}: the suite timeouts, the helpers' waits (`until`, `runCli`, counters),
 * the runner's per-file timeout (scripts/run-tests.mjs reads this module), and the few short
 * transport timers that a test expects never to fire (an idle timeout a stalled event loop
 * would trip).
 *
 * `SUBNET_P2P_TEST_SLOWDOWN` sets it (a number >= 1). The default, 3, passes on 2 cores that
 * are busy with other work (two to six busy loops beside `npm test`, load average up to 15):
 * there the slowest suites took 1.3-3 times as long as on an idle machine. Raise it on a slower
 * or busier machine. A larger factor makes a hanging test fail later, and the few tests that
 * wait for a scaled link timeout to fire (a black hole, a silent peer) take a little longer.
 */

const DEFAULT_SLOWDOWN = 3;

function parseSlowdown(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_SLOWDOWN;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 1) {
    throw new RangeError(`SUBNET_P2P_TEST_SLOWDOWN must be a number >= 1, not ${raw}`);
  }
  return value;
}

/** How many times slower than an idle 2-core machine this run may be. */
export const SLOWDOWN: number = parseSlowdown(process.env.SUBNET_P2P_TEST_SLOWDOWN);

/** `ms` (what an idle 2-core machine needs, with room to spare) on this machine. */
export function slow(ms: number): number {
  return Math.round(ms * SLOWDOWN);
}
