/**
 * The simulator's scenarios: a subnet of production broadcast cores on the simulated network,
 * a workload, a fault, and the figures that tell whether the protocol coped. Each run is a
 * function of its options (the seed included), except the wall-clock time it took.
 * @module
 */
import type { ChannelConfig, DownloadLimits } from '../broadcast/index.ts';
import { channelNumber, DEFAULT_CHUNKING, SlotUpdates } from '../broadcast/index.ts';
import type { NodeId } from '../identity/index.ts';
import { DEFAULT_TOPOLOGY, Lane } from '../transport/index.ts';
import type { Bandwidth, SimTransportLimits } from './bandwidth.ts';
import { simNodeIds } from './ids.ts';
import { SimNetwork } from './network.ts';
import { type RetentionSample, type RetentionWorkload, retention } from './retention-scenario.ts';
import { DEFAULT_BANDWIDTH, DEFAULT_NODES, type ScenarioName } from './scenario-names.ts';
import { type LatencySummary, round, summarize } from './stats.ts';
import { type Broadcast, type DeliveryRecord, Tracker } from './tracker.ts';

export interface ScenarioOptions {
  scenario: ScenarioName;
  seed: number;
  /** Subnet size. Default per scenario (13, or 1000 for scale). */
  nodes?: number;
  /**
   * Scales the workload (the number of artifacts and the length of the phases); 1 is the
   * CLI's default. The tests run small, fast versions with less.
   */
  load?: number;
  /** Per-node bandwidth. Default 1 Gbit/s each way. */
  bandwidth?: Bandwidth;
  /** One-way latency of each link, drawn uniformly. Default [10, 150] ms. */
  latencyMs?: readonly [number, number];
  /** Download limits of every node, over the defaults (and the scenario's own). */
  downloads?: Partial<DownloadLimits>;
  /** Transport settings of the bandwidth model (default: production limits). */
  transport?: Partial<SimTransportLimits>;
  /** byzantine: fake adverts each flooder sends each neighbour per second, per channel. Default 200. */
  floodAdvertsPerSec?: number;
  /** large: the artifact's size, bytes. Default 64 MiB. */
  artifactBytes?: number;
  /** large: its chunk size, bytes. Default 1 MiB. */
  chunkBytes?: number;
  /** retention: the workload, over RETENTION_WORKLOAD. */
  retention?: Partial<RetentionWorkload>;
  /** retention: overrides of its channel's config (default: the production retention). */
  channel?: Partial<ChannelConfig>;
  /** Called now and then during the run (every few thousand events); does not change it. */
  onProgress?: (progress: SimProgress) => void;
}

/** Where a run is, for {@link ScenarioOptions.onProgress}. */
export interface SimProgress {
  /** Virtual time, ms. */
  virtualMs: number;
  /** Events simulated so far. */
  events: number;
  /** Expected (artifact, receiver) pairs held so far, and of the artifacts sent so far (unset in retention). */
  deliveries?: number;
  expectedDeliveries?: number;
}

/** What a run measured. `wallMs` is the only field that differs between runs of one seed. */
export interface SimResult {
  scenario: ScenarioName;
  nodes: number;
  seed: number;
  load: number;
  topology: { kind: 'full-mesh' | 'ring'; degree: number };
  bandwidth: Bandwidth;
  latencyModelMs: readonly [number, number];
  /** Every expected (artifact, receiver) pair is held at the end. */
  complete: boolean;
  /** Artifacts broadcast, per channel. */
  artifacts: Record<string, number>;
  /** Their bytes. */
  payloadBytes: number;
  /** Expected (artifact, receiver) pairs held at the end, and how many there are. */
  deliveries: number;
  expectedDeliveries: number;
  /** Wire bytes (frames, headers included, every lane) / ((n - 1) x payload bytes). */
  amplification: number;
  wireBytes: { control: number; high: number; bulk: number; total: number };
  /** Transport messages sent (slot updates, requests, responses, credits). */
  messages: number;
  duplicateDownloads: number;
  /** Time from broadcast to first delivery, per channel, over expected pairs. */
  latencyMs: Record<string, LatencySummary>;
  /** Virtual time until complete (or until the run gave up). */
  virtualMs: number;
  /** Events simulated (the whole run, draining included). */
  events: number;
  /** What this scenario is about. */
  details: Record<string, unknown>;
  wallMs: number;
}

/** A result with the raw data the report's charts are drawn from. */
export interface SimRun {
  result: SimResult;
  /** Each expected pair's first delivery (artifact, node, time). */
  deliveries: readonly DeliveryRecord[];
  /** A series label per delivery for the latency chart (e.g. channel, or channel and phase). */
  series: (r: DeliveryRecord) => string;
  /** Frame bytes per lane per time bin. */
  traffic: { binMs: number; bins: [number, [number, number, number]][] };
  expectedByChannel: Record<string, number>;
  /** retention: what the honest nodes held at each sample (the report charts it). */
  samples?: readonly RetentionSample[];
}

// ---------------------------------------------------------------------------------------------

const CHANNELS: Record<string, Partial<ChannelConfig>> = {
  // Consensus artifacts: high lane, pushed up to 1 KiB, fetched before ingress.
  consensus: { lane: Lane.high, pushThresholdBytes: 1024, priority: () => ({ fetch: 1 }) },
  // Ingress: bulk lane. Relayed by every node (not origin-only, as on the IC), so that it
  // also reaches every node of a sparse topology.
  ingress: { lane: Lane.bulk, pushThresholdBytes: 1024, priority: () => ({ fetch: 0 }) },
};

/** Integer count scaled by load, at least 1. */
function scaled(n: number, load: number): number {
  return Math.max(1, Math.round(n * load));
}

interface Setup {
  net: SimNetwork;
  ids: NodeId[];
  tracker: Tracker;
  bandwidth: Bandwidth;
  latencyMs: readonly [number, number];
}

function setup(
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
function mixedWorkload(s: Setup, origins: readonly NodeId[], start: number, durationMs: number) {
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
function runToCompletion(s: Setup, maxMs: number, ready: () => boolean = () => true): number {
  const { net, tracker } = s;
  const done = net.run({ until: () => ready() && tracker.complete, maxTime: maxMs });
  const at = net.now;
  // Let what is in flight land (relayed adverts, credits) so the byte counts are whole.
  if (done) net.run({ maxTime: at + 5000 });
  return at;
}

function finish(
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
function inRtts(net: SimNetwork, r: DeliveryRecord): number {
  const oneWay = net.latency(r.artifact.origin, r.node) ?? Number.NaN;
  return (r.at - r.artifact.at) / (2 * oneWay);
}

function rttSummary(values: number[]): { count: number; p50: number; p99: number; max: number } {
  return summarize(values, 2);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

function steady(opts: ScenarioOptions, load: number, wall: number): SimRun {
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

function partition(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.partition;
  const s = setup(opts, n);
  const { net, ids, tracker } = s;
  const minority = ids.slice(0, Math.max(1, Math.floor(n / 3)));
  const inside = new Set(minority);
  const duration = 10_000 * load;
  const healAt = duration / 2;
  net.partition(minority);
  mixedWorkload(s, ids, 0, duration);
  let crossedBeforeHeal = -1;
  net.at(healAt, () => {
    crossedBeforeHeal = tracker.firsts.filter(
      (r) => inside.has(r.node) !== inside.has(r.artifact.origin),
    ).length;
    net.heal();
  });
  const at = runToCompletion(s, duration + 120_000, () => crossedBeforeHeal >= 0);
  const crossing = tracker.firsts.filter(
    (r) => inside.has(r.node) !== inside.has(r.artifact.origin) && r.artifact.at < healAt,
  );
  return finish(s, opts, load, at, wall, {
    minority: minority.length,
    healAtMs: healAt,
    deliveriesAcrossBeforeHeal: crossedBeforeHeal,
    catchUpAfterHealMs: round(at - healAt),
    crossingArtifactsAfterHealMs: summarize(crossing.map((r) => r.at - healAt)),
  });
}

function churn(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.churn;
  // The churners are picked after the ids exist; the stable nodes originate everything.
  const s = setup(opts, n);
  const { net, ids } = s;
  const churners = ids.slice(0, Math.max(1, Math.floor(n / 4)));
  const stable = ids.filter((id) => !churners.includes(id));
  const duration = 10_000 * load;
  mixedWorkload(s, stable, 0, duration);
  let crashes = 0;
  let restarts = 0;
  let lastRestart = 0;
  let outstanding = 0;
  for (const c of churners) {
    // Two cycles: crash somewhere in each half of the run, down for 0.5-3 s.
    for (let cycle = 0; cycle < 2; cycle++) {
      const crashAt = net.rng.between(cycle * (duration / 2), (cycle + 0.8) * (duration / 2));
      const downMs = net.rng.between(500, 3000);
      outstanding++;
      net.at(crashAt, () => {
        net.crash(c);
        crashes++;
      });
      net.at(crashAt + downMs, () => {
        net.restart(c);
        restarts++;
        outstanding--;
        lastRestart = Math.max(lastRestart, net.now);
      });
    }
  }
  const at = runToCompletion(s, duration + 120_000, () => outstanding === 0);
  return finish(s, opts, load, at, wall, {
    churners: churners.length,
    crashes,
    restarts,
    lastRestartMs: round(lastRestart),
    catchUpAfterLastRestartMs: round(at - lastRestart),
  });
}

type Fault = 'wrong-bytes' | 'flood' | 'silent';

function byzantine(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.byzantine;
  const f = Math.floor((n - 1) / 3);
  const kinds: Fault[] = ['wrong-bytes', 'flood', 'silent'];
  let faulty: Map<NodeId, Fault> = new Map();
  const s = setup(
    opts,
    n,
    (ids) => {
      faulty = new Map(ids.slice(0, f).map((id, i) => [id, kinds[i % kinds.length]!]));
      return ids.filter((id) => !faulty.has(id));
    },
    // Silent peers cost a timeout each time they are tried: 2 s, not the default 5 s.
    { downloadTimeoutMs: 2000 },
  );
  const { net, ids } = s;
  const honest = ids.filter((id) => !faulty.has(id));
  for (const [id, kind] of faulty) {
    if (kind !== 'flood') net.node(id).serve = kind;
  }
  const duration = 10_000 * load;
  mixedWorkload(s, honest, 0, duration);
  // Flooders: every 100 ms, a batch of adverts of artifacts that do not exist to each
  // neighbour, on both channels, cycling through all 10 000 slots with growing commit numbers.
  const floodBatch = Math.round((opts.floodAdvertsPerSec ?? 200) / 10);
  let floodAdverts = 0;
  const flooders =
    floodBatch > 0 ? [...faulty].filter(([, k]) => k === 'flood').map(([id]) => id) : [];
  const commits = new Map<NodeId, number>();
  for (const fl of flooders) {
    for (let t = 50; t < duration; t += 100) {
      net.at(t, () => {
        for (const [channel, lane] of [
          ['consensus', Lane.high],
          ['ingress', Lane.bulk],
        ] as const) {
          let commit = commits.get(fl) ?? 1;
          const updates = [];
          for (let i = 0; i < floodBatch; i++, commit++) {
            updates.push({
              slot: commit % 10_000,
              commit,
              advert: {
                id: net.rng.bytes(32) as Uint8Array<ArrayBuffer>,
                size: net.rng.int(1024, 1024 * 1024),
                attributes: new Uint8Array(0),
                pushed: false,
              },
              withdrawn: false,
            });
          }
          commits.set(fl, commit);
          const body = SlotUpdates.encode({ channel: channelNumber(channel), updates });
          for (const peer of net.neighbors(fl))
            if (net.inject(fl, peer, body, lane)) floodAdverts += floodBatch;
        }
      });
    }
  }
  const at = runToCompletion(s, duration + 180_000);
  const faultsSeen: Record<string, number> = {};
  for (const id of honest) {
    const obs = net.node(id).observer;
    for (const [bad, kind] of faulty) {
      faultsSeen[kind] = (faultsSeen[kind] ?? 0) + obs.get('peer_faults', { peer: bad });
    }
  }
  const retried = honest.reduce(
    (sum, id) => sum + net.node(id).observer.get('downloads', { outcome: 'retried' }),
    0,
  );
  return finish(s, opts, load, at, wall, {
    faulty: f,
    behaviours: Object.fromEntries(
      kinds.map((k) => [k, [...faulty.values()].filter((v) => v === k).length]),
    ),
    floodAdvertsPerSec: opts.floodAdvertsPerSec ?? 200,
    floodAdvertsSent: floodAdverts,
    peerFaultsCountedByHonest: faultsSeen,
    downloadsRetriedByHonest: retried,
    note: 'expected deliveries: honest artifacts at honest nodes',
  });
}

function priority(opts: ScenarioOptions, load: number, wall: number): SimRun {
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

function scale(opts: ScenarioOptions, load: number, wall: number): SimRun {
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

/** large: 100 Mbit/s each way, a node's uplink in a WAN subnet. */
export const LARGE_BANDWIDTH: Bandwidth = {
  uploadBytesPerSec: 12_500_000,
  downloadBytesPerSec: 12_500_000,
};

function large(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? DEFAULT_NODES.large;
  const size = opts.artifactBytes ?? 64 * 1024 * 1024;
  const chunkBytes = opts.chunkBytes ?? 1024 * 1024;
  const chunks = Math.max(1, Math.ceil(size / chunkBytes));
  const channels: Record<string, Partial<ChannelConfig>> = {
    large: {
      lane: Lane.bulk,
      maxArtifactBytes: Math.max(size, 4 * 1024 * 1024),
      priority: () => ({ fetch: 0 }),
      chunking: {
        ...DEFAULT_CHUNKING,
        chunkBytes,
        maxChunkBytes: Math.max(chunkBytes, DEFAULT_CHUNKING.maxChunkBytes),
        maxManifestBytes: Math.max(DEFAULT_CHUNKING.maxManifestBytes, 17 + 32 * chunks),
      },
    },
  };
  const s = setup(
    { ...opts, bandwidth: opts.bandwidth ?? LARGE_BANDWIDTH },
    n,
    undefined,
    undefined,
    channels,
  );
  const { net, ids, tracker } = s;
  const origin = ids[0]!;
  tracker.schedule(0, origin, 'large', size, 'large', { chunkBytes });
  const rate = s.bandwidth.uploadBytesPerSec;
  const idealMs = (size / rate) * 1000;
  const starMs = (n - 1) * idealMs;
  const at = runToCompletion(s, 2 * starMs + 120_000);
  const allHold = tracker.firsts.length > 0 ? Math.max(...tracker.firsts.map((r) => r.at)) : 0;
  const allHoldMs = tracker.complete ? allHold - (tracker.sent[0]?.at ?? 0) : Number.NaN;
  const nodes = net.nodes();
  const o = net.node(origin);
  const sum = (f: (x: (typeof nodes)[number]) => number) => nodes.reduce((t, x) => t + f(x), 0);
  return finish(s, opts, load, at, wall, {
    artifactBytes: size,
    chunkBytes,
    chunks,
    uploadBytesPerSec: rate,
    allHoldMs: round(allHoldMs),
    idealMs: round(idealMs),
    vsIdeal: round(allHoldMs / idealMs, 3),
    starMs: round(starMs),
    vsStar: round(allHoldMs / starMs, 4),
    originUploadRatio: round(o.chunkBytesServed / size, 3),
    originWireUploadRatio: round(o.uploadBytes / size, 3),
    chunksServed: sum((x) => x.chunksServed),
    duplicateChunkFetches: sum((x) => x.duplicateChunks),
    chunkFaults: sum((x) => x.observer.get('chunks', { outcome: 'faulty' })),
    chunkRetries: sum((x) => x.observer.get('chunks', { outcome: 'retried' })),
    complete: tracker.complete,
    note: 'ideal = one upload of the artifact at the uplink rate (S/R); star = (n-1) S/R; originUploadRatio = chunk bytes the origin served / S',
  });
}

const RUNNERS: Record<ScenarioName, (o: ScenarioOptions, load: number, wall: number) => SimRun> = {
  steady,
  partition,
  churn,
  byzantine,
  priority,
  scale,
  large,
  retention,
};

/** Runs a scenario to completion (or until it gives up) and measures it. */
export function runScenario(opts: ScenarioOptions): SimRun {
  const wall = performance.now();
  const load = opts.load ?? 1;
  return RUNNERS[opts.scenario](opts, load, wall);
}

export type { Broadcast, DeliveryRecord };
