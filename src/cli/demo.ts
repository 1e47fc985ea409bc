/**
 * `subnet-p2p demo` (what `npm start` runs): a local subnet of N nodes on 127.0.0.1, nothing to
 * set up, where every node broadcasts its share of a workload of consensus and ingress
 * artifacts and receives everybody else's; prints a report table (or `--json`). Progress goes to
 * stderr: a live status line on a terminal, else a line every few seconds. Exits 1 unless every
 * link came up and every artifact reached every other node.
 * @module
 */
import { totalmem } from 'node:os';
import type { Command } from 'commander';
import {
  CONSENSUS_PUSH_THRESHOLD,
  type DemoWorkload,
  HEADER_BYTES,
  LARGE_ARTIFACT_BYTES,
  MAX_ARTIFACT_BYTES,
} from '../demo/protocol.ts';
import { demoProgressLines, formatProgress, formatReport } from '../demo/report.ts';
import type { DemoProgress } from '../demo/run-demo.ts';
import type { DemoResult } from '../demo/summary.ts';
import {
  BACKGROUND_ARTIFACT_BYTES,
  DEFAULT_BACKGROUND_INTERVAL_MS,
  planWorkload,
} from '../demo/workload.ts';
import { SubnetP2pError } from '../errors.ts';
import { type CliIo, processIo } from './io.ts';
import { integer } from './options.ts';

/** The demo ran but did not complete (a link or delivery missing, a timeout, a node failed). */
export class DemoIncompleteError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_DEMO_INCOMPLETE', message);
  }
}

/** The asked-for workload would not fit in this machine's memory. */
export class DemoTooLargeError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_DEMO_TOO_LARGE', message);
  }
}

/** Default artifacts per node, when `--artifacts` is not given. */
export const DEFAULT_ARTIFACTS_PER_NODE = 24;

/** Share of the machine's memory the nodes' pools may take together. */
const MEMORY_SHARE = 0.5;

interface DemoCliOptions {
  nodes: number;
  artifacts?: number;
  size?: number;
  consensusIntervalMs: number;
  backgroundBulk: number;
  timeoutMs: number;
  keep?: boolean;
  json?: boolean;
  processes?: boolean;
}

/** Why `result` is not complete, in one line. */
function shortfall(r: DemoResult): string {
  if (r.error !== undefined) return `demo failed: ${r.error}`;
  const parts = [
    `links ${r.linksUp}/${r.expectedLinks}`,
    ...Object.entries(r.channels).map(
      ([name, c]) => `${name} ${c.deliveries}/${c.expectedDeliveries}`,
    ),
  ];
  if (r.reportingNodes < r.nodes) parts.push(`${r.reportingNodes}/${r.nodes} nodes reported`);
  if (r.broadcastErrors > 0) parts.push(`${r.broadcastErrors} broadcasts failed`);
  if (r.duplicateDeliveries > 0) parts.push(`${r.duplicateDeliveries} duplicate deliveries`);
  if (r.malformed > 0) parts.push(`${r.malformed} malformed deliveries`);
  return `demo incomplete: ${parts.join(', ')}`;
}

const DESCRIPTION = [
  'Run a local subnet on 127.0.0.1 (one worker thread per node, or one process per node with ' +
    '--processes; mutual TLS, identities and a ' +
    'signed registry in a temporary directory) where every node broadcasts its share of a ' +
    "workload and receives everybody else's; report deliveries and latency per channel, wire " +
    'bytes against the ideal, and duplicate downloads. Exits 1 unless every artifact reached ' +
    'every other node.',
  `Channels: 'consensus' (high lane, artifacts up to ${CONSENSUS_PUSH_THRESHOLD} B pushed inline) and ` +
    "'ingress' (bulk lane, advertised and pulled). Artifact k comes from node k % nodes. " +
    'Without --size the workload is mixed: every 4th artifact of a node is an urgent ' +
    'consensus artifact of 200-1000 B, the others are ingress artifacts of 16 KiB-1 MiB.',
  'Priority measurement: with --background-bulk B, each node sends the first half of its ' +
    'consensus artifacts alone (paced by --consensus-interval-ms, default ' +
    `${DEFAULT_BACKGROUND_INTERVAL_MS} ms then), then broadcasts B bytes of ` +
    `${BACKGROUND_ARTIFACT_BYTES / 1024 / 1024} MiB ingress artifacts as fast as the queues ` +
    'allow, and sends the second half while that bulk is pulled. The report compares the ' +
    'consensus latency of both halves (JSON: "priority"). Example:',
  '  subnet-p2p demo --artifacts 520 --size 500 \\\n' +
    '    --consensus-interval-ms 20 --background-bulk 8388608',
  'Memory: with --processes every node runs as a child process of its own, so "peakRssMb" ' +
    "(JSON) is the largest node process's resident memory; by default the nodes are worker " +
    `threads of one process and "peakRssMb" is that whole process's (all nodes together). ` +
    '"nodeIsolation" says which ran; "peakParentRssMb" is the demo process itself.',
].join('\n\n');

/** Registers `demo` on `program`. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .summary('run a local subnet and broadcast a workload among its nodes')
    .description(DESCRIPTION)
    .option('--nodes <n>', 'number of nodes', integer(2, 64), 13)
    .option(
      '--artifacts <n>',
      `artifacts broadcast in the run, all nodes together (default: nodes x ${DEFAULT_ARTIFACTS_PER_NODE})`,
      integer(1, 100_000),
    )
    .option(
      '--size <bytes>',
      `size of every artifact (consensus channel if <= ${CONSENSUS_PUSH_THRESHOLD}, else ingress; default: mixed)`,
      integer(HEADER_BYTES, MAX_ARTIFACT_BYTES),
    )
    .option(
      '--consensus-interval-ms <ms>',
      'pace each node’s consensus artifacts at one per this many ms (0: unpaced)',
      integer(0, 10_000),
      0,
    )
    .option(
      '--background-bulk <bytes>',
      'bulk ingress bytes each node broadcasts under the second half of its consensus stream',
      integer(0, 1024 * 1024 * 1024),
      0,
    )
    .option('--timeout-ms <ms>', 'fail if the run takes longer', integer(1000, 86_400_000), 120_000)
    .option('--keep', 'keep the temporary directory (identities, registry.json)')
    .option('--json', 'print one JSON object instead of the table')
    .option(
      '--processes',
      'run each node as a child process of its own instead of a worker thread (per-node memory)',
    )
    .action(async (options: DemoCliOptions) => {
      const workload: DemoWorkload = {
        artifacts: options.artifacts ?? options.nodes * DEFAULT_ARTIFACTS_PER_NODE,
        ...(options.size === undefined ? {} : { size: options.size }),
        consensusIntervalMs: options.consensusIntervalMs,
        backgroundBulkBytes: options.backgroundBulk,
      };
      // Every node keeps every artifact in memory (large ones go to disk chunk stores).
      const large = (options.size ?? 0) > LARGE_ARTIFACT_BYTES;
      const held = large ? 0 : options.nodes * planWorkload(options.nodes, workload).payloadBytes;
      if (held > MEMORY_SHARE * totalmem()) {
        throw new DemoTooLargeError(
          `the nodes would hold ${(held / 1e9).toFixed(1)} GB of artifacts in memory (each keeps ` +
            `every artifact), more than half of this machine's ${(totalmem() / 1e9).toFixed(1)} GB; ` +
            'use fewer or smaller artifacts',
        );
      }
      // A terminal gets a live status line; anything else (a pipe, CI) a line every few seconds.
      const live = io === processIo && process.stderr.isTTY === true;
      const lines = live
        ? undefined
        : demoProgressLines(options.nodes, { tty: false, write: io.stderr });
      const onProgress =
        lines?.onProgress ?? ((p: DemoProgress) => io.stderr(`\r${formatProgress(p)}\x1b[K`));
      let result: DemoResult;
      try {
        // Loaded here, not with the CLI: other commands start without the node's modules.
        const { runDemo } = await import('../demo/run-demo.ts');
        result = await runDemo({
          nodes: options.nodes,
          workload,
          timeoutMs: options.timeoutMs,
          keep: options.keep === true,
          nodeProcesses: options.processes === true,
          onProgress,
        });
      } finally {
        if (live) io.stderr('\r\x1b[K');
        lines?.stop();
      }
      io.stdout(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatReport(result));
      if (!result.complete) throw new DemoIncompleteError(shortfall(result));
    });
}
