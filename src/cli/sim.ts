/**
 * `subnet-p2p sim`: runs a scenario of the simulator (production broadcast cores on a
 * virtual-time network) and prints what it measured, as a table or one JSON object; with
 * `--report DIR`, also writes the JSON and charts (SVG and PNG; the chart packages are optional
 * and loaded only then). Prints a progress line every few seconds on stderr when it is not a
 * terminal. Exits 1 unless every expected artifact reached every expected node.
 * @module
 */
import { type Command, InvalidArgumentError } from 'commander';
import { SubnetP2pError } from '../errors.ts';
import type { SimProgress, SimResult } from '../sim/index.ts';
import {
  DEFAULT_BANDWIDTH,
  DEFAULT_NODES,
  isScenario,
  SCENARIO_DESCRIPTIONS,
  SCENARIOS,
  type ScenarioName,
} from '../sim/scenario-names.ts';
import { periodicProgress } from '../util/progress.ts';
import { type CliIo, processIo } from './io.ts';
import { integer } from './options.ts';

/** The simulation ran but did not deliver everything it had to. */
export class SimIncompleteError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_SIM_INCOMPLETE', message);
  }
}

interface SimCliOptions {
  scenario: ScenarioName;
  nodes?: number;
  seed: number;
  load: number;
  bandwidthMbit?: number;
  artifactMib?: number;
  chunkKib?: number;
  json?: boolean;
  report?: string;
}

function positive(max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`must be a number in (0, ${max}]`);
    }
    return n;
  };
}

function scenarioName(value: string): ScenarioName {
  if (!isScenario(value)) {
    throw new InvalidArgumentError(`unknown scenario (one of ${SCENARIOS.join(', ')})`);
  }
  return value;
}

function ms(x: number): string {
  return x.toFixed(1).padStart(9);
}

/**
 * Where a run is, in a few words, for a progress line: `<label>, virtual 4.2 s, 4123/4296
 * delivered` (of the artifacts sent so far), or `<label>, starting` before the first report.
 */
export function describeSimProgress(label: string, p: SimProgress | undefined): string {
  if (p === undefined) return `${label}, starting`;
  const held =
    p.deliveries === undefined ? '' : `, ${p.deliveries}/${p.expectedDeliveries} delivered`;
  return `${label}, virtual ${(p.virtualMs / 1000).toFixed(1)} s${held}`;
}

/** The result as a table for a terminal. */
export function formatSimResult(r: SimResult): string {
  const lines = [
    `scenario ${r.scenario}: ${r.nodes} nodes (${r.topology.kind}, degree ${r.topology.degree}), seed ${r.seed}, load ${r.load}`,
    `bandwidth ${(r.bandwidth.uploadBytesPerSec * 8e-6).toFixed(0)} Mbit/s up, ${(r.bandwidth.downloadBytesPerSec * 8e-6).toFixed(0)} Mbit/s down; latency ${r.latencyModelMs[0]}-${r.latencyModelMs[1]} ms one way`,
    `complete      ${r.complete ? 'yes' : 'NO'}: ${r.deliveries} of ${r.expectedDeliveries} deliveries`,
    `artifacts     ${Object.entries(r.artifacts)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ')} (${(r.payloadBytes / 1e6).toFixed(2)} MB)`,
    `amplification ${r.amplification} (wire bytes ${(r.wireBytes.total / 1e6).toFixed(1)} MB / ((n-1) x payload)); duplicate downloads ${r.duplicateDownloads}`,
    `virtual time  ${r.virtualMs} ms; ${r.events} events in ${r.wallMs} ms wall (${Math.round(r.events / Math.max(1, r.wallMs / 1000))} events/s)`,
    '',
    'latency (ms)        count       p50       p99       max',
  ];
  for (const [ch, l] of Object.entries(r.latencyMs)) {
    lines.push(
      `${ch.padEnd(14)} ${String(l.count).padStart(10)} ${ms(l.p50)} ${ms(l.p99)} ${ms(l.max)}`,
    );
  }
  lines.push('', `details ${JSON.stringify(r.details, null, 2)}`);
  return `${lines.join('\n')}\n`;
}

const DESCRIPTION = [
  'Run the production broadcast core on a simulated network: virtual time, per-link latency ' +
    '(uniform 10-150 ms one way), per-node upload and download bandwidth (default 1 Gbit/s, ' +
    '100 Mbit/s for large; each ' +
    "link's lanes go through the production send scheduler), partitions, crashes and " +
    'misbehaving nodes, all from one seed. The same seed gives the same result (wall time aside). ' +
    'Exits 1 unless every expected artifact reached every expected node.',
  `Scenarios:\n${SCENARIOS.map((s) => `  ${s.padEnd(10)} ${SCENARIO_DESCRIPTIONS[s]} (default ${DEFAULT_NODES[s]} nodes)`).join('\n')}`,
  'Topology as in production: a full mesh up to 40 nodes, a ring with power-of-two chords above.',
].join('\n\n');

/** Registers `sim` on `program`. */
export function registerSimCommand(program: Command, io: CliIo = processIo): void {
  program
    .command('sim')
    .summary('run the broadcast protocol on a simulated network (scenarios, figures, charts)')
    .description(DESCRIPTION)
    .option('--scenario <name>', `one of ${SCENARIOS.join(', ')}`, scenarioName, 'steady')
    .option(
      '--nodes <n>',
      'subnet size (default: 13; 1000 for scale, 100 for large)',
      integer(2, 100_000),
    )
    .option('--seed <n>', 'seed of every random choice', integer(0, 2 ** 32 - 1), 1)
    .option(
      '--load <x>',
      'scale of the workload (1 = default; smaller is faster)',
      positive(100),
      1,
    )
    .option(
      '--bandwidth-mbit <n>',
      `upload and download of every node, Mbit/s (default ${DEFAULT_BANDWIDTH.uploadBytesPerSec * 8e-6})`,
      positive(1_000_000),
    )
    .option(
      '--artifact-mib <n>',
      'large: size of the artifact, MiB (default 64; fractions allowed)',
      positive(65_536),
    )
    .option('--chunk-kib <n>', 'large: chunk size, KiB (default 1024)', integer(1, 4096))
    .option('--json', 'print one JSON object instead of the table')
    .option(
      '--report <dir>',
      'write result.json and charts (SVG and PNG) into this directory (needs the optional ' +
        'packages vega, vega-lite, @resvg/resvg-js and dejavu-fonts-ttf)',
    )
    .action(async (options: SimCliOptions) => {
      const scenario = options.scenario;
      const bytesPerSec =
        options.bandwidthMbit === undefined ? undefined : options.bandwidthMbit * 125_000;
      // Before the run, so that a missing package fails at once, not after minutes.
      const reportDir = options.report;
      // Loaded here, not with the CLI: other commands start without the simulator.
      const { loadReport, runScenario } = await import('../sim/index.ts');
      const report = reportDir === undefined ? undefined : await loadReport();
      let latest: SimProgress | undefined;
      let writing = false;
      const progress = periodicProgress({
        tty: io === processIo && process.stderr.isTTY === true,
        write: io.stderr,
        describe: () =>
          writing
            ? `sim: ${scenario}, writing the report`
            : describeSimProgress(`sim: ${scenario}`, latest),
      });
      let result: SimResult;
      let files: string[] | undefined;
      try {
        const run = runScenario({
          scenario,
          seed: options.seed,
          nodes: options.nodes,
          load: options.load,
          ...(options.artifactMib === undefined
            ? {}
            : { artifactBytes: Math.round(options.artifactMib * 1024 * 1024) }),
          ...(options.chunkKib === undefined ? {} : { chunkBytes: options.chunkKib * 1024 }),
          ...(bytesPerSec === undefined
            ? {}
            : { bandwidth: { uploadBytesPerSec: bytesPerSec, downloadBytesPerSec: bytesPerSec } }),
          onProgress: (p) => {
            latest = p;
            progress.poll();
          },
        });
        result = run.result;
        io.stdout(options.json ? `${JSON.stringify(result)}\n` : formatSimResult(result));
        if (report !== undefined && reportDir !== undefined) {
          writing = true;
          files = await report.writeReport(run, reportDir);
        }
      } finally {
        progress.stop();
      }
      if (files !== undefined) io.stderr(`report: ${files.join(', ')}\n`);
      if (!result.complete) {
        throw new SimIncompleteError(
          `simulation incomplete: ${result.deliveries} of ${result.expectedDeliveries} deliveries`,
        );
      }
    });
}
