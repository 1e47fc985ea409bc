import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simCli as sim, withoutWall } from '../helpers/sim.ts';

describe('subnet-p2p sim', () => {
  it('the same seed gives the same JSON, wall time aside; another seed does not', async () => {
    const args = ['--scenario', 'churn', '--nodes', '9', '--load', '0.15', '--json'];
    const a = await sim([...args, '--seed', '7']);
    const b = await sim([...args, '--seed', '7']);
    const c = await sim([...args, '--seed', '8']);
    assert.equal(a.code, 0, a.err);
    const ra = withoutWall(a.out) as Record<string, unknown>;
    assert.deepEqual(ra, withoutWall(b.out));
    assert.notDeepEqual(ra, withoutWall(c.out));
    for (const key of [
      'nodes',
      'scenario',
      'seed',
      'complete',
      'deliveries',
      'expectedDeliveries',
      'amplification',
      'duplicateDownloads',
      'latencyMs',
      'virtualMs',
    ]) {
      assert.ok(key in ra, key);
    }
    const lat = ra.latencyMs as Record<string, Record<string, number>>;
    for (const ch of ['consensus', 'ingress']) {
      assert.deepEqual(Object.keys(lat[ch]!).sort(), ['count', 'max', 'p50', 'p99']);
    }
  });

  it('prints a table by default and refuses an unknown scenario', async () => {
    const ok = await sim(['--scenario', 'steady', '--nodes', '5', '--load', '0.05']);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /complete {6}yes/);
    assert.match(ok.out, /consensus/);
    const bad = await sim(['--scenario', 'nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown scenario/);
  });
});
