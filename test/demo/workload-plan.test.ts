// The demo's workload plan: which node broadcasts which artifact, on which channel, when.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BULK_WARMUP_MS,
  decodeHeader,
  encodeArtifact,
  planWorkload,
  QUIET_GAP_MS,
} from '../../src/demo/workload.ts';

test('the default mix: every node broadcasts its share, one in four consensus', () => {
  const plan = planWorkload(13, { artifacts: 312 });
  assert.equal(plan.artifacts.length, 312);
  for (const mine of plan.byOrigin) {
    assert.equal(mine.length, 24);
    assert.equal(mine.filter((a) => a.channel === 'consensus').length, 6);
  }
  const { consensus, ingress } = plan.channels;
  assert.equal(consensus.artifacts, 78);
  assert.equal(ingress.artifacts, 234);
  assert.ok(consensus.minSize! >= 200 && consensus.maxSize! <= 1000);
  assert.ok(ingress.minSize! >= 16 * 1024 && ingress.maxSize! <= 1024 * 1024);
  // Spread over the range, not bunched: both ends within 5% of the bounds.
  assert.ok(ingress.minSize! < 16 * 1024 + 52_000 && ingress.maxSize! > 1024 * 1024 - 52_000);
  assert.ok(plan.artifacts.every((a) => a.urgent === (a.channel === 'consensus') && !a.paced));
  assert.deepEqual(planWorkload(13, { artifacts: 312 }), plan, 'deterministic');
});

test('a fixed size picks the channel by the push threshold', () => {
  assert.ok(planWorkload(4, { artifacts: 8, size: 1024 }).artifacts.every((a) => a.urgent));
  const big = planWorkload(4, { artifacts: 8, size: 1025 });
  assert.ok(big.artifacts.every((a) => a.channel === 'ingress' && !a.urgent));
  assert.equal(big.payloadBytes, 8 * 1025);
});

test('a background-bulk run: consensus alone, then bulk, then consensus under it', () => {
  const plan = planWorkload(4, {
    artifacts: 16,
    size: 500,
    consensusIntervalMs: 10,
    backgroundBulkBytes: 2.5 * 1024 * 1024,
  });
  assert.equal(plan.workloadArtifacts, 16);
  assert.equal(plan.backgroundArtifacts, 4 * 3);
  assert.equal(plan.bulkStartMs, 2 * 10 + QUIET_GAP_MS);
  for (const mine of plan.byOrigin) {
    const alone = mine.filter((a) => a.phase === 'alone');
    const loaded = mine.filter((a) => a.phase === 'loaded');
    const bulk = mine.filter((a) => a.phase === 'background');
    assert.equal(alone.length, 2);
    assert.equal(loaded.length, 2);
    assert.deepEqual(
      bulk.map((a) => a.size),
      [1024 * 1024, 1024 * 1024, 512 * 1024],
    );
    assert.ok(alone.every((a) => a.paced && a.at < plan.bulkStartMs!));
    assert.ok(loaded.every((a) => a.paced && a.at >= plan.bulkStartMs! + BULK_WARMUP_MS));
    assert.ok(bulk.every((a) => !a.paced && a.at === plan.bulkStartMs));
    assert.deepEqual(
      mine.map((a) => a.seq),
      mine.map((_, i) => i),
    );
  }
});

test('an artifact carries its send time, origin and sequence', () => {
  const plan = planWorkload(3, { artifacts: 9 });
  const a = plan.byOrigin[2]![1]!;
  const bytes = encodeArtifact(a, 1234.5);
  assert.equal(bytes.length, a.size);
  assert.deepEqual(decodeHeader(bytes), { sentAt: 1234.5, origin: 2, seq: 1 });
  assert.equal(decodeHeader(bytes.subarray(0, 15)), undefined);
});
