// The progress lines of long commands when stderr is not a terminal (src/util/progress.ts): a
// line at once, one per tick, one at a poll that is due, none after stop, none on a terminal.
// The clock and the timer are fakes, so nothing here depends on wall-clock time.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { periodicProgress, type RepeatEvery } from '../../src/util/progress.ts';
import { slow } from '../helpers/slowdown.ts';

/** A fake clock and timer: `tick()` fires the timer, `at` is the time the clock reads. */
function fakes() {
  const state = {
    at: 1000,
    ticks: [] as (() => void)[],
    intervals: [] as number[],
    cancelled: 0,
  };
  const every: RepeatEvery = (ms, tick) => {
    state.intervals.push(ms);
    state.ticks.push(tick);
    return () => {
      state.cancelled++;
    };
  };
  return {
    state,
    every,
    now: () => state.at,
    tick: () => {
      for (const t of state.ticks) t();
    },
  };
}

describe('periodic progress', () => {
  it('prints a line at once and at every tick, with the time elapsed, and nothing after stop', () => {
    const f = fakes();
    const out: string[] = [];
    let done = 0;
    const progress = periodicProgress({
      tty: false,
      write: (t) => out.push(t),
      describe: () => `demo: ${done}/1300 delivered`,
      now: f.now,
      every: f.every,
    });
    assert.deepEqual(out, ['demo: 0/1300 delivered, 0.0 s\n']);
    assert.deepEqual(f.state.intervals, [5000], 'every 5 s by default');
    f.state.at += 5000;
    done = 812;
    f.tick();
    f.state.at += 9200;
    done = 1300;
    f.tick();
    assert.deepEqual(out.slice(1), [
      'demo: 812/1300 delivered, 5.0 s\n',
      'demo: 1300/1300 delivered, 14.2 s\n',
    ]);
    progress.stop();
    assert.equal(f.state.cancelled, 1, 'the timer is cancelled');
    f.state.at += 5000;
    f.tick(); // a tick already queued when it stopped
    progress.poll();
    progress.stop();
    assert.equal(out.length, 3, 'nothing after stop');
    assert.equal(f.state.cancelled, 1, 'stop is idempotent');
  });

  it('prints at a poll only once a line is due (for synchronous work)', () => {
    const f = fakes();
    const out: string[] = [];
    const progress = periodicProgress({
      tty: false,
      write: (t) => out.push(t),
      describe: () => 'sim: steady',
      intervalMs: 2000,
      now: f.now,
      every: f.every,
    });
    f.state.at += 1999;
    progress.poll();
    assert.equal(out.length, 1, 'not due yet');
    f.state.at += 1;
    progress.poll();
    progress.poll();
    assert.deepEqual(out, ['sim: steady, 0.0 s\n', 'sim: steady, 2.0 s\n']);
    f.state.at += 1000;
    f.tick(); // a tick prints whatever the last poll
    f.state.at += 1000;
    progress.poll();
    assert.equal(out.length, 3, 'the tick counts as the last line');
    progress.stop();
  });

  it('prints nothing and starts no timer on a terminal', () => {
    const f = fakes();
    const out: string[] = [];
    const progress = periodicProgress({
      tty: true,
      write: (t) => out.push(t),
      describe: () => 'demo',
      now: f.now,
      every: f.every,
    });
    f.state.at += 60_000;
    progress.poll();
    progress.stop();
    assert.deepEqual(out, []);
    assert.deepEqual(f.state.intervals, []);
  });

  it('does not keep the process alive (its timer is unref’d)', () => {
    // A process that starts one and never stops it must still exit by itself.
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        "const { periodicProgress } = await import('./src/util/progress.ts');" +
          "periodicProgress({ tty: false, describe: () => 'left running' });",
      ],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        encoding: 'utf8',
        timeout: slow(60_000),
      },
    );
    assert.equal(child.signal, null, 'exited by itself, not killed at the timeout');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stderr, 'left running, 0.0 s\n');
  });
});
