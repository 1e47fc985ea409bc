/**
 * Text output of the demo: the closing report table and the live progress line.
 * @module
 */
import type { DemoProgress } from './run-demo.ts';
import type { DemoResult, LatencySummary } from './summary.ts';

/** Bytes in decimal units: kB below 1 MB, else MB. */
function mb(bytes: number): string {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function ms(value: number | null): string {
  if (value === null) return '-';
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
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

function laneRow(
  lane: string,
  size: number,
  delivered: number,
  expected: number,
  wire: number,
  latency: LatencySummary,
): string[] {
  return [
    lane,
    `${size} B`,
    `${delivered} / ${expected}`,
    mb(wire),
    ms(latency.p50),
    ms(latency.p99),
    ms(latency.max),
  ];
}

/** The closing report of a run, as a table (ends with a newline). */
export function formatReport(r: DemoResult): string {
  const urgent = Math.ceil(r.messagesPerNode / r.urgentEvery);
  const perNode =
    `${r.messagesPerNode} x ${r.size} B bulk + ${urgent} x ${r.urgentSize} B urgent ` +
    `(1 per ${r.urgentEvery} bulk)`;
  const summary = columns(
    [
      ['nodes', `${r.nodes} (subnet 'demo' on 127.0.0.1, one worker thread each)`],
      ['workload', `every node to every other: ${perNode}`],
      ['links up', `${r.linksUp} / ${r.expectedLinks}`],
      ['payload', `${mb(r.payloadBytes)} delivered`],
      [
        'wire bytes',
        `${mb(r.wireBytes)} framed, all lanes (control ${mb(r.wireBytesByLane.control)})`,
      ],
      ['overhead', r.overhead === null ? '-' : `${r.overhead.toFixed(4)} x payload`],
      ['setup', `${(r.setupMs / 1000).toFixed(2)} s (identities, workers, registry, mesh)`],
      ['duration', `${(r.durationMs / 1000).toFixed(2)} s`],
      ['throughput', `${r.throughputMBps.toFixed(1)} MB/s payload delivered`],
    ],
    [false, false],
  );
  const lanes = columns(
    [
      ['lane', 'size', 'delivered / expected', 'wire', 'p50 ms', 'p99 ms', 'max ms'],
      laneRow(
        'high',
        r.urgentSize,
        r.delivered.high,
        r.expected.high,
        r.wireBytesByLane.high,
        r.latencyMs.high,
      ),
      laneRow(
        'bulk',
        r.size,
        r.delivered.bulk,
        r.expected.bulk,
        r.wireBytesByLane.bulk,
        r.latencyMs.bulk,
      ),
    ],
    [false, true, true, true, true, true, true],
  );
  const problems: string[] = [];
  if (r.sendErrors > 0) problems.push(`${r.sendErrors} sends failed`);
  if (r.linkDrops > 0) problems.push(`${r.linkDrops} link drops`);
  if (r.malformed > 0) problems.push(`${r.malformed} malformed messages`);
  if (r.reportingNodes < r.nodes) problems.push(`${r.reportingNodes} of ${r.nodes} nodes reported`);
  if (r.error !== undefined) problems.push(r.error);
  const lines = [
    'subnet-p2p demo',
    '',
    ...summary.map((l) => `  ${l}`),
    '',
    ...lanes.map((l) => `  ${l}`),
    '',
    '  latency: one way, from send() to delivery; 1 MB = 10^6 bytes, 1 kB = 10^3 bytes',
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
      return `[${bar}] ${Math.floor(share * 100)}%  received ${mb(p.receivedBytes)} / ${mb(p.expectedBytes)}`;
    }
    case 'stopping':
      return 'stopping nodes...';
  }
}
