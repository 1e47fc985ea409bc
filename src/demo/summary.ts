/**
 * The demo's result: the nodes' reports combined into subnet-wide figures (what the table and
 * `--json` show), and whether the run is complete.
 * @module
 */
import {
  type DemoWorkload,
  expectedPerPeer,
  type LaneCounts,
  type NodeReport,
  URGENT_BYTES,
  URGENT_EVERY,
} from './protocol.ts';

/** Latency percentiles of one lane, ms (null without samples). */
export interface LatencySummary {
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** Number of samples. */
  samples: number;
}

/** Everything the demo measured. Byte figures are bytes; 1 MB = 10^6 bytes. */
export interface DemoResult {
  nodes: number;
  /** Bulk messages each node sends to every other node. */
  messagesPerNode: number;
  /** Size of a bulk message, bytes. */
  size: number;
  /** Size of an urgent (high-lane) message, bytes. */
  urgentSize: number;
  /** One urgent message per this many bulk messages. */
  urgentEvery: number;
  /** Links both ends reported up at the end of the workload. */
  linksUp: number;
  expectedLinks: number;
  delivered: LaneCounts;
  expected: LaneCounts;
  /** Message bodies delivered, all lanes. */
  payloadBytes: number;
  /** Frame bytes handed to TLS by all nodes, all lanes (`subnet_p2p_transport_sent_bytes_total`). */
  wireBytes: number;
  wireBytesByLane: { control: number; high: number; bulk: number };
  /** wireBytes / payloadBytes (null without payload). */
  overhead: number | null;
  /** One-way latency from `send()` to delivery, per lane. */
  latencyMs: { high: LatencySummary; bulk: LatencySummary };
  /** Identities, registry, workers started, full mesh, ms. */
  setupMs: number;
  /** From the start signal to the last node having everything, ms. */
  durationMs: number;
  /** payloadBytes / durationMs, in MB/s. */
  throughputMBps: number;
  /** Sends rejected, all nodes. */
  sendErrors: number;
  /** Links that went down during the workload, counted at both ends. */
  linkDrops: number;
  /** Messages with an unexpected lane or length. */
  malformed: number;
  /** Nodes that posted a report. */
  reportingNodes: number;
  /** Every link up, every message delivered exactly as expected, no error. */
  complete: boolean;
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

function summarizeLatency(parts: Float64Array[]): LatencySummary {
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

/** What {@link summarize} needs besides the reports. */
export interface RunFacts {
  nodes: number;
  workload: DemoWorkload;
  setupMs: number;
  durationMs: number;
  error?: string;
  directory?: string;
}

/** Combines the nodes' reports (possibly fewer than `facts.nodes`) into the demo's result. */
export function summarize(reports: readonly NodeReport[], facts: RunFacts): DemoResult {
  const { nodes, workload } = facts;
  const pairs = nodes * (nodes - 1);
  const perPeer = expectedPerPeer(workload);
  const expected = { high: pairs * perPeer.high, bulk: pairs * perPeer.bulk };
  const delivered = {
    high: sum(reports, (r) => r.delivered.high),
    bulk: sum(reports, (r) => r.delivered.bulk),
  };
  const wireBytesByLane = {
    control: sum(reports, (r) => r.wireBytes.control),
    high: sum(reports, (r) => r.wireBytes.high),
    bulk: sum(reports, (r) => r.wireBytes.bulk),
  };
  const wireBytes = wireBytesByLane.control + wireBytesByLane.high + wireBytesByLane.bulk;
  const payloadBytes = sum(reports, (r) => r.payloadBytes);
  const linksUp = countLinks(reports);
  const expectedLinks = pairs / 2;
  const result: DemoResult = {
    nodes,
    messagesPerNode: workload.messages,
    size: workload.size,
    urgentSize: URGENT_BYTES,
    urgentEvery: URGENT_EVERY,
    linksUp,
    expectedLinks,
    delivered,
    expected,
    payloadBytes,
    wireBytes,
    wireBytesByLane,
    overhead: payloadBytes > 0 ? wireBytes / payloadBytes : null,
    latencyMs: {
      high: summarizeLatency(reports.map((r) => r.latenciesMs.high)),
      bulk: summarizeLatency(reports.map((r) => r.latenciesMs.bulk)),
    },
    setupMs: facts.setupMs,
    durationMs: facts.durationMs,
    throughputMBps: facts.durationMs > 0 ? payloadBytes / 1e3 / facts.durationMs : 0,
    sendErrors: sum(reports, (r) => r.sendErrors),
    linkDrops: sum(reports, (r) => r.linkDrops),
    malformed: sum(reports, (r) => r.malformed),
    reportingNodes: reports.length,
    complete: false,
  };
  result.complete =
    facts.error === undefined &&
    reports.length === nodes &&
    reports.every((r) => r.finished && r.shortPairs === 0) &&
    linksUp === expectedLinks &&
    delivered.high === expected.high &&
    delivered.bulk === expected.bulk &&
    result.malformed === 0 &&
    result.sendErrors === 0;
  if (facts.error !== undefined) result.error = facts.error;
  if (facts.directory !== undefined) result.directory = facts.directory;
  return result;
}
