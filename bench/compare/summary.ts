/**
 * The comparison's figures: each round's node reports and wire bytes combined into one row per
 * system and size, the ratios between systems, the goals, and the markdown table.
 * @module
 */
import { quantile } from '../../src/sim/stats.ts';
import type { SystemName } from './protocol.ts';
import type { RawRound } from './run-system.ts';

/** One system at one artifact size. 1 MB = 10^6 bytes. */
export interface RoundResult {
  system: SystemName;
  size: number;
  perNode: number;
  nodes: number;
  /** subnet-p2p: the channel of the round (`default`: created without options). */
  channel?: string;
  /** Artifacts broadcast, all nodes: nodes x perNode. */
  artifacts: number;
  /** artifacts x size. */
  payloadBytes: number;
  /** (nodes - 1) x payloadBytes: every artifact carried once to every other node. */
  idealBytes: number;
  expectedDeliveries: number;
  deliveries: number;
  /** Every node got every other node's artifacts, once, and nothing failed. */
  complete: boolean;
  /** From the common start to the last node holding every artifact, ms. */
  durationMs: number | null;
  /** Payload delivered (all receivers) per second of durationMs. */
  throughputMBps: number | null;
  /** TCP payload bytes sent by all nodes' sockets during the round (kernel counters, `ss`). */
  wireBytes: number | null;
  /** wireBytes / idealBytes. */
  amplification: number | null;
  /** Payload copies received beyond the first of each (artifact, receiver). */
  duplicateReceptions: number | null;
  /** One-way latency, origin's broadcast call to delivery, all receivers, ms. */
  latencyMs: { p50: number | null; p99: number | null; max: number | null };
  /** CPU time of all node processes during the round, s. */
  cpuSeconds: number;
  /** cpuSeconds per MB of payload delivered (all receivers), ms: CPU cost per byte. */
  cpuMsPerMB: number | null;
  /** Largest resident set of one node process during the round, and the sum over nodes, MB. */
  peakRssMB: { maxNode: number; allNodes: number };
  /** System counters summed over the nodes (deltas of the round). */
  counters: Record<string, number>;
  sockets: number | null;
  socketsLost: number | null;
  /** When the round ran and in which processes (for bench/perf-stages.ts). */
  window?: RawRound['window'];
  /** With profiles: self time by stage, ms, summed over the nodes (see profile-stages.ts). */
  stages?: Record<string, number>;
  error?: string;
}

function sumOf<T>(items: readonly T[], f: (x: T) => number): number {
  return items.reduce((s, x) => s + f(x), 0);
}

/** Payload copies received in the round, all nodes, or null when unknown. */
function payloadCopies(raw: RawRound, counters: Record<string, number>): number | null {
  if (raw.system === 'raw-tls') return sumOf(raw.reports, (r) => r.deliveries + r.appDuplicates);
  if (raw.system === 'subnet-p2p') {
    // Each inline update sent reaches its peer once; downloads count where they land.
    return (
      (counters.inlineSent ?? 0) +
      (counters.downloadsSucceeded ?? 0) +
      (counters.duplicateDownloads ?? 0)
    );
  }
  const per = raw.reports.map((r) => r.payloadCopies);
  return per.some((c) => c === null) ? null : sumOf(per, (c) => c ?? 0);
}

export function summarizeRound(raw: RawRound): RoundResult {
  const { reports, nodes, perNode, size } = raw;
  const artifacts = nodes * perNode;
  const payloadBytes = artifacts * size;
  const idealBytes = (nodes - 1) * payloadBytes;
  const expectedDeliveries = (nodes - 1) * artifacts;
  const deliveries = sumOf(reports, (r) => r.deliveries);
  const receivedBytes = sumOf(reports, (r) => r.receivedBytes);
  const counters: Record<string, number> = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
  }
  const copies = reports.length === nodes ? payloadCopies(raw, counters) : null;
  const latencies = reports.flatMap((r) => Array.from(r.latenciesMs)).sort((a, b) => a - b);
  const pick = (q: number) => (latencies.length > 0 ? quantile(latencies, q) : null);
  const wireBytes = raw.wire?.bytes ?? null;
  const complete =
    raw.error === undefined &&
    reports.length === nodes &&
    deliveries === expectedDeliveries &&
    reports.every((r) => r.malformed === 0 && r.appDuplicates === 0 && r.broadcastErrors === 0);
  const durationMs = raw.durationMs;
  const result: RoundResult = {
    system: raw.system,
    size,
    perNode,
    nodes,
    ...(raw.channel !== undefined ? { channel: raw.channel } : {}),
    artifacts,
    payloadBytes,
    idealBytes,
    expectedDeliveries,
    deliveries,
    complete,
    durationMs,
    throughputMBps: durationMs !== null && durationMs > 0 ? receivedBytes / 1e3 / durationMs : null,
    wireBytes,
    amplification: wireBytes !== null && idealBytes > 0 ? wireBytes / idealBytes : null,
    duplicateReceptions: copies === null ? null : copies - deliveries,
    latencyMs: { p50: pick(0.5), p99: pick(0.99), max: pick(1) },
    cpuSeconds: sumOf(reports, (r) => r.cpuSeconds),
    cpuMsPerMB:
      receivedBytes > 0
        ? (sumOf(reports, (r) => r.cpuSeconds) * 1e3) / (receivedBytes / 1e6)
        : null,
    peakRssMB: {
      maxNode: Math.max(0, ...reports.map((r) => r.peakRssBytes)) / 1e6,
      allNodes: sumOf(reports, (r) => r.peakRssBytes) / 1e6,
    },
    counters,
    sockets: raw.wire?.sockets ?? null,
    socketsLost: raw.wire?.socketsLost ?? null,
  };
  if (raw.window !== undefined) result.window = raw.window;
  if (raw.error !== undefined) result.error = raw.error;
  return result;
}

/** Ratios of subnet-p2p to the other systems at one size. */
export interface SizeRatios {
  size: number;
  /** subnet-p2p throughput / gossipsub throughput. */
  throughputVsGossipsub: number | null;
  /** subnet-p2p throughput / raw TLS throughput. */
  throughputVsRaw: number | null;
  /** gossipsub throughput / raw TLS throughput. */
  gossipsubVsRaw: number | null;
  /** subnet-p2p CPU seconds / gossipsub CPU seconds (same work). */
  cpuVsGossipsub: number | null;
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || b <= 0 ? null : a / b;
}

/** A round's throughput and CPU per MB, if it completed (else null). */
const tput = (r: RoundResult | undefined) => (r?.complete ? r.throughputMBps : null);
const cpuPerMB = (r: RoundResult | undefined) => (r?.complete ? r.cpuMsPerMB : null);

export function ratiosAt(results: readonly RoundResult[], size: number): SizeRatios {
  // subnet-p2p at 1 KiB runs on two channels: gossipsub's ratios take `consensus` (as before).
  const at = (s: SystemName) =>
    results.find((r) => r.system === s && r.size === size && r.channel !== 'default') ??
    results.find((r) => r.system === s && r.size === size);
  const ours = at('subnet-p2p');
  const gs = at('gossipsub');
  const raw = at('raw-tls');
  return {
    size,
    throughputVsGossipsub: ratio(tput(ours), tput(gs)),
    throughputVsRaw: ratio(tput(ours), tput(raw)),
    gossipsubVsRaw: ratio(tput(gs), tput(raw)),
    cpuVsGossipsub: ours?.complete && gs?.complete ? ratio(ours.cpuSeconds, gs.cpuSeconds) : null,
  };
}

/** One goal of issue 18: a figure, its bound, and whether it holds (null: no goal or no figure). */
export interface Check {
  measured: number | null;
  /** `<= 1.5`, `>= 0.7`; null where the issue sets no goal. */
  goal: string | null;
  met: boolean | null;
}

function check(measured: number | null, op: '<=' | '>=', bound: number | null): Check {
  if (bound === null) return { measured, goal: null, met: null };
  const met = measured === null ? null : op === '<=' ? measured <= bound : measured >= bound;
  return { measured, goal: `${op} ${bound}`, met };
}

/** The headline of issue 18: one subnet-p2p round against raw TLS at the same size, same run. */
export interface HeadlineRow {
  size: number;
  channel: string | null;
  cpuMsPerMB: number | null;
  rawCpuMsPerMB: number | null;
  cpuRatio: Check;
  throughputRatio: Check;
  amplification: Check;
  latencyMs: { p50: number | null; p99: number | null };
  rawLatencyMs: { p50: number | null; p99: number | null };
}

/** Headline rows, one per subnet-p2p round that has a raw TLS round of its size. */
export function headline(results: readonly RoundResult[]): HeadlineRow[] {
  const out: HeadlineRow[] = [];
  for (const ours of results) {
    if (ours.system !== 'subnet-p2p') continue;
    const raw = results.find((r) => r.system === 'raw-tls' && r.size === ours.size);
    const large = ours.size >= 64 * 1024;
    const oursCpu = cpuPerMB(ours);
    const rawCpu = cpuPerMB(raw);
    const ampGoal = large ? 1.02 : ours.channel === 'default' ? 1.2 : null;
    out.push({
      size: ours.size,
      channel: ours.channel ?? null,
      cpuMsPerMB: oursCpu,
      rawCpuMsPerMB: rawCpu,
      cpuRatio: check(ratio(oursCpu, rawCpu), '<=', large ? 1.5 : 3),
      throughputRatio: check(ratio(tput(ours), tput(raw)), '>=', large ? 0.7 : 0.5),
      amplification: check(ours.complete ? ours.amplification : null, '<=', ampGoal),
      latencyMs: { p50: ours.latencyMs.p50, p99: ours.latencyMs.p99 },
      rawLatencyMs: { p50: raw?.latencyMs.p50 ?? null, p99: raw?.latencyMs.p99 ?? null },
    });
  }
  return out;
}

/**
 * The design's floor at one workload: raw-pull (the least the design requires, hand-written on
 * TLS) against raw TLS, what the design costs; subnet-p2p against raw-pull, what the
 * implementation adds over it. One row per subnet-p2p round at a size raw-pull ran (1 KiB: both
 * channels), or one for the size if subnet-p2p did not run it. Ratios of completed rounds only.
 */
export interface FloorRow {
  size: number;
  /** subnet-p2p's channel in the round, or null. */
  channel: string | null;
  /** CPU ms per delivered MB of each system. */
  rawCpuMsPerMB: number | null;
  pullCpuMsPerMB: number | null;
  oursCpuMsPerMB: number | null;
  /** raw-pull / raw TLS: CPU ms per MB, and delivered MB/s. */
  pullVsRaw: { cpu: number | null; throughput: number | null };
  /** subnet-p2p / raw-pull: CPU ms per MB, and delivered MB/s. */
  oursVsPull: { cpu: number | null; throughput: number | null };
  /**
   * (raw-pull - raw TLS) / (subnet-p2p - raw TLS), CPU ms per MB: the share of subnet-p2p's extra
   * CPU per byte over raw TLS that the design's floor pays too (null unless subnet-p2p's is above
   * raw TLS's).
   */
  designShare: number | null;
}

export function floorRows(results: readonly RoundResult[]): FloorRow[] {
  const out: FloorRow[] = [];
  for (const pull of results) {
    if (pull.system !== 'raw-pull') continue;
    const raw = results.find((r) => r.system === 'raw-tls' && r.size === pull.size);
    const ours = results.filter((r) => r.system === 'subnet-p2p' && r.size === pull.size);
    for (const o of ours.length > 0 ? ours : [undefined]) {
      const [rawCpu, pullCpu, oursCpu] = [cpuPerMB(raw), cpuPerMB(pull), cpuPerMB(o)];
      const extra = oursCpu === null || rawCpu === null ? null : oursCpu - rawCpu;
      out.push({
        size: pull.size,
        channel: o?.channel ?? null,
        rawCpuMsPerMB: rawCpu,
        pullCpuMsPerMB: pullCpu,
        oursCpuMsPerMB: oursCpu,
        pullVsRaw: { cpu: ratio(pullCpu, rawCpu), throughput: ratio(tput(pull), tput(raw)) },
        oursVsPull: { cpu: ratio(oursCpu, pullCpu), throughput: ratio(tput(o), tput(pull)) },
        designShare:
          extra === null || pullCpu === null || rawCpu === null
            ? null
            : ratio(pullCpu - rawCpu, extra),
      });
    }
  }
  return out;
}

/** One goal of issue 8 and whether this run met it (null: not measured). */
export interface GoalResult {
  goal: string;
  size: number;
  measured: number | null;
  met: boolean | null;
}

/** Issue 8's goals against gossipsub: none when gossipsub did not run. */
export function goals(results: readonly RoundResult[], ratios: readonly SizeRatios[]) {
  const out: GoalResult[] = [];
  if (!results.some((r) => r.system === 'gossipsub')) return out;
  for (const r of ratios) {
    const large = r.size >= 64 * 1024;
    const want = large ? 3 : 1;
    out.push({
      goal: `throughput >= ${want}x gossipsub`,
      size: r.size,
      measured: r.throughputVsGossipsub,
      met: r.throughputVsGossipsub === null ? null : r.throughputVsGossipsub >= want,
    });
    if (large) {
      const ours = results.find((x) => x.system === 'subnet-p2p' && x.size === r.size);
      const amp = ours?.complete ? ours.amplification : null;
      out.push({
        goal: 'amplification <= 1.05',
        size: r.size,
        measured: amp,
        met: amp === null ? null : amp <= 1.05,
      });
      out.push({
        goal: 'throughput >= 0.6x raw TLS',
        size: r.size,
        measured: r.throughputVsRaw,
        met: r.throughputVsRaw === null ? null : r.throughputVsRaw >= 0.6,
      });
    }
  }
  return out;
}

/** "1 KiB", "64 KiB", "1 MiB", or bytes. */
export function sizeLabel(size: number): string {
  if (size >= 1 << 20 && size % (1 << 20) === 0) return `${size >> 20} MiB`;
  if (size >= 1 << 10 && size % (1 << 10) === 0) return `${size >> 10} KiB`;
  return `${size} B`;
}

function fmt(x: number | null | undefined, digits = 1): string {
  if (x == null || !Number.isFinite(x)) return '–';
  return x.toFixed(digits);
}

/**
 * One markdown table: `head`, then `rows`; the columns flagged in `right` are right-aligned
 * (by default every column but the first).
 */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[] = head.map((_, i) => i > 0),
): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (right[i] ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

/** Markdown tables: one row per system and size, then the ratios and goals. */
export function markdownTables(
  results: readonly RoundResult[],
  ratios: readonly SizeRatios[],
  goalResults: readonly GoalResult[],
): string {
  const head = [
    'Size',
    'System',
    'Artifacts',
    'Complete',
    'Time s',
    'Delivered MB/s',
    'Wire MB',
    'Amplification',
    'Duplicate receptions',
    'p50 ms',
    'p99 ms',
    'CPU s',
    'CPU ms per MB',
    'Peak RSS MB (max node / all)',
  ];
  const rows = results.map((r) => [
    sizeLabel(r.size),
    systemLabel(r),
    `${r.nodes} x ${r.perNode}`,
    r.complete ? 'yes' : `no${r.error ? ` (${r.error})` : ''}`,
    fmt(r.durationMs === null ? null : r.durationMs / 1000, 2),
    fmt(r.throughputMBps, 1),
    fmt(r.wireBytes === null ? null : r.wireBytes / 1e6, 1),
    // Sockets closed during the round took their counts with them: a lower bound.
    `${fmt(r.amplification, 3)}${r.socketsLost ? ` (≥; ${r.socketsLost} sockets lost)` : ''}`,
    r.duplicateReceptions === null ? '–' : String(r.duplicateReceptions),
    fmt(r.latencyMs.p50, 1),
    fmt(r.latencyMs.p99, 1),
    fmt(r.cpuSeconds, 1),
    fmt(r.cpuMsPerMB, 1),
    `${fmt(r.peakRssMB.maxNode, 0)} / ${fmt(r.peakRssMB.allNodes, 0)}`,
  ]);
  const main = markdownTable(
    head,
    rows,
    head.map((_, i) => i >= 4),
  );
  const ratioHead = [
    'Size',
    'subnet-p2p / gossipsub MB/s',
    'subnet-p2p / raw TLS MB/s',
    'gossipsub / raw TLS MB/s',
    'subnet-p2p / gossipsub CPU s',
  ];
  const ratioRows = ratios.map((r) => [
    sizeLabel(r.size),
    fmt(r.throughputVsGossipsub, 2),
    fmt(r.throughputVsRaw, 2),
    fmt(r.gossipsubVsRaw, 2),
    fmt(r.cpuVsGossipsub, 2),
  ]);
  const goalRows = goalResults.map((g) => [
    sizeLabel(g.size),
    g.goal,
    fmt(g.measured, g.goal.startsWith('amplification') ? 3 : 2),
    g.met === null ? 'not measured' : g.met ? 'yes' : 'no',
  ]);
  const checkCell = (c: Check, digits: number) =>
    `${fmt(c.measured, digits)}${c.goal === null ? '' : ` (goal ${c.goal}: ${c.met === null ? 'not measured' : c.met ? 'met' : 'not met'})`}`;
  const headHead = [
    'Workload',
    'subnet-p2p CPU ms/MB',
    'raw TLS CPU ms/MB',
    'CPU ratio',
    'Throughput vs raw',
    'Amplification',
    'p50 ms (ours / raw)',
    'p99 ms (ours / raw)',
  ];
  const headRows = headline(results).map((h) => [
    workloadLabel(h.size, h.channel),
    fmt(h.cpuMsPerMB, 1),
    fmt(h.rawCpuMsPerMB, 1),
    checkCell(h.cpuRatio, 2),
    checkCell(h.throughputRatio, 2),
    checkCell(h.amplification, 3),
    `${fmt(h.latencyMs.p50, 0)} / ${fmt(h.rawLatencyMs.p50, 0)}`,
    `${fmt(h.latencyMs.p99, 0)} / ${fmt(h.rawLatencyMs.p99, 0)}`,
  ]);
  const parts = [
    markdownTable(
      headHead,
      headRows,
      headHead.map((_, i) => i > 0),
    ),
  ];
  const floor = floorRows(results);
  if (floor.length > 0) {
    const floorHead = [
      'Workload',
      'raw TLS CPU ms/MB',
      'raw-pull CPU ms/MB',
      'subnet-p2p CPU ms/MB',
      'raw-pull / raw TLS CPU ms/MB',
      'raw-pull / raw TLS MB/s',
      'subnet-p2p / raw-pull CPU ms/MB',
      'subnet-p2p / raw-pull MB/s',
      '(raw-pull - raw TLS) / (subnet-p2p - raw TLS) CPU ms/MB, %',
    ];
    const floorBody = floor.map((f) => [
      workloadLabel(f.size, f.channel),
      fmt(f.rawCpuMsPerMB, 1),
      fmt(f.pullCpuMsPerMB, 1),
      fmt(f.oursCpuMsPerMB, 1),
      fmt(f.pullVsRaw.cpu, 2),
      fmt(f.pullVsRaw.throughput, 2),
      fmt(f.oursVsPull.cpu, 2),
      fmt(f.oursVsPull.throughput, 2),
      fmt(f.designShare === null ? null : f.designShare * 100, 0),
    ]);
    parts.push(
      markdownTable(
        floorHead,
        floorBody,
        floorHead.map((_, i) => i > 0),
      ),
    );
  }
  parts.push(main);
  if (results.some((r) => r.system === 'gossipsub')) {
    parts.push(
      markdownTable(
        ratioHead,
        ratioRows,
        ratioHead.map((_, i) => i > 0),
      ),
      markdownTable(['Size', 'Goal', 'Measured', 'Met'], goalRows, [false, false, true, false]),
    );
  }
  const stages = stageTable(results);
  if (stages !== '') parts.push(stages);
  return parts.join('\n\n');
}

/** "1 KiB default channel", "64 KiB ingress", "1 MiB": a size and subnet-p2p's channel, if any. */
function workloadLabel(size: number, channel: string | null): string {
  if (channel === null) return sizeLabel(size);
  return `${sizeLabel(size)} ${channel === 'default' ? 'default channel' : channel}`;
}

/** "subnet-p2p (consensus)", "raw-tls". */
export function systemLabel(r: RoundResult): string {
  return r.channel === undefined ? r.system : `${r.system} (${r.channel})`;
}

/** Stages that are not the system's work: waiting, and the benchmark's own sampling. */
const NOT_BUSY = new Set(['idle', 'benchmark']);

/**
 * Self time by stage, one column per profiled round: each stage's share of the busy (not idle)
 * samples of all the round's nodes, and that share of the round's measured CPU per delivered MB
 * (ms). The profiler samples wall time: a process waiting for a core is charged to the frame it
 * runs, which favours frames that enter the kernel (socket writes, copies into fresh memory that
 * fault pages in). The shares are what to read, with that bias (docs/benchmarks.md measures it);
 * the sampled ms are in the `busy` and `idle` rows.
 */
export function stageTable(results: readonly RoundResult[]): string {
  const profiled = results.filter((r) => r.stages !== undefined);
  if (profiled.length === 0) return '';
  const names = [...new Set(profiled.flatMap((r) => Object.keys(r.stages!)))].filter(
    (n) => !NOT_BUSY.has(n),
  );
  const head = [
    'Stage: % of busy samples (CPU ms per MB)',
    ...profiled.map((r) => `${sizeLabel(r.size)} ${systemLabel(r)}`),
  ];
  const busy = (r: RoundResult) =>
    Object.entries(r.stages!).reduce((a, [n, ms]) => (NOT_BUSY.has(n) ? a : a + ms), 0);
  const cell = (r: RoundResult, ms: number) => {
    const b = busy(r);
    if (b <= 0) return '–';
    const share = ms / b;
    return `${(share * 100).toFixed(1)} % (${fmt(r.cpuMsPerMB === null ? null : share * r.cpuMsPerMB, 1)})`;
  };
  const rows = names.map((n) => [n, ...profiled.map((r) => cell(r, r.stages![n] ?? 0))]);
  rows.push(
    ['CPU ms per MB (measured)', ...profiled.map((r) => fmt(r.cpuMsPerMB, 1))],
    ['busy samples, ms (all nodes)', ...profiled.map((r) => busy(r).toFixed(0))],
    ['idle samples, ms (all nodes)', ...profiled.map((r) => (r.stages!.idle ?? 0).toFixed(0))],
    [
      "the benchmark's own samples (profiler start, RSS sampler), ms",
      ...profiled.map((r) => (r.stages!.benchmark ?? 0).toFixed(0)),
    ],
  );
  return markdownTable(head, rows);
}
