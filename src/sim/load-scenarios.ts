/**
 * The scenarios of load: the mixed workload on a healthy subnet and its latencies in round trips
 * (`steady`), consensus artifacts with and without a backlogged bulk lane (`priority`), and a
 * large subnet on its sparse topology (`scale`).
 * @module
 */
import type { NodeId } from '../identity/index.ts';
import { Lane } from '../transport/index.ts';
import {
  finish,
  inRtts,
  mixedWorkload,
  rttSummary,
  runToCompletion,
  scaled,
  setup,
} from './scenario-harness.ts';
import { DEFAULT_NODES } from './scenario-names.ts';
import type { ScenarioOptions, SimRun } from './scenarios.ts';
import { round, summarize } from './stats.ts';
import type { DeliveryRecord } from './tracker.ts';

export function steady(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.steady;
  const s = setup(opts, n);
  const duration = 10_000 * load;
  mixedWorkload(s, s.ids, 0, duration);
  const at = runToCompletion(s, duration + 120_000);
  const { net, tracker } = s;
  const up = s.bandwidth.uploadBytesPerSec;
  const down = s.bandwidth.downloadBytesPerSec;
  const small = tracker.firsts.filter((r) => r.artifact.tag === 'small');
  const blocks = tracker.firsts.filter((r) => r.artifact.tag === 'block');
  // The model: 1.5 RTT plus the artifact's time on the slower of upload and download.
  const blockModel = (r: DeliveryRecord) => {
    const oneWay = net.latency(r.artifact.origin, r.node) ?? Number.NaN;
    return 3 * oneWay + (r.artifact.size / Math.min(up, down)) * 1000;
  };
  return finish(s, opts, load, at, wall, {
    smallConsensusRtts: rttSummary(small.map((r) => inRtts(net, r))),
    blockRtts: rttSummary(blocks.map((r) => inRtts(net, r))),
    blockVsModel: rttSummary(blocks.map((r) => (r.at - r.artifact.at) / blockModel(r))),
    note: 'RTTs of the direct link from the origin; blockVsModel = latency / (1.5 RTT + size / bandwidth)',
  });
}

export function priority(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.priority;
  const s = setup(opts, n);
  const { net, ids, tracker } = s;
  const phase = 3000 * load;
  // Consensus: the same pattern in both phases (shifted by one phase length).
  const pattern: { t: number; origin: NodeId; size: number; tag: string }[] = [];
  for (const o of ids) {
    for (let t = net.rng.between(0, 200); t < phase; t += 200)
      pattern.push({ t, origin: o, size: net.rng.int(200, 900), tag: 'small' });
    for (let t = net.rng.between(0, 1000); t < phase; t += 1000)
      pattern.push({ t, origin: o, size: net.rng.int(16 * 1024, 128 * 1024), tag: 'block' });
  }
  // A quiet gap between the phases so the first phase's traffic is done.
  const gap = 1000;
  for (const p of pattern) {
    tracker.schedule(p.t, p.origin, 'consensus', p.size, `${p.tag}/no-bulk`);
    tracker.schedule(phase + gap + p.t, p.origin, 'consensus', p.size, `${p.tag}/bulk`);
  }
  // Bulk: 1 MiB ingress artifacts, from every node, at 1.5x what the subnet's downloads can
  // take (each node downloads every other node's), from the start of the gap to the end of
  // the second phase, so the bulk lane is backlogged throughout the second phase.
  const bulkSize = 1024 * 1024;
  const perNodeRate = (1.5 * s.bandwidth.downloadBytesPerSec) / (n - 1) / bulkSize; // per s
  const every = 1000 / perNodeRate;
  for (const o of ids) {
    for (let t = phase + net.rng.between(0, every); t < 2 * phase + gap; t += every) {
      tracker.schedule(t, o, 'ingress', bulkSize, 'bulk');
    }
  }
  const at = runToCompletion(s, 2 * phase + gap + 300_000);
  const lat = (tag: string) =>
    tracker.latencies((r) => r.artifact.channel === 'consensus' && r.artifact.tag.endsWith(tag));
  const without = summarize(lat('/no-bulk'));
  const withBulk = summarize(lat('/bulk'));
  const byKind = (kind: string, phaseTag: string) =>
    summarize(tracker.latencies((r) => r.artifact.tag === `${kind}/${phaseTag}`));
  // Bulk bytes sent during the second phase, against the subnet's upload capacity then.
  let bulkBytes = 0;
  for (const [bin, row] of net.traffic.series) {
    const t = bin * net.traffic.binMs;
    if (t >= phase + gap && t < 2 * phase + gap) bulkBytes += row[Lane.bulk];
  }
  const capacity = (n * s.bandwidth.uploadBytesPerSec * phase) / 1000;
  return finish(
    s,
    opts,
    load,
    at,
    wall,
    {
      phaseMs: phase,
      consensusWithoutBulk: without,
      consensusUnderBulk: withBulk,
      p99Ratio: round(withBulk.p99 / without.p99, 3),
      smallWithoutBulk: byKind('small', 'no-bulk'),
      smallUnderBulk: byKind('small', 'bulk'),
      blocksWithoutBulk: byKind('block', 'no-bulk'),
      blocksUnderBulk: byKind('block', 'bulk'),
      bulkShareOfUploadDuringPhase2: round(bulkBytes / capacity, 3),
    },
    (r) =>
      r.artifact.channel === 'consensus'
        ? `consensus (${r.artifact.tag.endsWith('/bulk') ? 'under bulk' : 'no bulk'})`
        : r.artifact.channel,
  );
}

export function scale(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.scale;
  const s = setup(opts, n);
  const { net, ids, tracker } = s;
  const duration = 5000;
  const stream = (count: number, channel: string, tag: string, min: number, max: number) => {
    for (let i = 0; i < scaled(count, load); i++) {
      tracker.schedule(
        net.rng.between(0, duration),
        net.rng.pick(ids),
        channel,
        net.rng.int(min, max),
        tag,
      );
    }
  };
  stream(100, 'consensus', 'small', 200, 900);
  stream(10, 'consensus', 'block', 16 * 1024, 128 * 1024);
  stream(20, 'ingress', 'ingress', 16 * 1024, 256 * 1024);
  const at = runToCompletion(s, duration + 300_000);
  return finish(s, opts, load, at, wall, {
    latencyBySize: {
      small: summarize(tracker.latencies((r) => r.artifact.tag === 'small')),
      block: summarize(tracker.latencies((r) => r.artifact.tag === 'block')),
      ingress: summarize(tracker.latencies((r) => r.artifact.tag === 'ingress')),
    },
  });
}
