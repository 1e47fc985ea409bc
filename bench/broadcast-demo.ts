/**
 * Benchmark of the broadcast layer on a 13-node local subnet, through the real demo command
 * (`node bin/subnet-p2p.js demo ... --json`, one child process per run; inside it one worker
 * thread per node, mutual TLS on 127.0.0.1):
 *
 *   1. Efficiency: 13 nodes broadcast 300 artifacts of 64 KiB (ingress: advertised, pulled).
 *      Records completeness, wire amplification (bytes written into TLS / ideal bytes) and
 *      duplicate downloads.
 *   2. Priority: in one run, each node sends a paced stream of urgent 500-byte consensus
 *      artifacts; its first half goes out alone, its second half while every node broadcasts
 *      background bulk (1 MiB ingress artifacts, as fast as the queues allow). Records the
 *      consensus latency (one way, all receivers) of both halves and the p99 ratio (goal <= 2),
 *      for each pacing in --intervals.
 *
 * Usage: npm run bench:broadcast -- [--reps N] [--nodes N] [--skip-efficiency] [--intervals 20,100]
 *                                   [--bulk BYTES] [--json]
 *                                   [--out FILE]
 *   --reps N        runs of every measurement (default 3); the table shows medians
 *   --nodes N       subnet size (default 13)
 *   --skip-efficiency  only the priority runs
 *   --intervals L   consensus pacings to measure, ms per artifact per node (default 20,100)
 *   --bulk BYTES    background bulk per node (default 8 MiB)
 *   --json          print only the JSON object (always written to --out, default
 *                   bench/results/broadcast-demo.json)
 *
 * Progress goes to stderr (with the demo's own progress lines, every few seconds); the markdown
 * tables (or the JSON) to stdout.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DemoResult, LatencySummary } from '../src/demo/summary.ts';
import { positiveArg } from './args.ts';
import { machineInfo } from './machine.ts';

const BIN = fileURLToPath(new URL('../bin/subnet-p2p.js', import.meta.url));
const CONSENSUS_PER_NODE = 40; // 20 alone + 20 with bulk
const CONSENSUS_BYTES = 500;

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '13' },
    'skip-efficiency': { type: 'boolean', default: false },
    intervals: { type: 'string', default: '20,100' },
    bulk: { type: 'string', default: String(8 * 1024 * 1024) },
    json: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/broadcast-demo.json' },
  },
});

const reps = positiveArg('reps', args.reps);
const NODES = positiveArg('nodes', args.nodes);
const intervals = args.intervals.split(',').map((v) => positiveArg('intervals', v.trim()));
const bulkBytes = positiveArg('bulk', args.bulk);

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Busy CPU time of the whole machine, in clock ticks (/proc/stat; Linux only). */
function machineBusyTicks(): number | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    const t = cpu.map(Number);
    return t.reduce((a, b) => a + b, 0) - (t[3] ?? 0) - (t[4] ?? 0);
  } catch {
    return null;
  }
}

/** CPU time of process `pid` (all its threads), in clock ticks (/proc/<pid>/stat). */
function processTicks(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Clock ticks per second of /proc (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU cores that other processes kept busy during each run, on average: the machine's busy
 * time less the demo's own, over the run's wall time. Other jobs on a shared machine skew the
 * figures; this says by how much.
 */
const otherCores: (number | null)[] = [];

/** Runs `subnet-p2p demo ...args --json` and parses its result (complete or not). */
function demo(demoArgs: string[]): Promise<{ result: DemoResult; exitCode: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'demo', ...demoArgs, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const busyBefore = machineBusyTicks();
    const startedAt = performance.now();
    let childTicks: number | null = null;
    const sample = setInterval(() => {
      childTicks = processTicks(child.pid) ?? childTicks;
    }, 100);
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      // The demo's progress lines (it prints one every few seconds to a pipe), passed on.
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line.startsWith('demo: ')) log(`  ${line}`);
    });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearInterval(sample);
      const busyAfter = machineBusyTicks();
      const seconds = (performance.now() - startedAt) / 1000;
      otherCores.push(
        busyBefore === null || busyAfter === null || childTicks === null
          ? null
          : Math.max(0, busyAfter - busyBefore - childTicks) / TICKS_PER_SECOND / seconds,
      );
      try {
        resolve({ result: JSON.parse(stdout) as DemoResult, exitCode });
      } catch {
        reject(
          new Error(`demo ${demoArgs.join(' ')} printed no result (exit ${exitCode}): ${stderr}`),
        );
      }
    });
  });
}

function median(values: readonly number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

function med<T>(runs: readonly T[], pick: (r: T) => number | null | undefined): number | null {
  return median(runs.map(pick).filter((x): x is number => typeof x === 'number'));
}

function fmt(value: number | null, digits = 1): string {
  return value === null ? '-' : value.toFixed(digits);
}

// ---------------------------------------------------------------------------------------------
// 1. Efficiency: 300 x 64 KiB

const efficiencyArgs = ['--nodes', String(NODES), '--artifacts', '300', '--size', '65536'];
const efficiencyRuns: DemoResult[] = [];
for (let i = 0; i < (args['skip-efficiency'] ? 0 : reps); i++) {
  log(`efficiency run ${i + 1}/${reps}: demo ${efficiencyArgs.join(' ')}`);
  const { result } = await demo(efficiencyArgs);
  efficiencyRuns.push(result);
  log(
    `  complete ${result.complete}, amplification ${fmt(result.amplification, 4)}, ` +
      `duplicate downloads ${result.duplicateDownloads}, ${fmt(result.durationMs / 1000, 2)} s`,
  );
}

// ---------------------------------------------------------------------------------------------
// 2. Priority: consensus alone vs under background bulk, in one run

interface PriorityRun {
  complete: boolean;
  aloneP50: number | null;
  aloneP99: number | null;
  loadedP50: number | null;
  loadedP99: number | null;
  p99Ratio: number | null;
  bulkBusyThroughout: boolean;
  bulkThroughputMBps: number | null;
  pacingLagMaxMs: number | null;
  amplification: number | null;
  duplicateDownloads: number;
  result: DemoResult;
}

const priority: { intervalMs: number; args: string[]; runs: PriorityRun[] }[] = [];
for (const intervalMs of intervals) {
  const priorityArgs = [
    '--nodes',
    String(NODES),
    '--artifacts',
    String(NODES * CONSENSUS_PER_NODE),
    '--size',
    String(CONSENSUS_BYTES),
    '--consensus-interval-ms',
    String(intervalMs),
    '--background-bulk',
    String(bulkBytes),
  ];
  const runs: PriorityRun[] = [];
  for (let i = 0; i < reps; i++) {
    log(`priority run ${i + 1}/${reps}: demo ${priorityArgs.join(' ')}`);
    const { result } = await demo(priorityArgs);
    const p = result.priority;
    const run: PriorityRun = {
      complete: result.complete,
      aloneP50: p?.consensusAlone.p50 ?? null,
      aloneP99: p?.consensusAlone.p99 ?? null,
      loadedP50: p?.consensusWithBulk.p50 ?? null,
      loadedP99: p?.consensusWithBulk.p99 ?? null,
      p99Ratio: p?.p99Ratio ?? null,
      bulkBusyThroughout: p?.bulkBusyThroughout ?? false,
      bulkThroughputMBps: p?.bulkThroughputMBps ?? null,
      pacingLagMaxMs: result.pacingLagMaxMs,
      amplification: result.amplification,
      duplicateDownloads: result.duplicateDownloads,
      result,
    };
    runs.push(run);
    log(
      `  complete ${run.complete}; consensus p99 alone ${fmt(run.aloneP99)} ms, with bulk ` +
        `${fmt(run.loadedP99)} ms (ratio ${fmt(run.p99Ratio, 2)}); bulk busy throughout ` +
        `${run.bulkBusyThroughout}; pacing lag ${fmt(run.pacingLagMaxMs)} ms`,
    );
  }
  priority.push({ intervalMs, args: priorityArgs, runs });
}

// ---------------------------------------------------------------------------------------------
// Output

const lat = (l: LatencySummary | undefined) => l ?? { p50: null, p99: null, max: null, samples: 0 };
const summary = {
  date: new Date().toISOString(),
  machine: machineInfo(),
  reps,
  otherProcessesCores: otherCores.map((c) => (c === null ? null : Number(c.toFixed(2)))),
  efficiency: {
    command: `subnet-p2p demo ${efficiencyArgs.join(' ')} --json`,
    medians: {
      amplification: med(efficiencyRuns, (r) => r.amplification),
      duplicateDownloads: med(efficiencyRuns, (r) => r.duplicateDownloads),
      durationMs: med(efficiencyRuns, (r) => r.durationMs),
      throughputMBps: med(efficiencyRuns, (r) => r.throughputMBps),
      ingressP50Ms: med(efficiencyRuns, (r) => lat(r.latencyMs.ingress).p50),
      ingressP99Ms: med(efficiencyRuns, (r) => lat(r.latencyMs.ingress).p99),
    },
    allComplete: efficiencyRuns.every((r) => r.complete),
    runs: efficiencyRuns,
  },
  priority: priority.map(({ intervalMs, args: a, runs }) => ({
    intervalMs,
    command: `subnet-p2p demo ${a.join(' ')} --json`,
    medians: {
      aloneP50Ms: med(runs, (r) => r.aloneP50),
      aloneP99Ms: med(runs, (r) => r.aloneP99),
      loadedP50Ms: med(runs, (r) => r.loadedP50),
      loadedP99Ms: med(runs, (r) => r.loadedP99),
      p99Ratio: med(runs, (r) => r.p99Ratio),
      bulkThroughputMBps: med(runs, (r) => r.bulkThroughputMBps),
      pacingLagMaxMs: med(runs, (r) => r.pacingLagMaxMs),
    },
    allComplete: runs.every((r) => r.complete),
    bulkBusyThroughout: runs.every((r) => r.bulkBusyThroughout),
    runs,
  })),
};

await mkdir(dirname(args.out), { recursive: true });
await writeFile(args.out, `${JSON.stringify(summary, null, 2)}\n`);

if (args.json) {
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} else {
  const e = summary.efficiency;
  const lines = [
    `Medians of ${reps} runs; ${summary.machine.nproc} CPUs, ${summary.machine.node}; other ` +
      `processes kept ${fmt(median(otherCores.filter((c): c is number => c !== null)), 2)} ` +
      'cores busy during a run (median).',
    '',
    `\`${e.command}\``,
    '',
    '| Figure | Value |',
    '| --- | ---: |',
    `| Complete (all runs) | ${e.allComplete ? 'yes' : 'NO'} |`,
    `| Amplification (wire bytes / ideal) | ${fmt(e.medians.amplification, 4)} |`,
    `| Duplicate downloads | ${fmt(e.medians.duplicateDownloads, 0)} |`,
    `| Duration, s | ${fmt((e.medians.durationMs ?? 0) / 1000, 2)} |`,
    `| Payload delivered, MB/s (all receivers) | ${fmt(e.medians.throughputMBps)} |`,
    `| Ingress latency p50 / p99, ms | ${fmt(e.medians.ingressP50Ms)} / ${fmt(e.medians.ingressP99Ms)} |`,
    '',
    '| Consensus pacing (per node) | Alone p50 / p99 ms | With bulk p50 / p99 ms | p99 ratio (goal <= 2) | Bulk MB/s | Bulk busy throughout | Worst pacing lag ms | Complete |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |',
    ...summary.priority.map(
      (p) =>
        `| 1 per ${p.intervalMs} ms | ${fmt(p.medians.aloneP50Ms)} / ${fmt(p.medians.aloneP99Ms)} | ` +
        `${fmt(p.medians.loadedP50Ms)} / ${fmt(p.medians.loadedP99Ms)} | ${fmt(p.medians.p99Ratio, 2)} | ` +
        `${fmt(p.medians.bulkThroughputMBps)} | ${p.bulkBusyThroughout ? 'yes' : 'NO'} | ` +
        `${fmt(p.medians.pacingLagMaxMs)} | ${p.allComplete ? 'yes' : 'NO'} |`,
    ),
    '',
    ...summary.priority.map((p) => `\`${p.command}\``),
    '',
    `JSON: ${args.out}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
