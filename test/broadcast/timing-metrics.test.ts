import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Registry as MetricsRegistry, MetricValueWithName } from 'prom-client';
import {
  NodeGroup,
  randomBytes,
  readUntil,
  startNodes,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';

const MIB = 1024 * 1024;

/** `_count` and `_sum` of histogram `name` for `channel`. */
async function histogram(
  metrics: MetricsRegistry,
  name: string,
  channel: string,
): Promise<{ count: number; sum: number }> {
  const metric = metrics.getSingleMetric(name);
  assert.ok(metric, `no metric ${name}`);
  const values = (await metric.get()).values as MetricValueWithName<string>[];
  const pick = (suffix: string) =>
    values.find((v) => v.metricName === `${name}${suffix}` && v.labels.channel === channel)
      ?.value ?? Number.NaN;
  return { count: pick('_count'), sum: pick('_sum') };
}

describe('timing histograms of the broadcast layer', () => {
  const group = new NodeGroup();
  after(() => group.stop());

  it('delivery latency counts the age the advert carried; downloads and validations are timed', async () => {
    const { nodes } = await startNodes(group, 2);
    const [origin, receiver] = nodes as [TestBroadcastNode, TestBroadcastNode];
    const consensus = receiver.node.channel('consensus').received();
    const ingress = receiver.node.channel('ingress').received();
    // Every series exists from the start, at 0, for every channel.
    for (const name of ['delivery_latency', 'download_duration', 'validation_duration']) {
      for (const channel of ['consensus', 'ingress']) {
        const h = await histogram(
          receiver.node.metrics,
          `subnet_p2p_broadcast_${name}_seconds`,
          channel,
        );
        assert.deepEqual(h, { count: 0, sum: 0 }, `${name} ${channel}`);
      }
    }

    // Pushed inline (small), advertised and fetched (64 KiB), chunked (1.5 MiB): each already
    // old when broadcast, as after a restart. The receiver takes the origin's time as receipt
    // time minus that age, so each latency is at least the age.
    origin.node.channel('consensus').broadcast(randomBytes(200), { ageMs: 3000 });
    origin.node.channel('ingress').broadcast(randomBytes(64 * 1024), { ageMs: 2000 });
    origin.node.channel('ingress').broadcast(randomBytes(1.5 * MIB), { ageMs: 4000 });
    await readUntil(consensus, (seen) => seen.length === 1);
    await readUntil(ingress, (seen) => seen.length === 2);

    const m = receiver.node.metrics;
    const latency = 'subnet_p2p_broadcast_delivery_latency_seconds';
    const c = await histogram(m, latency, 'consensus');
    assert.equal(c.count, 1);
    assert.ok(c.sum >= 3 && c.sum < 60, `consensus latency ${c.sum} s`);
    const i = await histogram(m, latency, 'ingress');
    assert.equal(i.count, 2);
    assert.ok(i.sum >= 6 && i.sum < 120, `ingress latencies ${i.sum} s`);

    // Two downloads in ingress (the whole one, the chunked one from its manifest to its last
    // chunk); the inline artifact was never downloaded.
    const d = await histogram(m, 'subnet_p2p_broadcast_download_duration_seconds', 'ingress');
    assert.equal(d.count, 2);
    assert.ok(d.sum > 0 && d.sum < 60, `downloads ${d.sum} s`);
    assert.equal(
      (await histogram(m, 'subnet_p2p_broadcast_download_duration_seconds', 'consensus')).count,
      0,
    );
    const validation = 'subnet_p2p_broadcast_validation_duration_seconds';
    assert.equal((await histogram(m, validation, 'consensus')).count, 1);
    assert.equal((await histogram(m, validation, 'ingress')).count, 2);

    // The origin delivers nothing to itself.
    assert.equal((await histogram(origin.node.metrics, latency, 'ingress')).count, 0);
  });
});
