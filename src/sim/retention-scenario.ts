/**
 * The `retention` scenario: a subnet under a steady honest load for a simulated week, on a
 * channel with the production retention defaults (artifacts expire 10 minutes after their
 * origin broadcast them; 10 000 artifacts and 256 MiB per channel; one peer's artifacts at most
 * a quarter of either), while one member floods its maximum. Sampled at regular virtual
 * intervals: every honest node's slots, artifacts and bytes held, wants, and the flooder's share
 * must stay under their bounds at every sample, and every honest artifact must reach every
 * honest node while it is live.
 * @module
 */
import type { ChannelConfig } from '../broadcast/index.ts';
import type { NodeId } from '../identity/index.ts';
import { Lane } from '../transport/index.ts';
import type { Bandwidth } from './bandwidth.ts';
import { simNodeIds } from './ids.ts';
import { SimNetwork } from './network.ts';
import type { ScenarioOptions, SimResult, SimRun } from './scenarios.ts';
import { round, summarize } from './stats.ts';

export const WEEK_MS = 7 * 24 * 3600 * 1000;

/** 1 Gbit/s each way (as the other scenarios). */
const BANDWIDTH: Bandwidth = { uploadBytesPerSec: 125_000_000, downloadBytesPerSec: 125_000_000 };

/** One sample: the largest value over the honest nodes (and their bounds). */
export interface RetentionSample {
  /** Virtual time, ms. */
  at: number;
  slots: number;
  artifacts: number;
  bytes: number;
  wants: number;
  /** The flooder's artifacts held at one honest node (the most), and their bytes. */
  flooderArtifacts: number;
  flooderBytes: number;
  /** Honest artifacts held at one honest node (the most): own plus received. */
  honestArtifacts: number;
}

/** The knobs of the scenario (all scaled from these defaults). */
export interface RetentionWorkload {
  /** Each honest node broadcasts one small artifact every this many ms (jittered). */
  honestEveryMs: number;
  /** Size range of an honest artifact (pushed inline: at most the push threshold). */
  honestBytes: readonly [number, number];
  /** The flooder tops its live junk up every this many ms... */
  floodEveryMs: number;
  /**
   * ...by at most this many artifacts each time (a sustained flood: a burst of thousands of
   * inline pushes at once makes every receiver fetch what it cannot validate at once, see
   * maxPendingValidations, and costs the simulation far more than the protocol's bounds show).
   */
  floodBatch: number;
  /** Size of a junk artifact (small: pushed inline, as many as the slots allow). */
  junkBytes: number;
  /**
   * The junk the flooder keeps live in its own slot table, as a multiple of one peer's share
   * at a receiver (peerShare x maxSlots): above 1, every refill evicts junk at every honest node.
   */
  floodOverShare: number;
  /**
   * The flood comes in episodes: `floodOnMs` long, one every `floodPeriodMs`, the first at
   * `floodFirstMs`. A flood at the share for the whole week would be 2.5 million junk artifacts
   * (a share renewed every maxAgeMs), each relayed by every honest node to every other: hours of
   * simulation. An episode of a few maxAgeMs shows the steady state of a flood at its maximum.
   */
  floodOnMs: number;
  floodPeriodMs: number;
  floodFirstMs: number;
  /**
   * An episode fills the flooder's share by count in its first half (small junk, topped up to
   * `floodOverShare` x the share), by bytes in its second half: `peerShare x maxBytes` and one
   * more artifact, in artifacts of `maxArtifactBytes` (4 MiB), pushed again every maxAgeMs, so
   * that honest nodes evict by bytes too (both at once cannot last: a peer over its share loses
   * its oldest first, so new small junk evicts the large). Each burst costs every honest node
   * the hashing of 68 MiB. Off: the whole episode is by count.
   */
  byteFlood: boolean;
  /** Sampling period, ms. */
  sampleEveryMs: number;
}

export const RETENTION_WORKLOAD: RetentionWorkload = {
  honestEveryMs: 30_000,
  honestBytes: [100, 900],
  floodEveryMs: 1000,
  floodBatch: 50,
  junkBytes: 64,
  floodOverShare: 1.05,
  floodOnMs: 30 * 60_000,
  floodPeriodMs: 24 * 3600_000,
  floodFirstMs: 3600_000,
  byteFlood: true,
  sampleEveryMs: 60_000,
};

/**
 * The channel: the production retention defaults (no override), pushed inline up to 1 KiB,
 * relayed by every node, without chunking so that 4 MiB of junk travels whole.
 */
function channelConfig(over: Partial<ChannelConfig> | undefined): Partial<ChannelConfig> {
  return {
    lane: Lane.high,
    pushThresholdBytes: 1024,
    priority: () => ({ fetch: 1 }),
    chunking: undefined,
    ...over,
  };
}

interface Pending {
  origin: NodeId;
  at: number;
  /** Honest receivers still to get it. */
  left: Set<NodeId>;
}

export function retention(opts: ScenarioOptions, load: number, wall: number): SimRun {
  const n = opts.nodes ?? 5;
  const w: RetentionWorkload = { ...RETENTION_WORKLOAD, ...opts.retention };
  const bandwidth = opts.bandwidth ?? BANDWIDTH;
  const latencyMs = opts.latencyMs ?? [10, 150];
  const durationMs = Math.round(WEEK_MS * load);
  const CH = 'stream';
  const net = new SimNetwork({
    seed: opts.seed,
    channels: { [CH]: channelConfig(opts.channel) },
    bandwidth,
    latencyMs,
    downloads: opts.downloads,
    transport: opts.transport,
    // Coarse traffic bins: a week in 100 ms bins would be 6 million of them.
    binMs: 60_000,
    recordDeliveries: false,
  });
  const { onProgress } = opts;
  if (onProgress) {
    net.onProgress = () => onProgress({ virtualMs: net.now, events: net.queue.processed });
  }
  const ids = simNodeIds(n, net.rng);
  for (const id of ids) net.addNode(id);
  net.topology();
  const flooder = ids[0]!;
  const honest = ids.slice(1);
  const honestSet = new Set(honest);
  const cfg = net.channels.get(CH)!;
  const peerMaxArtifacts = Math.max(1, Math.floor(cfg.maxSlots * cfg.peerShare));
  const peerMaxBytes = Math.max(1, Math.floor(cfg.maxBytes * cfg.peerShare));
  const wantsBound = (n - 1) * cfg.maxSlots;

  // Honest artifacts: who still has to get each, and when each reached everyone.
  const pending = new Map<string, Pending>();
  let honestSent = 0;
  let honestBytes = 0;
  let deliveries = 0;
  let lateDeliveries = 0;
  let maxLatency = 0;
  const latencies: number[] = [];
  const keepEvery = Math.max(1, Math.round(load * 20));
  net.onDeliver = (node, artifact) => {
    if (!honestSet.has(node.id)) return;
    const p = pending.get(artifact.id);
    if (!p?.left.delete(node.id)) return;
    const latency = net.now - p.at;
    deliveries++;
    if (latency >= cfg.maxAgeMs) lateDeliveries++;
    if (latency > maxLatency) maxLatency = latency;
    if (deliveries % keepEvery === 0) latencies.push(latency);
    if (p.left.size === 0) pending.delete(artifact.id);
  };
  const honestBroadcast = (origin: NodeId) => {
    const size = net.rng.int(w.honestBytes[0], w.honestBytes[1]);
    const id = net.broadcast(origin, CH, net.rng.bytes(size));
    honestSent++;
    honestBytes += size;
    pending.set(id, { origin, at: net.now, left: new Set(honest.filter((h) => h !== origin)) });
  };
  for (const o of honest) {
    const first = net.rng.between(0, w.honestEveryMs);
    const tick = (t: number) => {
      if (t >= durationMs) return;
      net.at(t, () => {
        honestBroadcast(o);
        tick(t + w.honestEveryMs * net.rng.between(0.5, 1.5));
      });
    };
    tick(first);
  }

  // The flooder: valid junk (distinct bytes, accepted by every validation), pushed inline,
  // topped up so that it keeps floodOverShare x a peer's share live in its own slot table; every
  // byteFloodEveryMs, also its byte share of 4 MiB artifacts.
  const fcore = () => net.node(flooder).core;
  const liveJunk = () =>
    fcore()
      .channelStats(CH)
      .owners.find((o) => o.origin === 'self')?.artifacts ?? 0;
  const target = Math.round(peerMaxArtifacts * w.floodOverShare);
  let junkSent = 0;
  let junkBytes = 0;
  let counter = 0;
  const junk = (size: number) => {
    const b = new Uint8Array(size);
    new DataView(b.buffer).setFloat64(0, counter++);
    b[8] = 0x4a;
    return b;
  };
  const countPhase = w.byteFlood ? w.floodOnMs / 2 : w.floodOnMs;
  const flooding = (t: number) =>
    t >= w.floodFirstMs && (t - w.floodFirstMs) % w.floodPeriodMs < countPhase;
  const refill = (t: number) => {
    if (t >= durationMs) return;
    // Between episodes: wake at the next one.
    if (!flooding(t)) {
      const k = Math.max(0, Math.ceil((t - w.floodFirstMs) / w.floodPeriodMs));
      refill(w.floodFirstMs + k * w.floodPeriodMs);
      return;
    }
    net.at(t, () => {
      for (let k = Math.min(w.floodBatch, target - liveJunk()); k > 0; k--) {
        net.broadcast(flooder, CH, junk(w.junkBytes));
        junkSent++;
        junkBytes += w.junkBytes;
      }
      refill(t + w.floodEveryMs);
    });
  };
  refill(w.floodFirstMs);
  const bigBytes = cfg.maxArtifactBytes;
  const byteBurst = Math.floor(peerMaxBytes / bigBytes) + 1;
  let episodes = 0;
  for (let t = w.floodFirstMs; t < durationMs; t += w.floodPeriodMs) {
    episodes++;
    if (!w.byteFlood) continue;
    for (let b = t + countPhase; b < Math.min(durationMs, t + w.floodOnMs); b += cfg.maxAgeMs) {
      net.at(b, () => {
        for (let k = 0; k < byteBurst; k++) {
          net.broadcast(flooder, CH, junk(bigBytes));
          junkSent++;
          junkBytes += bigBytes;
        }
      });
    }
  }

  // Samples: the most over the honest nodes, and every violation of a bound.
  const samples: RetentionSample[] = [];
  const violations: string[] = [];
  const sample = () => {
    const s: RetentionSample = {
      at: net.now,
      slots: 0,
      artifacts: 0,
      bytes: 0,
      wants: 0,
      flooderArtifacts: 0,
      flooderBytes: 0,
      honestArtifacts: 0,
    };
    for (const id of honest) {
      const st = net.node(id).core.channelStats(CH);
      const fl = st.owners.find((o) => o.origin === flooder);
      s.slots = Math.max(s.slots, st.slots.used);
      s.artifacts = Math.max(s.artifacts, st.held.artifacts);
      s.bytes = Math.max(s.bytes, st.held.bytes);
      s.wants = Math.max(s.wants, st.wants);
      s.flooderArtifacts = Math.max(s.flooderArtifacts, fl?.artifacts ?? 0);
      s.flooderBytes = Math.max(s.flooderBytes, fl?.bytes ?? 0);
      s.honestArtifacts = Math.max(s.honestArtifacts, st.held.artifacts - (fl?.artifacts ?? 0));
    }
    const check = (what: string, v: number, bound: number) => {
      if (v > bound && violations.length < 20)
        violations.push(`${what} ${v} > ${bound} at ${net.now} ms`);
    };
    check('slots', s.slots, cfg.maxSlots);
    check('artifacts', s.artifacts, cfg.maxSlots);
    check('bytes', s.bytes, cfg.maxBytes);
    check('wants', s.wants, wantsBound);
    check('flooder artifacts', s.flooderArtifacts, peerMaxArtifacts);
    check('flooder bytes', s.flooderBytes, peerMaxBytes);
    samples.push(s);
  };
  for (let t = w.sampleEveryMs; t <= durationMs; t += w.sampleEveryMs) net.at(t, sample);

  net.run({ maxTime: durationMs });
  // The last honest artifacts: until they are delivered (or expired).
  net.run({ until: () => pending.size === 0, maxTime: durationMs + cfg.maxAgeMs });
  const virtualMs = net.now;

  // Counters over the honest nodes.
  const sum = (f: (id: NodeId) => number) => honest.reduce((t, id) => t + f(id), 0);
  const obs = (id: NodeId) => net.node(id).observer;
  const flooderEvictions = sum((id) => obs(id).get('evicted', { channel: CH, peer: flooder }));
  const allEvictions = sum((id) => obs(id).get('evicted', { channel: CH }));
  const removed = (reason: string) => sum((id) => obs(id).get('removed', { channel: CH, reason }));
  const expectedDeliveries = honestSent * (honest.length - 1);
  let undelivered = 0;
  for (const p of pending.values()) undelivered += p.left.size;
  const max = (f: (s: RetentionSample) => number) => samples.reduce((m, s) => Math.max(m, f(s)), 0);
  const maxima = {
    slots: { max: max((s) => s.slots), bound: cfg.maxSlots },
    artifacts: { max: max((s) => s.artifacts), bound: cfg.maxSlots },
    bytes: { max: max((s) => s.bytes), bound: cfg.maxBytes },
    wants: { max: max((s) => s.wants), bound: wantsBound },
    flooderArtifacts: { max: max((s) => s.flooderArtifacts), bound: peerMaxArtifacts },
    flooderBytes: { max: max((s) => s.flooderBytes), bound: peerMaxBytes },
    honestArtifacts: { max: max((s) => s.honestArtifacts) },
  };
  const complete = undelivered === 0 && lateDeliveries === 0 && deliveries === expectedDeliveries;
  const [control, high, bulk] = net.traffic.bytes;
  const total = control + high + bulk;
  const latency = summarize(latencies);
  const result: SimResult = {
    scenario: opts.scenario,
    nodes: n,
    seed: opts.seed,
    load,
    topology: { kind: 'full-mesh', degree: Math.max(...ids.map((id) => net.neighbors(id).length)) },
    bandwidth,
    latencyModelMs: latencyMs,
    complete,
    artifacts: { [CH]: honestSent, [`${CH} (junk)`]: junkSent },
    payloadBytes: honestBytes + junkBytes,
    deliveries,
    expectedDeliveries,
    amplification: round(total / Math.max(1, (n - 1) * (honestBytes + junkBytes)), 3),
    wireBytes: { control, high, bulk, total },
    messages: net.traffic.messages,
    duplicateDownloads: sum((id) => obs(id).get('duplicate_downloads')),
    latencyMs: { [CH]: { ...latency, max: round(maxLatency) } },
    virtualMs: round(virtualMs),
    events: net.queue.processed,
    details: {
      simulatedDays: round(durationMs / 86_400_000, 3),
      honestNodes: honest.length,
      flooder: flooder,
      retention: {
        maxAgeMs: cfg.maxAgeMs,
        maxSlots: cfg.maxSlots,
        maxBytes: cfg.maxBytes,
        peerShare: cfg.peerShare,
      },
      workload: w,
      honestArtifacts: honestSent,
      honestOverMaxSlots: round(honestSent / cfg.maxSlots, 1),
      floodEpisodes: episodes,
      junkArtifacts: junkSent,
      junkBytes,
      samples: samples.length,
      sampleEveryMs: w.sampleEveryMs,
      maxima,
      bounded: violations.length === 0,
      violations,
      honestDelivery: {
        delivered: deliveries,
        expected: expectedDeliveries,
        fraction: round(deliveries / Math.max(1, expectedDeliveries), 6),
        afterExpiry: lateDeliveries,
        maxLatencyMs: round(maxLatency),
      },
      flooderEvictions,
      honestEvictions: allEvictions - flooderEvictions,
      removedAtHonest: {
        expired: removed('expired'),
        evicted: removed('evicted'),
      },
      note: 'maxima over every sample of the most any honest node held; bounds: maxSlots, maxBytes, peerShare x each, (n-1) x maxSlots wants',
    },
    wallMs: Math.round(performance.now() - wall),
  };
  const bins = [...net.traffic.series.entries()].sort((a, b) => a[0] - b[0]);
  return {
    result,
    deliveries: [],
    series: () => CH,
    traffic: { binMs: net.traffic.binMs, bins },
    expectedByChannel: { [CH]: expectedDeliveries },
    samples,
  };
}
