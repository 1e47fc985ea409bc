import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runScenario, type SimResult } from '../../src/sim/index.ts';

/** Small, fast versions of every scenario: each must deliver everything it has to. */
function assertComplete(r: SimResult): void {
  assert.ok(r.complete, `${r.scenario} seed ${r.seed}: ${r.deliveries}/${r.expectedDeliveries}`);
  assert.equal(r.deliveries, r.expectedDeliveries);
  assert.ok(r.expectedDeliveries > 0);
}

const MBIT_100 = { uploadBytesPerSec: 12_500_000, downloadBytesPerSec: 12_500_000 };

describe('scenarios (small versions)', () => {
  it('steady: small consensus artifacts arrive in 0.5 RTT, blocks in about 1.5 RTT', () => {
    const { result: r } = runScenario({ scenario: 'steady', seed: 1, load: 0.2 });
    assertComplete(r);
    assert.equal(r.topology.kind, 'full-mesh');
    assert.equal(r.duplicateDownloads, 0);
    const small = r.details.smallConsensusRtts as { p50: number; p99: number };
    const blocks = r.details.blockRtts as { p50: number; p99: number };
    assert.ok(small.p99 <= 0.55, JSON.stringify(small));
    assert.ok(blocks.p50 >= 1.45 && blocks.p50 <= 1.7, JSON.stringify(blocks));
    assert.ok(r.amplification >= 1 && r.amplification < 1.2, `amplification ${r.amplification}`);
  });

  it('partition: nothing crosses while cut; everything arrives after the heal', () => {
    const { result: r } = runScenario({ scenario: 'partition', seed: 2, load: 0.2 });
    assertComplete(r);
    assert.equal(r.details.deliveriesAcrossBeforeHeal, 0);
    assert.ok(r.virtualMs > (r.details.healAtMs as number));
  });

  it('churn: crashed nodes restart empty and catch up', () => {
    const { result: r } = runScenario({ scenario: 'churn', seed: 3, load: 0.2 });
    assertComplete(r);
    assert.ok((r.details.crashes as number) >= 2);
    assert.equal(r.details.crashes, r.details.restarts);
  });

  it('byzantine: honest nodes get every honest artifact despite wrong bytes, floods and silence', () => {
    const { result: r } = runScenario({ scenario: 'byzantine', seed: 4, load: 0.2 });
    assertComplete(r);
    assert.equal(r.details.faulty, 4);
    assert.ok((r.details.floodAdvertsSent as number) > 0);
  });

  it('priority: consensus keeps flowing while bulk saturates the links', () => {
    const { result: r, deliveries } = runScenario({
      scenario: 'priority',
      seed: 5,
      load: 0.3,
      bandwidth: MBIT_100,
    });
    assertComplete(r);
    const d = r.details as Record<string, { p99: number; p50: number } | number>;
    assert.ok((d.bulkShareOfUploadDuringPhase2 as number) > 0.5, 'bulk saturates');
    // Consensus under bulk: far faster than the bulk it shares the links with.
    const under = d.consensusUnderBulk as { p99: number };
    assert.ok(under.p99 < r.latencyMs.ingress!.p50, `${under.p99} vs ${r.latencyMs.ingress!.p50}`);
    // The last consensus artifact arrived long before the bulk was done.
    const last = (ch: string) =>
      Math.max(...deliveries.filter((x) => x.artifact.channel === ch).map((x) => x.at));
    assert.ok(last('consensus') < last('ingress'));
  });

  it('scale: a ring of 100 nodes (degree 12) relays everything to everyone', () => {
    const { result: r } = runScenario({ scenario: 'scale', seed: 6, nodes: 100, load: 0.1 });
    assertComplete(r);
    assert.equal(r.topology.kind, 'ring');
    assert.equal(r.topology.degree, 12);
    assert.ok(r.amplification < 1.3, `amplification ${r.amplification}`);
  });
});
