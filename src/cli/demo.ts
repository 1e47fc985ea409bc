/**
 * `subnet-p2p demo` (what `npm start` runs): a local subnet of N nodes on 127.0.0.1, nothing to
 * set up, where every node sends messages to every other node on the bulk and high lanes;
 * prints a report table (or `--json`). Exits 1 unless every link came up and every message
 * was delivered.
 * @module
 */
import { type Command, InvalidArgumentError } from 'commander';
import { HEADER_BYTES } from '../demo/protocol.ts';
import { formatProgress, formatReport } from '../demo/report.ts';
import { type DemoProgress, runDemo } from '../demo/run-demo.ts';
import type { DemoResult } from '../demo/summary.ts';
import { SubnetP2pError } from '../errors.ts';
import { DEFAULT_LIMITS } from '../transport/index.ts';
import { type CliIo, processIo } from './io.ts';

/** The demo ran but did not complete (a link or message missing, a timeout, a node failed). */
export class DemoIncompleteError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_DEMO_INCOMPLETE', message);
  }
}

interface DemoCliOptions {
  nodes: number;
  messages: number;
  size: number;
  timeoutMs: number;
  keep?: boolean;
  json?: boolean;
}

/** A commander parser of an integer option in `min..max`. */
function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    }
    return n;
  };
}

/** Why `result` is not complete, in one line. */
function shortfall(r: DemoResult): string {
  if (r.error !== undefined) return `demo failed: ${r.error}`;
  const parts = [
    `links ${r.linksUp}/${r.expectedLinks}`,
    `high ${r.delivered.high}/${r.expected.high}`,
    `bulk ${r.delivered.bulk}/${r.expected.bulk}`,
  ];
  if (r.sendErrors > 0) parts.push(`${r.sendErrors} sends failed`);
  if (r.malformed > 0) parts.push(`${r.malformed} malformed messages`);
  return `demo incomplete: ${parts.join(', ')}`;
}

/** Registers `demo` on `program`. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description(
      'run a local subnet on 127.0.0.1 (one worker thread per node) where every node sends ' +
        'bulk and urgent messages to every other node, and report delivery, overhead, latency ' +
        'and throughput; exits 1 unless complete',
    )
    .option('--nodes <n>', 'number of nodes', integer(2, 64), 13)
    .option(
      '--messages <n>',
      'bulk messages each node sends to every other',
      integer(1, 100_000),
      200,
    )
    .option(
      '--size <bytes>',
      'size of a bulk message',
      integer(HEADER_BYTES, DEFAULT_LIMITS.maxMessageBytes),
      65536,
    )
    .option('--timeout-ms <ms>', 'fail if the run takes longer', integer(1000, 86_400_000), 120_000)
    .option('--keep', 'keep the temporary directory (identities, registry.json)')
    .option('--json', 'print one JSON object instead of the table')
    .action(async (options: DemoCliOptions) => {
      const live = io === processIo && process.stderr.isTTY === true;
      const onProgress = live
        ? (p: DemoProgress) => io.stderr(`\r${formatProgress(p)}\x1b[K`)
        : undefined;
      let result: DemoResult;
      try {
        result = await runDemo({
          nodes: options.nodes,
          workload: { messages: options.messages, size: options.size },
          timeoutMs: options.timeoutMs,
          keep: options.keep === true,
          ...(onProgress ? { onProgress } : {}),
        });
      } finally {
        if (live) io.stderr('\r\x1b[K');
      }
      io.stdout(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatReport(result));
      if (!result.complete) throw new DemoIncompleteError(shortfall(result));
    });
}
