import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Registry as MetricsRegistry } from 'prom-client';
import { BroadcastMetrics } from '../../src/broadcast/driver-metrics.ts';
import { metricValue } from '../helpers/common.ts';

it('counters counted through cached children: every label set keeps its own value', async () => {
  const registry = new MetricsRegistry();
  const m = new BroadcastMetrics(registry, () => ({}) as never, { channels: ['ingress'] });
  // More label sets than the cache holds (10 000): it is cleared, and counting goes on right.
  for (let round = 0; round < 2; round++) {
    for (let p = 0; p < 10_050; p++) {
      m.count('adverts', { channel: 'ingress', outcome: 'accepted', peer: `p${p}` });
    }
  }
  m.count('adverts', { channel: 'ingress', outcome: 'stale', peer: 'p1' }, 5);
  m.count('receipts', { channel: 'ingress', kind: 'sent' }, 11);
  m.count('receipts', { channel: 'ingress', kind: 'received' }, 7);
  const value = (name: string, labels: Record<string, string>) =>
    metricValue(registry, `subnet_p2p_broadcast_${name}_total`, labels);
  assert.equal(await value('adverts', { outcome: 'accepted', peer: 'p0' }), 2);
  assert.equal(await value('adverts', { outcome: 'accepted', peer: 'p10049' }), 2);
  assert.equal(await value('adverts', { outcome: 'stale', peer: 'p1' }), 5);
  assert.equal(await value('receipts', { kind: 'sent' }), 11);
  assert.equal(await value('receipts', { kind: 'received' }), 7);
});
