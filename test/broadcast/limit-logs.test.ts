import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry as MetricsRegistry } from 'prom-client';
import { BroadcastMetrics } from '../../src/broadcast/driver-metrics.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { LimitLog } from '../../src/limit-log.ts';
import { capturedLogger, metricValue } from '../helpers/common.ts';

describe('limits reached, in the broadcast metrics', () => {
  it('counts every hit and logs each limit once per channel at info', async () => {
    const { logger, lines } = capturedLogger();
    const registry = new MetricsRegistry();
    const stats = () => {
      throw new Error('not scraped here');
    };
    const m = new BroadcastMetrics(registry, stats, {
      channels: ['consensus', 'ingress'],
      limits: new LimitLog(logger),
    });
    for (let i = 0; i < 500; i++) {
      m.count('pool_full', { channel: 'ingress' });
      m.count('relay_skipped', { channel: 'ingress' });
      m.count('evicted', { channel: 'consensus', peer: 'self' });
      m.count('adverts', { channel: 'ingress', outcome: 'accepted', peer: 'p1' });
      m.count('adverts', { channel: 'ingress', outcome: 'over_limit', peer: 'p1' });
      m.count('downloads', { channel: 'ingress', outcome: 'started' });
      m.deliveryDropped('consensus');
      m.sendQueueFull('p2' as NodeId, 'bulk');
    }
    m.count('pool_full', { channel: 'consensus' });
    assert.equal(await metricValue(registry, 'subnet_p2p_broadcast_pool_full_total'), 501);
    const reached = lines
      .filter((l) => l.msg === 'limit reached')
      .map((l) => `${l.level} ${l.limit} ${l.scope}`)
      .sort();
    assert.deepEqual(reached, [
      '30 channel_full consensus',
      '30 peer_slots ingress',
      '30 pool consensus',
      '30 pool ingress',
      '30 received_buffer consensus',
      '30 send_queue bulk',
      '30 slots ingress',
    ]);
    assert.equal(lines.length, reached.length);
    const peerSlots = lines.find((l) => l.limit === 'peer_slots');
    assert.equal(peerSlots?.peer, 'p1');
    assert.equal(lines.find((l) => l.limit === 'send_queue')?.peer, 'p2');
  });

  it('a timing of a channel lands in its histogram, in seconds', async () => {
    const registry = new MetricsRegistry();
    const m = new BroadcastMetrics(registry, () => ({}) as never, { channels: ['ingress'] });
    m.timing('download_duration', 'ingress', 1500);
    m.timing('download_duration', 'unknown', 1500); // no such channel: ignored
    const values = (
      await registry.getSingleMetric('subnet_p2p_broadcast_download_duration_seconds')!.get()
    ).values as { metricName?: string; value: number; labels: Record<string, unknown> }[];
    const sum = values.find((v) => v.metricName?.endsWith('_sum'));
    assert.equal(sum?.value, 1.5);
    assert.equal(values.filter((v) => v.metricName?.endsWith('_count')).length, 1);
  });
});
