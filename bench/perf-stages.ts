/**
 * `npm run bench:perf-stages`: the CPU of each round of a bench:compare run by stage, from a
 * `perf record` of the whole run (see bench/compare/perf-stages.ts for why: the inspector
 * profiles sample wall time, perf samples CPU time).
 *
 *   NODE_OPTIONS=--perf-basic-prof perf record -k CLOCK_MONOTONIC -F 499 -o /tmp/perf.data -- \
 *     npx tsx bench/compare/main.ts --no-chart --out /tmp/cmp
 *   npm run bench:perf-stages -- --perf-data /tmp/perf.data --compare /tmp/cmp/compare.json
 *
 * `-k CLOCK_MONOTONIC` stamps the samples with the clock bench:compare records each round's
 * window in (compare.json: results[].window), so each round's samples are cut out by time and by
 * its node processes' pids. --perf-basic-prof makes node write /tmp/perf-PID.map, which names the
 * JavaScript functions (and V8 writes an isolate-*-v8.log per process in the working directory);
 * remove those files afterwards. Needs `perf` (Debian: linux-perf) and
 * perf_event access (root, or kernel.perf_event_paranoid <= 1).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { countStages } from './compare/perf-stages.ts';
import { markdownTable, type RoundResult, sizeLabel, systemLabel } from './compare/summary.ts';

const { values: args } = parseArgs({
  options: {
    'perf-data': { type: 'string', default: 'perf.data' },
    compare: { type: 'string', default: 'bench/results/compare/compare.json' },
  },
});

const compare = JSON.parse(readFileSync(args.compare!, 'utf8')) as { results: RoundResult[] };
const rounds = compare.results.filter((r) => r.window !== undefined);
if (rounds.length === 0) {
  console.error(
    `${args.compare}: no round has a window (run bench:compare at this commit or later)`,
  );
  process.exit(2);
}

const columns = rounds.map((r) => {
  const w = r.window!;
  const text = execFileSync(
    'perf',
    [
      'script',
      '-i',
      args['perf-data']!,
      '-F',
      'pid,ip,sym,dso',
      '--time',
      `${w.monotonicStartS.toFixed(6)},${w.monotonicEndS.toFixed(6)}`,
      '--pid',
      w.pids.join(','),
      '--max-stack=1',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const stages = countStages(text.split('\n'), new Set(w.pids));
  const total = [...stages.values()].reduce((a, b) => a + b, 0);
  return { round: r, stages, total };
});

/** A stage's share of a column's samples (0 for a column without samples). */
const share = (c: (typeof columns)[number], name: string) =>
  c.total === 0 ? 0 : (c.stages.get(name) ?? 0) / c.total;
/** Stages by their share, summed over the rounds: the largest first. */
const weight = (name: string) => columns.reduce((sum, c) => sum + share(c, name), 0);
const names = [...new Set(columns.flatMap((c) => [...c.stages.keys()]))].sort(
  (a, b) => weight(b) - weight(a),
);
const head = [
  'Stage: % of CPU samples (CPU ms per MB)',
  ...columns.map((c) => `${sizeLabel(c.round.size)} ${systemLabel(c.round)}`),
];
const cell = (c: (typeof columns)[number], name: string) => {
  if (c.total === 0) return '–';
  const part = share(c, name);
  const ms = c.round.cpuMsPerMB === null ? '–' : (part * c.round.cpuMsPerMB).toFixed(1);
  return `${(part * 100).toFixed(1)} % (${ms})`;
};
const rows = [
  ...names.map((name) => [name, ...columns.map((c) => cell(c, name))]),
  ['CPU ms per MB (measured)', ...columns.map((c) => c.round.cpuMsPerMB?.toFixed(1) ?? '–')],
  ['perf samples (all nodes)', ...columns.map((c) => String(c.total))],
];
console.log(markdownTable(head, rows));
