/**
 * What the scenarios share: the subnet's setup on the simulated network (its channels, nodes,
 * topology and tracker), the mixed workload, running to completion, and the figures every
 * result carries ({@link finish}).
 * @module
 */
import type { ChannelConfig, DownloadLimits } from '../broadcast/index.ts';
import type { NodeId } from '../identity/index.ts';
import { DEFAULT_TOPOLOGY, Lane } from '../transport/index.ts';
import type { Bandwidth } from './bandwidth.ts';
import { simNodeIds } from './ids.ts';
import { SimNetwork } from './network.ts';
import { DEFAULT_BANDWIDTH } from './scenario-names.ts';
import type { ScenarioOptions, SimResult, SimRun } from './scenarios.ts';
import { type LatencySummary, round, summarize } from './stats.ts';
import { type DeliveryRecord, Tracker } from './tracker.ts';

const CHANNELS: Record<string, Partial<ChannelConfig>> = {
  // Consensus artifacts: high lane, pushed up to 1 KiB, fetched before ingress.
  consensus: { lane: Lane.high, pushThresholdBytes: 1024, priority: () => ({ fetch: 1 }) },
  // Ingress: bulk lane. Relayed by every node (not origin-only, as on the IC), so that it
  // also reaches every node of a sparse topology.
  ingress: { lane: Lane.bulk, pushThresholdBytes: 1024, priority: () => ({ fetch: 0 }) },
};

/** Integer count scaled by load, at least 1. */
export function scaled(n: number, load: number): number {
  return Math.max(1, Math.round(n * load));
}

export interface Setup {
  net: SimNetwork;
  ids: NodeId[];
  tracker: Tracker;
  bandwidth: Bandwidth;
  latencyMs: readonly [number, number];
}

export function setup(
  opts: ScenarioOptions,
  n: number,
  receivers?: (ids: NodeId[]) => NodeId[],
  downloads?: Partial<DownloadLimits>,
  channels: Record<string, Partial<ChannelConfig>> = CHANNELS,
): Setup {
  const bandwidth = opts.bandwidth ?? DEFAULT_BANDWIDTH;
  const latencyMs = opts.latencyMs ?? [10, 150];
  const net = new SimNetwork({
    seed: opts.seed,
    channels,
    bandwidth,
    latencyMs,
    downloads: { ...downloads, ...opts.downloads },
    transport: opts.transport,
    binMs: 100,
  });
  const ids = simNodeIds(n, net.rng);
  for (const id of ids) net.addNode(id);
  net.topology();
  const tracker = new Tracker(net, receivers ? receivers(ids) : ids);
  const { onProgress } = opts;
  if (onProgress) {
    net.onProgress = () =>
      onProgress({
        virtualMs: net.now,
        events: net.queue.processed,
        deliveries: tracker.held,
        expectedDeliveries: tracker.expected,
      });
  }
  return { net, ids, tracker, bandwidth, latencyMs };
}

/**
 * The mixed workload: every origin, over `durationMs` from `start`, broadcasts small consensus
 * artifacts (200-900 B, pushed) every ~500 ms, consensus blocks (16-128 KiB, advertised)
 * every ~2 s, and ingress messages (2-32 KiB) every ~250 ms, each at a jittered time.
 */
export function mixedWorkload(
  s: Setup,
  origins: readonly NodeId[],
  start: number,
  durationMs: number,
) {
  const { net, tracker } = s;
  const stream = (channel: string, tag: string, every: number, min: number, max: number) => {
    for (const o of origins) {
      for (let t = start + net.rng.between(0, every); t < start + durationMs; t += every) {
        tracker.schedule(t, o, channel, net.rng.int(min, max), tag);
      }
    }
  };
  stream('consensus', 'small', 500, 200, 900);
  stream('consensus', 'block', 2000, 16 * 1024, 128 * 1024);
  stream('ingress', 'ingress', 250, 2 * 1024, 32 * 1024);
}

/** Runs until complete and `ready()` (or `maxMs` of virtual time), then drains briefly. */
export function runToCompletion(
  s: Setup,
  maxMs: number,
  ready: () => boolean = () => true,
): number {
  const { net, tracker } = s;
  const done = net.run({ until: () => ready() && tracker.complete, maxTime: maxMs });
  const at = net.now;
  // Let what is in flight land (relayed adverts, credits) so the byte counts are whole.
  if (done) net.run({ maxTime: at + 5000 });
  return at;
}

export function finish(
  s: Setup,
  opts: ScenarioOptions,
  load: number,
  completedAt: number,
  wallStart: number,
  details: Record<string, unknown>,
  series: (r: DeliveryRecord) => string = (r) => r.artifact.channel,
): SimRun {
  const { net, ids, tracker } = s;
  const artifacts: Record<string, number> = {};
  const expectedByChannel: Record<string, number> = {};
  let payloadBytes = 0;
  for (const b of tracker.sent) {
    artifacts[b.channel] = (artifacts[b.channel] ?? 0) + 1;
    expectedByChannel[b.channel] = (expectedByChannel[b.channel] ?? 0) + tracker.receiversOf(b);
    payloadBytes += b.size;
  }
  const latencyMs: Record<string, LatencySummary> = {};
  for (const ch of Object.keys(artifacts)) {
    latencyMs[ch] = summarize(tracker.latencies((r) => r.artifact.channel === ch));
  }
  const [control, high, bulk] = net.traffic.bytes;
  const total = control + high + bulk;
  const degree = Math.max(...ids.map((id) => net.neighbors(id).length));
  const result: SimResult = {
    scenario: opts.scenario,
    nodes: ids.length,
    seed: opts.seed,
    load,
    topology: {
      kind: ids.length <= DEFAULT_TOPOLOGY.fullMeshMaxNodes ? 'full-mesh' : 'ring',
      degree,
    },
    bandwidth: s.bandwidth,
    latencyModelMs: s.latencyMs,
    complete: tracker.complete,
    artifacts,
    payloadBytes,
    deliveries: tracker.held,
    expectedDeliveries: tracker.expected,
    amplification: round(total / Math.max(1, (ids.length - 1) * payloadBytes), 3),
    wireBytes: { control, high, bulk, total },
    messages: net.traffic.messages,
    duplicateDownloads: net
      .nodes()
      .reduce((sum, node) => sum + node.observer.get('duplicate_downloads'), 0),
    latencyMs,
    virtualMs: round(completedAt),
    events: net.queue.processed,
    details,
    wallMs: Math.round(performance.now() - wallStart),
  };
  const bins = [...net.traffic.series.entries()].sort((a, b) => a[0] - b[0]);
  return {
    result,
    deliveries: tracker.firsts,
    series,
    traffic: { binMs: net.traffic.binMs, bins },
    expectedByChannel,
  };
}

/** Latency of a delivery in round trips of the direct link from its origin. */
export function inRtts(net: SimNetwork, r: DeliveryRecord): number {
  const oneWay = net.latency(r.artifact.origin, r.node) ?? Number.NaN;
  return (r.at - r.artifact.at) / (2 * oneWay);
}

export function rttSummary(values: number[]): {
  count: number;
  p50: number;
  p99: number;
  max: number;
} {
  return summarize(values, 2);
}
