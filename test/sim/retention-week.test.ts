import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runScenario, type SimResult } from '../../src/sim/index.ts';

type Maxima = Record<string, { max: number; bound?: number }>;

/** Retention under load and a flood: what the small version of the week must show. */
function details(r: SimResult) {
  return r.details as {
    bounded: boolean;
    violations: string[];
    maxima: Maxima;
    honestDelivery: { fraction: number; afterExpiry: number; maxLatencyMs: number };
    flooderEvictions: number;
    honestEvictions: number;
    removedAtHonest: { expired: number; evicted: number };
    junkArtifacts: number;
    honestArtifacts: number;
    samples: number;
  };
}

// 50 minutes of the week (load 1 / 200): one flood episode, from 10 min to 40 min (by count
// first, then by bytes: 17 artifacts of 4 MiB), sampled every minute.
const SMALL = {
  scenario: 'retention',
  seed: 7,
  load: 1 / 200,
  retention: { floodFirstMs: 10 * 60_000 },
} as const;

describe('retention: a week of load and a flood, small version', () => {
  it('stays under every bound at every sample, delivers every honest artifact while live', () => {
    const { result: r, samples } = runScenario(SMALL);
    const d = details(r);
    assert.deepEqual(d.violations, []);
    assert.ok(d.bounded);
    assert.equal(d.samples, 50);
    assert.equal(samples?.length, 50);
    assert.ok(r.complete, `${r.deliveries}/${r.expectedDeliveries}`);
    assert.equal(d.honestDelivery.fraction, 1);
    assert.equal(d.honestDelivery.afterExpiry, 0);
    for (const [k, m] of Object.entries(d.maxima)) {
      if (m.bound !== undefined) assert.ok(m.max <= m.bound, `${k}: ${m.max} > ${m.bound}`);
    }
    // The flood reached the flooder's share, in artifacts and in bytes, and no more.
    assert.equal(d.maxima.flooderArtifacts!.max, d.maxima.flooderArtifacts!.bound);
    assert.equal(d.maxima.flooderBytes!.max, d.maxima.flooderBytes!.bound);
    // It paid for it: its junk was evicted (counted against it), honest artifacts never were,
    // and they left by expiry.
    assert.ok(d.flooderEvictions > 1000, `${d.flooderEvictions}`);
    assert.equal(d.honestEvictions, 0);
    assert.ok(d.removedAtHonest.expired > 0);
    // Honest artifacts held stay near what 10 minutes of load makes (4 origins, one per ~30 s):
    // without expiry they would pile up to everything sent.
    assert.ok(d.maxima.honestArtifacts!.max <= 120, `${d.maxima.honestArtifacts!.max}`);
    assert.ok(d.honestArtifacts > 300);
  });

  it('the checks notice a channel whose artifacts do not expire', () => {
    // Control: the same run with maxAgeMs of a week and 300 slots (the share: 75). With no
    // expiry, the honest artifacts fill the slots and the channel only stays bounded by
    // evicting them, which the test above forbids.
    const { result: r } = runScenario({
      ...SMALL,
      channel: { maxAgeMs: 7 * 24 * 3600_000, maxSlots: 300 },
      retention: { ...SMALL.retention, byteFlood: false },
    });
    const d = details(r);
    assert.ok(d.bounded, 'eviction still bounds what is held');
    assert.ok(d.honestEvictions > 0, 'honest artifacts were evicted');
    assert.ok(d.maxima.honestArtifacts!.max > 120, `${d.maxima.honestArtifacts!.max}`);
    assert.equal(d.removedAtHonest.expired, 0);
  });
});
