/**
 * Text output of the demo: the closing report table, the live progress line (a terminal) and
 * the periodic progress lines (no terminal).
 * @module
 */
import { type PeriodicProgressOptions, periodicProgress } from '../util/progress.ts';
import { CHANNELS } from './protocol.ts';
import type { DemoProgress } from './run-demo.ts';
import type { DemoResult, LatencySummary } from './summary.ts';

/** Bytes in decimal units: B, kB, MB or GB. */
function bytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** A size in binary units: B below 1 KiB, else KiB or MiB (one decimal unless round). */
function size(n: number | null): string {
  if (n === null) return '-';
  const unit = (value: number, name: string) =>
    `${Number.isInteger(value) ? value : value.toFixed(1)} ${name}`;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return unit(n / 1024, 'KiB');
  return unit(n / (1024 * 1024), 'MiB');
}

function ms(value: number | null): string {
  if (value === null) return '-';
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Lays out `rows` in columns separated by two spaces; `right[i]` right-aligns column i. */
function columns(rows: readonly string[][], right: readonly boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

function latencyCells(l: LatencySummary | undefined): string[] {
  return [ms(l?.p50 ?? null), ms(l?.p99 ?? null), ms(l?.max ?? null)];
}

/** How the workload was shaped, in a few words. */
function describeWorkload(r: DemoResult): string {
  const w = r.workload;
  const background = r.priority?.backgroundArtifacts ?? 0;
  const workloadArtifacts = r.artifacts - background;
  let text =
    w.size === null
      ? `${count(workloadArtifacts)} artifacts, mixed (every 4th consensus, urgent)`
      : `${count(workloadArtifacts)} artifacts of ${size(w.size)}`;
  text += `, spread over the ${r.nodes} nodes`;
  if (w.consensusIntervalMs > 0) {
    text += `; consensus paced at 1 per ${w.consensusIntervalMs} ms per node`;
    if (r.pacingLagMaxMs !== null) text += ` (at worst ${ms(r.pacingLagMaxMs)} ms late)`;
  }
  if (w.backgroundBulkBytes > 0) {
    text += `; + ${size(w.backgroundBulkBytes)} of background bulk per node (${count(background)} artifacts)`;
  }
  return text;
}

/** Peak resident memory, in a few words. */
function describeMemory(r: DemoResult): string {
  if (r.nodeIsolation === 'process') {
    return (
      `peak RSS ${r.peakRssMb} MB for the largest node process` +
      (r.peakParentRssMb === undefined ? '' : ` (demo process ${r.peakParentRssMb} MB)`)
    );
  }
  return `peak RSS ${r.peakRssMb} MB for the demo process, all nodes together`;
}

/** The closing report of a run, as tables (ends with a newline). */
export function formatReport(r: DemoResult): string {
  const amplification = r.amplification === null ? '-' : `${r.amplification.toFixed(3)} x ideal`;
  const summary = columns(
    [
      [
        'nodes',
        `${r.nodes} (subnet 'demo' on 127.0.0.1, one ` +
          `${r.nodeIsolation === 'process' ? 'process' : 'worker thread'} each, mutual TLS)`,
      ],
      ['links up', `${r.linksUp} / ${r.expectedLinks}`],
      ['workload', describeWorkload(r)],
      ['payload', `${bytes(r.payloadBytes)} broadcast (${count(r.artifacts)} artifacts)`],
      ['ideal', `${bytes(r.idealBytes)} (payload x ${r.nodes - 1} receivers)`],
      [
        'wire bytes',
        `${bytes(r.wireBytes)} written into TLS by all nodes ` +
          `(high ${bytes(r.wireBytesByLane.high)}, bulk ${bytes(r.wireBytesByLane.bulk)}, ` +
          `control ${bytes(r.wireBytesByLane.control)})`,
      ],
      ['amplification', amplification],
      [
        'downloads',
        `${count(r.downloads)} succeeded, ${count(r.duplicateDownloads)} duplicate, ` +
          `${count(r.downloadsRetried)} retried, ${count(r.downloadsCancelled)} cancelled`,
      ],
      [
        'slot updates',
        `${count(r.updatesSent.inline)} inline, ${count(r.updatesSent.advert)} adverts, ` +
          `${count(r.updatesSent.withdrawn)} withdrawals`,
      ],
      ['setup', `${(r.setupMs / 1000).toFixed(2)} s (identities, workers, registry, mesh)`],
      ['duration', `${(r.durationMs / 1000).toFixed(2)} s (start to last delivery)`],
      ['throughput', `${r.throughputMBps.toFixed(1)} MB/s payload delivered, all receivers`],
      ...(r.peakRssMb === undefined ? [] : [['memory', describeMemory(r)]]),
    ],
    [false, false],
  );
  const rows: string[][] = [
    ['channel', 'lane', 'artifacts', 'sizes', 'delivered / expected', 'p50 ms', 'p99 ms', 'max ms'],
  ];
  for (const name of CHANNELS) {
    const c = r.channels[name]!;
    const sizes =
      c.minSize === c.maxSize ? size(c.minSize) : `${size(c.minSize)}-${size(c.maxSize)}`;
    rows.push([
      name,
      c.lane,
      count(c.artifacts),
      c.artifacts > 0 ? sizes : '-',
      `${count(c.deliveries)} / ${count(c.expectedDeliveries)}`,
      ...latencyCells(r.latencyMs[name]),
    ]);
  }
  rows.push([
    'all',
    '',
    count(r.artifacts),
    '',
    `${count(r.deliveries)} / ${count(r.expectedDeliveries)}`,
    '',
    '',
    '',
  ]);
  const channelTable = columns(rows, [false, false, true, true, true, true, true, true]);

  const priority: string[] = [];
  if (r.priority) {
    const p = r.priority;
    const ratio = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)} x`);
    priority.push(
      '',
      ...columns(
        [
          ['consensus stream', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
          ['alone', count(p.consensusAlone.samples), ...latencyCells(p.consensusAlone)],
          [
            'with background bulk',
            count(p.consensusWithBulk.samples),
            ...latencyCells(p.consensusWithBulk),
          ],
          ['ratio', '', ratio(p.p50Ratio), ratio(p.p99Ratio), ''],
        ],
        [false, true, true, true, true],
      ).map((l) => `  ${l}`),
      `  background bulk: ${p.bulkThroughputMBps === null ? '-' : p.bulkThroughputMBps.toFixed(1)} MB/s delivered; ` +
        (p.bulkBusyThroughout
          ? 'still running when the last loaded consensus artifact was sent'
          : 'NOT running under the whole loaded stream (raise --background-bulk)'),
    );
  }

  const problems: string[] = [];
  if (r.linkDrops > 0) problems.push(`${r.linkDrops} link drops`);
  if (r.broadcastErrors > 0) problems.push(`${r.broadcastErrors} broadcasts failed`);
  if (r.duplicateDeliveries > 0) problems.push(`${r.duplicateDeliveries} duplicate deliveries`);
  if (r.malformed > 0) problems.push(`${r.malformed} malformed deliveries`);
  if (r.deliveriesDropped > 0) problems.push(`${r.deliveriesDropped} deliveries dropped`);
  if (r.reportingNodes < r.nodes) problems.push(`${r.reportingNodes} of ${r.nodes} nodes reported`);
  if (r.error !== undefined) problems.push(r.error);
  const notes: string[] = [];
  if (r.broadcastRetries > 0) {
    notes.push(
      `  ${count(r.broadcastRetries)} broadcast() calls hit ERR_QUEUE_FULL and were retried`,
    );
  }
  const lines = [
    'subnet-p2p demo: broadcast',
    '',
    ...summary.map((l) => `  ${l}`),
    '',
    ...channelTable.map((l) => `  ${l}`),
    ...priority,
    '',
    '  latency: one way, from the origin’s broadcast() to delivery at each receiver',
    '  1 kB = 10^3 bytes, 1 MB = 10^6 bytes; 1 KiB = 2^10 bytes, 1 MiB = 2^20 bytes',
    ...notes,
    ...(r.directory === undefined ? [] : [`  kept: ${r.directory}`]),
    `  result: ${r.complete ? 'complete' : `INCOMPLETE${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`}`,
  ];
  return `${lines.join('\n')}\n`;
}

const BAR_WIDTH = 20;

/** One line (no newline) describing `p`, for a terminal's status line. */
export function formatProgress(p: DemoProgress): string {
  switch (p.phase) {
    case 'setup':
      return `generating ${p.nodes} identities...`;
    case 'starting':
      return `starting nodes: ${p.nodesListening} / ${p.nodes} listening`;
    case 'connecting':
      return `connecting: ${p.linksUp} / ${p.expectedLinks} links up`;
    case 'running': {
      const share = p.expectedBytes > 0 ? Math.min(1, p.receivedBytes / p.expectedBytes) : 1;
      const filled = Math.round(share * BAR_WIDTH);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
      return (
        `[${bar}] ${Math.floor(share * 100)}%  ${count(p.deliveries)} / ` +
        `${count(p.expectedDeliveries)} deliveries, ${bytes(p.receivedBytes)} / ${bytes(p.expectedBytes)}` +
        (p.chunks > 0 ? `, chunks ${count(p.chunksDone)} / ${count(p.chunks)}` : '')
      );
    }
    case 'ceiling':
      return 'measuring the raw ceiling (plain TLS, one origin to every node)...';
    case 'stopping':
      return 'stopping nodes...';
  }
}

/** Where a run is, in a few words (no bar, no newline), for a progress line in a log. */
export function describeProgress(p: DemoProgress): string {
  switch (p.phase) {
    case 'setup':
      return `generating ${p.nodes} identities`;
    case 'starting':
      return `starting nodes, ${p.nodesListening}/${p.nodes} listening`;
    case 'connecting':
      return `connecting, ${p.linksUp}/${p.expectedLinks} links up`;
    case 'running':
      return (
        `${count(p.deliveries)}/${count(p.expectedDeliveries)} delivered ` +
        `(${bytes(p.receivedBytes)} of ${bytes(p.expectedBytes)}` +
        (p.chunks > 0 ? `, chunks ${count(p.chunksDone)}/${count(p.chunks)})` : ')')
      );
    case 'ceiling':
      return 'measuring the raw ceiling';
    case 'stopping':
      return 'stopping nodes';
  }
}

/** Progress lines of a demo run when stderr is not a terminal; see {@link demoProgressLines}. */
export interface DemoProgressLines {
  /** Give it to `runDemo` as `onProgress` (it only keeps the latest progress). */
  readonly onProgress: (progress: DemoProgress) => void;
  /** No more lines: call it when the run settled. */
  readonly stop: () => void;
}

/**
 * Prints `<label>: starting N nodes, 0.0 s` at once, then where the run is every few seconds
 * (`demo: 812/1,300 delivered (12.3 MB of 40.0 MB), 14.2 s`), unless stderr is a terminal
 * (`options.tty`); see {@link periodicProgress}.
 */
export function demoProgressLines(
  nodes: number,
  options: Omit<PeriodicProgressOptions, 'describe'> & { readonly label?: string } = {},
): DemoProgressLines {
  const label = options.label ?? 'demo';
  let latest: DemoProgress | undefined;
  const progress = periodicProgress({
    ...options,
    describe: () =>
      `${label}: ${latest === undefined ? `starting ${nodes} nodes` : describeProgress(latest)}`,
  });
  return {
    onProgress: (p) => {
      latest = p;
    },
    stop: () => progress.stop(),
  };
}
