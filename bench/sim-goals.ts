/**
 * The simulator's goal measurements (issue 5), printed as a table and saved to
 * bench/results/sim-goals.json, with a report (JSON + charts) of each main run under
 * bench/results/sim/<name>/.
 *
 *   npm run bench:sim                     # everything (several minutes on 2 cores)
 *   npm run bench:sim -- --only scale,priority
 *   npm run bench:sim -- --only retention  # the simulated week alone (about 2 minutes)
 *   npm run bench:sim -- --quick          # smaller loads, a smoke run
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { describeSimProgress } from '../src/cli/sim.ts';
import {
  runScenario,
  type ScenarioOptions,
  type SimProgress,
  type SimRun,
} from '../src/sim/index.ts';
import { periodicProgress } from '../src/util/progress.ts';
import { loadChartsOrExit } from './charts.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args[args.indexOf('--only') + 1];
const only = args.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : undefined;
const OUT = 'bench/results';
const MBIT_100 = { uploadBytesPerSec: 12_500_000, downloadBytesPerSec: 12_500_000 };
const q = (load: number) => (quick ? load / 5 : load);

interface Row {
  name: string;
  opts: ScenarioOptions;
  figures: (run: SimRun) => Record<string, unknown>;
  report?: boolean;
}

const lat = (run: SimRun, ch: string) => run.result.latencyMs[ch];
const d = (run: SimRun) => run.result.details as Record<string, unknown>;
const common = (run: SimRun) => ({
  complete: run.result.complete,
  deliveries: `${run.result.deliveries}/${run.result.expectedDeliveries}`,
  amplification: run.result.amplification,
  duplicateDownloads: run.result.duplicateDownloads,
  virtualMs: run.result.virtualMs,
  events: run.result.events,
  wallMs: run.result.wallMs,
  eventsPerSec: Math.round(run.result.events / (run.result.wallMs / 1000)),
});

const rows: Row[] = [
  {
    name: 'scale',
    opts: { scenario: 'scale', seed: 1, load: q(1) },
    figures: (run) => ({
      ...common(run),
      artifacts: run.result.artifacts,
      latencyBySize: d(run).latencyBySize,
    }),
    report: true,
  },
  {
    name: 'scale-grace-250ms',
    opts: { scenario: 'scale', seed: 2, load: q(0.3) },
    figures: (run) => ({ ...common(run), latencyBySize: d(run).latencyBySize }),
  },
  {
    name: 'scale-grace-1ms',
    opts: { scenario: 'scale', seed: 2, load: q(0.3), downloads: { pushGraceMs: 1 } },
    figures: (run) => ({ ...common(run), latencyBySize: d(run).latencyBySize }),
  },
  {
    name: 'priority',
    opts: { scenario: 'priority', seed: 1, load: q(1) },
    figures: (run) => ({ ...common(run), ...pick(d(run)) }),
    report: true,
  },
  {
    name: 'priority-budget-32mib',
    opts: {
      scenario: 'priority',
      seed: 1,
      load: q(1),
      transport: { bulkReceiveBudgetBytes: 32 * 1024 * 1024, bulkWindowBytes: 8 * 1024 * 1024 },
    },
    figures: (run) => ({ ...common(run), ...pick(d(run)) }),
  },
  {
    name: 'priority-100mbit',
    opts: { scenario: 'priority', seed: 1, load: q(1), bandwidth: MBIT_100 },
    figures: (run) => ({ ...common(run), ...pick(d(run)) }),
    report: true,
  },
  {
    name: 'priority-100mbit-budget-2mib',
    opts: {
      scenario: 'priority',
      seed: 1,
      load: q(1),
      bandwidth: MBIT_100,
      transport: { bulkReceiveBudgetBytes: 2 * 1024 * 1024, minBulkWindowBytes: 64 * 1024 },
    },
    figures: (run) => ({ ...common(run), ...pick(d(run)) }),
  },
  {
    name: 'steady',
    opts: { scenario: 'steady', seed: 1, load: q(1) },
    figures: (run) => ({
      ...common(run),
      consensus: lat(run, 'consensus'),
      ingress: lat(run, 'ingress'),
      smallConsensusRtts: d(run).smallConsensusRtts,
      blockRtts: d(run).blockRtts,
      blockVsModel: d(run).blockVsModel,
    }),
    report: true,
  },
  {
    name: 'byzantine',
    opts: { scenario: 'byzantine', seed: 1, load: q(1) },
    figures: (run) => ({ ...common(run), ...d(run), consensus: lat(run, 'consensus') }),
    report: true,
  },
  ...[0, 200, 2000].map(
    (flood): Row => ({
      name: `byzantine-flood-${flood}`,
      opts: { scenario: 'byzantine', seed: 3, load: q(0.3), floodAdvertsPerSec: flood },
      figures: (run) => ({ ...common(run), floodAdvertsSent: d(run).floodAdvertsSent }),
    }),
  ),
  {
    name: 'partition',
    opts: { scenario: 'partition', seed: 1, load: q(1) },
    figures: (run) => ({ ...common(run), ...d(run) }),
    report: true,
  },
  {
    name: 'churn',
    opts: { scenario: 'churn', seed: 1, load: q(1) },
    figures: (run) => ({ ...common(run), ...d(run) }),
    report: true,
  },
  {
    // A simulated week (a day with --quick): retention bounds under an honest load and a flood.
    name: 'retention',
    opts: { scenario: 'retention', seed: 1, load: quick ? 1 / 7 : 1 },
    figures: (run) => {
      const { workload: _, retention: __, ...rest } = d(run);
      return { ...common(run), artifacts: run.result.artifacts, ...rest };
    },
    report: true,
  },
];

function pick(details: Record<string, unknown>): Record<string, unknown> {
  const keys = [
    'consensusWithoutBulk',
    'consensusUnderBulk',
    'p99Ratio',
    'smallWithoutBulk',
    'smallUnderBulk',
    'blocksWithoutBulk',
    'blocksUnderBulk',
    'bulkShareOfUploadDuringPhase2',
  ];
  return Object.fromEntries(keys.map((k) => [k, details[k]]));
}

const machine = {
  nproc: cpus().length,
  memGiB: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
};
const selected = rows.filter((row) => !only || only.has(row.name) || only.has(row.opts.scenario));
// The chart packages are optional: loaded (or found missing) before the first run.
const report = selected.some((row) => row.report)
  ? await loadChartsOrExit(
      'bench:sim',
      `choose rows without a report with --only (${rows
        .filter((r) => !r.report)
        .map((r) => r.name)
        .join(', ')})`,
    )
  : undefined;
console.log(`machine: ${JSON.stringify(machine)}${quick ? ' (quick)' : ''}`);
const results: Record<string, unknown> = {};
for (const [i, row] of selected.entries()) {
  let at: SimProgress | undefined;
  // Without a terminal: a line every few seconds on stderr (a run is synchronous: polled).
  const progress = periodicProgress({
    describe: () => describeSimProgress(`bench:sim ${row.name} (${i + 1}/${selected.length})`, at),
  });
  let run: SimRun;
  try {
    run = runScenario({
      ...row.opts,
      onProgress: (p) => {
        at = p;
        progress.poll();
      },
    });
  } finally {
    progress.stop();
  }
  const figures = row.figures(run);
  results[row.name] = { options: row.opts, ...figures };
  console.log(`\n== ${row.name}`);
  for (const [k, v] of Object.entries(figures))
    console.log(`  ${k.padEnd(30)} ${JSON.stringify(v)}`);
  if (row.report && report) {
    const files = await report.writeReport(run, join(OUT, 'sim', row.name));
    console.log(`  report                         ${files[0]} (+ charts)`);
  }
}
mkdirSync(OUT, { recursive: true });
const suffix = `${quick ? '-quick' : ''}${only ? `-${[...only].join('+')}` : ''}`;
const file = join(OUT, `sim-goals${suffix}.json`);
writeFileSync(file, `${JSON.stringify({ machine, results }, null, 2)}\n`);
console.log(`\nwritten ${file}`);
