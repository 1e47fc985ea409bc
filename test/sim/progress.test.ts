// Progress of a long simulation: the network calls onProgress every PROGRESS_EVENTS events (the
// run is synchronous, so a timer could not), and `sim` prints a line at once on a stderr that
// is not a terminal, then every few seconds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROGRESS_EVENTS, SimNetwork } from '../../src/sim/index.ts';
import { simCli as sim, withoutWall } from '../helpers/sim.ts';

describe('simulation progress', () => {
  it('the network reports every PROGRESS_EVENTS events it runs', () => {
    const net = new SimNetwork({ seed: 1, channels: {} });
    const seen: [number, number][] = [];
    net.onProgress = () => seen.push([net.queue.processed, net.now]);
    for (let i = 0; i < 2 * PROGRESS_EVENTS + 10; i++) net.at(i / 100, () => undefined);
    net.run();
    assert.deepEqual(seen, [
      [PROGRESS_EVENTS, (PROGRESS_EVENTS - 1) / 100],
      [2 * PROGRESS_EVENTS, (2 * PROGRESS_EVENTS - 1) / 100],
    ]);
  });

  it('sim prints a progress line on stderr, and the same result as before', async () => {
    const args = ['--scenario', 'steady', '--nodes', '5', '--load', '0.05', '--json'];
    const a = await sim(args);
    assert.equal(a.code, 0, a.err);
    // Not a terminal (captured): a line at once; more only if the run took seconds.
    const lines = a.err.trimEnd().split('\n');
    assert.match(lines[0]!, /^sim: steady, starting, \d+\.\d s$/);
    for (const line of lines) assert.match(line, /^sim: steady, .+, \d+\.\d s$/);
    const b = await sim(args);
    assert.deepEqual(withoutWall(a.out), withoutWall(b.out));
  });
});
