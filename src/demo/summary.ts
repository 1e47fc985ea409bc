/**
 * The demo's result: the nodes' reports combined into subnet-wide figures (what the table and
 * `--json` show), and whether the run is complete.
 * @module
 */
import { CHANNELS, type ChannelName, type NodeReport } from './protocol.ts';
import type { WorkloadPlan } from './workload.ts';

/** Latency percentiles of one group of deliveries, ms (null without samples). */
export interface LatencySummary {
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** Number of samples. */
  samples: number;
}

/** One channel's figures. */
export interface ChannelResult {
  lane: 'high' | 'bulk';
  /** Artifacts broadcast on it, and the sum and range of their sizes, bytes. */
  artifacts: number;
  payloadBytes: number;
  minSize: number | null;
  maxSize: number | null;
  /** artifacts x (nodes - 1). */
  expectedDeliveries: number;
  /** Distinct (artifact, receiver) pairs delivered. */
  deliveries: number;
}

/** The consensus stream alone vs under saturating bulk (background-bulk runs). */
export interface PriorityResult {
  /** Consensus artifacts sent before the background bulk started. */
  consensusAlone: LatencySummary;
  /** Consensus artifacts sent while it ran. */
  consensusWithBulk: LatencySummary;
  /** consensusWithBulk.p99 / consensusAlone.p99. */
  p99Ratio: number | null;
  p50Ratio: number | null;
  backgroundBytesPerNode: number;
  backgroundArtifacts: number;
  /**
   * Whether every loaded consensus artifact was broadcast before the first node had received
   * all the background bulk (i.e. the bulk really ran underneath the whole loaded stream).
   */
  bulkBusyThroughout: boolean;
  /** Background payload delivered per second while it ran, all receivers, MB/s. */
  bulkThroughputMBps: number | null;
}

/** Everything the demo measured. Byte figures are bytes; 1 MB = 10^6 bytes. */
export interface DemoResult {
  nodes: number;
  /** Artifacts broadcast in the run (workload and background bulk). */
  artifacts: number;
  /** Sum of the sizes of the broadcast artifacts. */
  payloadBytes: number;
  /** artifacts x (nodes - 1). */
  expectedDeliveries: number;
  /** Distinct (artifact, receiver) pairs delivered. */
  deliveries: number;
  /** Every link up at the end, every node got every other node's artifacts, nothing wrong. */
  complete: boolean;
  /**
   * Bytes all nodes wrote into their TLS sockets (`subnet_p2p_transport_sent_bytes_total`, all
   * lanes: frame headers, adverts, fetch requests and responses, pushes, control), read after
   * every delivery.
   */
  wireBytes: number;
  /** (nodes - 1) x payloadBytes: every artifact carried once to every other node. */
  idealBytes: number;
  /** wireBytes / idealBytes. */
  amplification: number | null;
  /** `subnet_p2p_broadcast_duplicate_downloads_total`, all nodes. */
  duplicateDownloads: number;
  /** Downloads that succeeded (`subnet_p2p_broadcast_downloads_total{outcome="succeeded"}`). */
  downloads: number;
  /** One-way latency from the origin's broadcast() to delivery, per channel name. */
  latencyMs: Record<string, LatencySummary>;
  /**
   * Large (chunked) artifacts: chunk bytes their origins uploaded divided by their size (a star
   * from the origin would be nodes - 1); null without large artifacts.
   */
  originUploadRatio?: number | null;
  /**
   * How the nodes ran: as worker threads of the demo process (the default), or each as a
   * process of its own (`--processes`, `nodeProcesses`).
   */
  nodeIsolation?: 'thread' | 'process';
  /**
   * Largest resident memory of any node process, MB, sampled every 100 ms. With threads there
   * is one process: the demo's, every node and the orchestrator together (it bounds each
   * node's). With processes, the largest node process's own, of the nodes that reported (the
   * orchestrator is in `peakParentRssMb`).
   */
  peakRssMb?: number;
  /**
   * Largest resident memory of the demo process itself, MB, sampled every 100 ms: the
   * orchestrator and the raw-ceiling sockets, plus every node with threads (= `peakRssMb`).
   */
  peakParentRssMb?: number;
  /**
   * The largest node's own peak memory, MB: its V8 heap plus external memory (buffers),
   * sampled every 100 ms. Per node, even with threads; the process's native memory (OpenSSL,
   * libuv, thread stacks) is not in it.
   */
  peakNodeMemoryMb?: number;
  /**
   * Large-artifact runs: ms to send the payload from one origin to each other node through
   * plain TLS sockets (the raw ceiling), measured after the broadcast in the same run.
   */
  rawCeilingMs?: number | null;
  /** Chunk bytes received from each node (by index), all receivers, large artifacts. */
  largeBytesFromNode?: Record<string, number>;
  /** From the common start to the last node having every artifact, ms. */
  durationMs: number;
  /** Identities, registry, workers started, full mesh, ms. */
  setupMs: number;
  /** Payload delivered (all receivers) per second of the run, MB/s. */
  throughputMBps: number;
  channels: Record<string, ChannelResult>;
  wireBytesByLane: { control: number; high: number; bulk: number };
  /** Download outcomes besides success, all nodes. */
  downloadsRetried: number;
  downloadsFaulty: number;
  downloadsCancelled: number;
  /** Slot updates sent, all nodes, by kind. */
  updatesSent: { inline: number; advert: number; withdrawn: number };
  /** Links both ends reported up at the end. */
  linksUp: number;
  expectedLinks: number;
  /** Links that went down during the run, counted at both ends. */
  linkDrops: number;
  /** Artifacts delivered to a node a second time. */
  duplicateDeliveries: number;
  /** Deliveries that were no artifact of the workload. */
  malformed: number;
  /** Deliveries dropped by a full received() buffer. */
  deliveriesDropped: number;
  /** broadcast() calls refused with ERR_QUEUE_FULL and retried. */
  broadcastRetries: number;
  /** Artifacts that could not be broadcast. */
  broadcastErrors: number;
  /**
   * Paced runs: how far behind its schedule a node broadcast a paced consensus artifact at
   * worst, ms (a node too busy to keep the pace). Null without pacing.
   */
  pacingLagMaxMs: number | null;
  /** Nodes that posted a report. */
  reportingNodes: number;
  /** The options the workload ran with (defaults filled in). */
  workload: {
    size: number | null;
    consensusIntervalMs: number;
    backgroundBulkBytes: number;
  };
  /** Background-bulk runs only. */
  priority?: PriorityResult;
  /** Why the run stopped early (timeout, a node failed), if it did. */
  error?: string;
  /** The demo directory, when kept (`--keep`). */
  directory?: string;
}

/** Nearest-rank percentile of sorted `values` (q in (0, 1]). */
function percentile(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** Percentiles of all samples of `group` over the reports. */
export function summarizeLatency(reports: readonly NodeReport[], group: string): LatencySummary {
  const parts = reports.map((r) => r.latenciesMs[group] ?? new Float64Array(0));
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  all.sort();
  return {
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    max: percentile(all, 1),
    samples: all.length,
  };
}

/** Unordered pairs of nodes that each list the other as connected. */
function countLinks(reports: readonly NodeReport[]): number {
  const peersOf = new Map(reports.map((r) => [r.nodeId, new Set(r.connectedPeers)]));
  let links = 0;
  for (const r of reports) {
    for (const peer of r.connectedPeers) {
      if (r.nodeId < peer && peersOf.get(peer)?.has(r.nodeId)) links += 1;
    }
  }
  return links;
}

function sum(reports: readonly NodeReport[], f: (r: NodeReport) => number): number {
  return reports.reduce((total, r) => total + f(r), 0);
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b <= 0 ? null : a / b;
}

/** What {@link summarize} needs besides the reports. */
export interface RunFacts {
  plan: WorkloadPlan;
  /** The common start of the nodes' schedules (shared clock, ms), if the run got that far. */
  startAt?: number;
  setupMs: number;
  durationMs: number;
  error?: string;
  directory?: string;
}

function priorityOf(reports: readonly NodeReport[], facts: RunFacts): PriorityResult {
  const { plan } = facts;
  const alone = summarizeLatency(reports, 'consensus/alone');
  const loaded = summarizeLatency(reports, 'consensus/loaded');
  const lastLoaded = Math.max(...reports.map((r) => r.lastLoadedSentAt ?? -Infinity));
  const doneTimes = reports.map((r) => r.backgroundDoneAt);
  const firstDone = doneTimes.some((t) => t === null)
    ? Infinity
    : Math.min(...doneTimes.map((t) => t!));
  // Bulk throughput: background bytes delivered from the bulk's start to the last node having
  // all of it.
  const bulkBytes =
    plan.artifacts.filter((a) => a.phase === 'background').reduce((n, a) => n + a.size, 0) *
    (plan.nodes - 1);
  const lastDone = Math.max(...doneTimes.map((t) => t ?? -Infinity));
  const bulkMs =
    plan.bulkStartMs === null || facts.startAt === undefined || !Number.isFinite(lastDone)
      ? null
      : Math.max(1, lastDone - (facts.startAt + plan.bulkStartMs));
  return {
    consensusAlone: alone,
    consensusWithBulk: loaded,
    p99Ratio: ratio(loaded.p99, alone.p99),
    p50Ratio: ratio(loaded.p50, alone.p50),
    backgroundBytesPerNode: plan.workload.backgroundBulkBytes,
    backgroundArtifacts: plan.backgroundArtifacts,
    bulkBusyThroughout: loaded.samples > 0 && lastLoaded < firstDone,
    bulkThroughputMBps: bulkMs === null ? null : bulkBytes / 1e3 / bulkMs,
  };
}

/** Combines the nodes' reports (possibly fewer than the nodes) into the demo's result. */
export function summarize(reports: readonly NodeReport[], facts: RunFacts): DemoResult {
  const { plan } = facts;
  const { nodes } = plan;
  const others = nodes - 1;
  const channels: Record<string, ChannelResult> = {};
  for (const name of CHANNELS) {
    const c = plan.channels[name as ChannelName];
    channels[name] = {
      lane: name === 'consensus' ? 'high' : 'bulk',
      artifacts: c.artifacts,
      payloadBytes: c.payloadBytes,
      minSize: c.minSize,
      maxSize: c.maxSize,
      expectedDeliveries: c.artifacts * others,
      deliveries: sum(reports, (r) => r.deliveries[name] ?? 0),
    };
  }
  const wireBytesByLane = {
    control: sum(reports, (r) => r.wireBytes.control),
    high: sum(reports, (r) => r.wireBytes.high),
    bulk: sum(reports, (r) => r.wireBytes.bulk),
  };
  const wireBytes = wireBytesByLane.control + wireBytesByLane.high + wireBytesByLane.bulk;
  const idealBytes = others * plan.payloadBytes;
  const deliveries = sum(reports, (r) => Object.values(r.deliveries).reduce((a, b) => a + b, 0));
  const expectedDeliveries = plan.artifacts.length * others;
  const receivedBytes = sum(reports, (r) => r.receivedBytes);
  const linksUp = countLinks(reports);
  const expectedLinks = (nodes * others) / 2;
  const w = plan.workload;
  const result: DemoResult = {
    nodes,
    artifacts: plan.artifacts.length,
    payloadBytes: plan.payloadBytes,
    expectedDeliveries,
    deliveries,
    complete: false,
    wireBytes,
    idealBytes,
    amplification: idealBytes > 0 ? wireBytes / idealBytes : null,
    duplicateDownloads: sum(reports, (r) => r.broadcast.duplicateDownloads),
    downloads: sum(reports, (r) => r.broadcast.downloads.succeeded),
    latencyMs: Object.fromEntries(CHANNELS.map((c) => [c, summarizeLatency(reports, c)])),
    durationMs: facts.durationMs,
    setupMs: facts.setupMs,
    throughputMBps: facts.durationMs > 0 ? receivedBytes / 1e3 / facts.durationMs : 0,
    channels,
    wireBytesByLane,
    downloadsRetried: sum(reports, (r) => r.broadcast.downloads.retried),
    downloadsFaulty: sum(reports, (r) => r.broadcast.downloads.faulty),
    downloadsCancelled: sum(reports, (r) => r.broadcast.downloads.cancelled),
    updatesSent: {
      inline: sum(reports, (r) => r.broadcast.updatesSent.inline),
      advert: sum(reports, (r) => r.broadcast.updatesSent.advert),
      withdrawn: sum(reports, (r) => r.broadcast.updatesSent.withdrawn),
    },
    linksUp,
    expectedLinks,
    linkDrops: sum(reports, (r) => r.linkDrops),
    duplicateDeliveries: sum(reports, (r) => r.duplicateDeliveries),
    malformed: sum(reports, (r) => r.malformed),
    deliveriesDropped: sum(reports, (r) => r.broadcast.deliveriesDropped),
    broadcastRetries: sum(reports, (r) => r.broadcastRetries),
    broadcastErrors: sum(reports, (r) => r.broadcastErrors),
    pacingLagMaxMs: reports.reduce<number | null>(
      (worst, r) => (r.pacingLagMaxMs === null ? worst : Math.max(worst ?? 0, r.pacingLagMaxMs)),
      null,
    ),
    reportingNodes: reports.length,
    workload: {
      size: w.size > 0 ? w.size : null,
      consensusIntervalMs: w.consensusIntervalMs,
      backgroundBulkBytes: w.backgroundBulkBytes,
    },
  };
  if (w.backgroundBulkBytes > 0) result.priority = priorityOf(reports, facts);
  result.complete =
    facts.error === undefined &&
    reports.length === nodes &&
    reports.every((r) => r.finished) &&
    linksUp === expectedLinks &&
    deliveries === expectedDeliveries &&
    result.malformed === 0 &&
    result.duplicateDeliveries === 0 &&
    result.broadcastErrors === 0;
  if (facts.error !== undefined) result.error = facts.error;
  if (facts.directory !== undefined) result.directory = facts.directory;
  return result;
}
