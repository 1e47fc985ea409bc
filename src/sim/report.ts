/**
 * The report of a simulation run: the result as JSON and three charts, each as SVG (vega-lite
 * compiled to vega, rendered headless) and PNG (resvg, with the DejaVu Sans font shipped by an
 * npm package, so it renders the same on a fresh machine). These packages are optional: import
 * this module only through `loadReport()` (load-report.ts), never statically.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { SimRun } from './scenarios.ts';
import { quantile, round } from './stats.ts';

const FONT_FILE = join(
  dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')),
  'ttf',
  'DejaVuSans.ttf',
);

type Row = Record<string, string | number>;

/** At most `points` rows of an ECDF of `values` (sorted). */
function ecdf(sorted: readonly number[], points: number): { ms: number; fraction: number }[] {
  const out: { ms: number; fraction: number }[] = [];
  const n = sorted.length;
  const steps = Math.min(points, n);
  for (let i = 1; i <= steps; i++) {
    const q = i / steps;
    out.push({ ms: Math.max(0.01, round(quantile(sorted, q), 2)), fraction: round(q, 4) });
  }
  return out;
}

/** Rows of the latency chart: an ECDF per series. */
export function latencyRows(run: SimRun): Row[] {
  const bySeries = new Map<string, number[]>();
  for (const r of run.deliveries) {
    const s = run.series(r);
    let list = bySeries.get(s);
    if (!list) {
      list = [];
      bySeries.set(s, list);
    }
    list.push(r.at - r.artifact.at);
  }
  const rows: Row[] = [];
  for (const [series, values] of [...bySeries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    values.sort((a, b) => a - b);
    for (const p of ecdf(values, 250)) rows.push({ series, ...p });
  }
  return rows;
}

/** Rows of the progress chart: fraction of each channel's expected deliveries held over time. */
export function progressRows(run: SimRun): Row[] {
  const byChannel = new Map<string, number[]>();
  for (const r of run.deliveries) {
    let list = byChannel.get(r.artifact.channel);
    if (!list) {
      list = [];
      byChannel.set(r.artifact.channel, list);
    }
    list.push(r.at);
  }
  const rows: Row[] = [];
  for (const [channel, times] of [...byChannel].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    times.sort((a, b) => a - b);
    const expected = run.expectedByChannel[channel] ?? times.length;
    const step = Math.max(1, Math.floor(times.length / 300));
    rows.push({ channel, seconds: 0, fraction: 0 });
    for (let i = step - 1; i < times.length; i += step) {
      rows.push({
        channel,
        seconds: round(times[i]! / 1000, 4),
        fraction: round((i + 1) / expected, 4),
      });
    }
    const last = times.length - 1;
    if ((last + 1) % step !== 0) {
      rows.push({
        channel,
        seconds: round(times[last]! / 1000, 4),
        fraction: round((last + 1) / expected, 4),
      });
    }
  }
  return rows;
}

const LANES = ['control', 'high', 'bulk'] as const;

/** Rows of the lanes chart: MB/s sent per lane (all links), in bins of at least 100 ms. */
export function laneRows(run: SimRun): Row[] {
  const { binMs, bins } = run.traffic;
  if (bins.length === 0) return [];
  const lastBin = bins.at(-1)![0];
  const group = Math.max(1, Math.ceil((lastBin + 1) / 300));
  const width = binMs * group;
  const sums = new Map<number, [number, number, number]>();
  for (const [bin, row] of bins) {
    const g = Math.floor(bin / group);
    const s = sums.get(g) ?? [0, 0, 0];
    for (let l = 0; l < 3; l++) s[l]! += row[l]!;
    sums.set(g, s);
  }
  const rows: Row[] = [];
  for (let g = 0; g <= Math.floor(lastBin / group); g++) {
    const s = sums.get(g) ?? [0, 0, 0];
    for (let l = 0; l < 3; l++) {
      rows.push({
        seconds: round((g * width) / 1000, 3),
        lane: LANES[l]!,
        mbPerSec: round(s[l]! / 1e6 / (width / 1000), 3),
      });
    }
  }
  return rows;
}

function title(run: SimRun, what: string): string {
  const r = run.result;
  return `${what}: ${r.scenario}, ${r.nodes} nodes, seed ${r.seed}`;
}

/** The three charts as vega-lite specs. */
export function chartSpecs(run: SimRun): Record<'latency' | 'progress' | 'lanes', TopLevelSpec> {
  const base = { width: 640, height: 320, background: 'white' } as const;
  return {
    latency: {
      ...base,
      title: title(run, 'Delivery latency (broadcast to each receiver)'),
      data: { values: latencyRows(run) },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: {
          field: 'ms',
          type: 'quantitative',
          title: 'latency (virtual ms, log scale)',
          scale: { type: 'log' },
        },
        y: { field: 'fraction', type: 'quantitative', title: 'fraction of deliveries' },
        color: { field: 'series', type: 'nominal', title: 'channel', legend: { labelLimit: 400 } },
      },
    },
    progress: {
      ...base,
      title: title(run, 'Delivery progress'),
      data: { values: progressRows(run) },
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'seconds', type: 'quantitative', title: 'virtual time (s)' },
        y: {
          field: 'fraction',
          type: 'quantitative',
          title: 'expected deliveries held',
          scale: { domain: [0, 1] },
        },
        color: { field: 'channel', type: 'nominal' },
      },
    },
    lanes: {
      ...base,
      title: title(run, 'Bytes sent per lane, all links'),
      data: { values: laneRows(run) },
      mark: { type: 'area', interpolate: 'step-after' },
      encoding: {
        x: { field: 'seconds', type: 'quantitative', title: 'virtual time (s)' },
        y: { field: 'mbPerSec', type: 'quantitative', title: 'MB/s', stack: 'zero' },
        color: {
          field: 'lane',
          type: 'nominal',
          scale: { domain: [...LANES] },
          sort: [...LANES],
        },
        order: { field: 'lane', sort: 'ascending' },
      },
    },
  };
}

/**
 * Rows of the retention chart (`retention` runs): at each sample, the most any honest node
 * held of each measure, as a fraction of its bound, at most ~600 points per series (the most
 * over each group of samples, so that no peak is lost).
 */
export function retentionRows(run: SimRun): Row[] {
  const samples = run.samples ?? [];
  const b = (run.result.details as { maxima?: Record<string, { bound?: number }> }).maxima ?? {};
  const series: [string, (s: (typeof samples)[number]) => number, number | undefined][] = [
    ['slots used / maxSlots', (s) => s.slots, b.slots?.bound],
    ['artifacts held / maxSlots', (s) => s.artifacts, b.artifacts?.bound],
    ['bytes held / maxBytes', (s) => s.bytes, b.bytes?.bound],
    ['flooder artifacts / its share', (s) => s.flooderArtifacts, b.flooderArtifacts?.bound],
    ['flooder bytes / its share', (s) => s.flooderBytes, b.flooderBytes?.bound],
    ['wants / ((n-1) x maxSlots)', (s) => s.wants, b.wants?.bound],
  ];
  const group = Math.max(1, Math.ceil(samples.length / 600));
  const rows: Row[] = [];
  for (let i = 0; i < samples.length; i += group) {
    const slice = samples.slice(i, i + group);
    const hours = round(slice.at(-1)!.at / 3_600_000, 3);
    for (const [name, f, bound] of series) {
      if (!bound) continue;
      const v = Math.max(...slice.map(f));
      rows.push({ hours, measure: name, fraction: round(v / bound, 5) });
    }
  }
  return rows;
}

/** The retention chart: use of each bound over the run, and the bound (1). */
export function retentionSpec(run: SimRun): TopLevelSpec {
  const rows = retentionRows(run);
  return {
    width: 760,
    height: 320,
    background: 'white',
    title: title(run, 'Most any honest node held, against its bound'),
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.2 },
        encoding: {
          x: { field: 'hours', type: 'quantitative', title: 'virtual time (hours)' },
          y: {
            field: 'fraction',
            type: 'quantitative',
            title: 'fraction of the bound',
            scale: { domain: [0, 1.1] },
          },
          color: { field: 'measure', type: 'nominal', legend: { labelLimit: 400 } },
        },
      },
      {
        data: { values: [{ bound: 1 }] },
        mark: { type: 'rule', strokeDash: [6, 4], color: 'black' },
        encoding: { y: { field: 'bound', type: 'quantitative' } },
      },
    ],
  };
}

/** Renders a vega-lite spec as SVG text. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders SVG text as PNG, at twice its size, with the bundled font. */
export function svgToPng(svg: string): Uint8Array {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: {
      loadSystemFonts: false,
      fontFiles: [FONT_FILE],
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return resvg.render().asPng();
}

/** Writes `result.json` and the charts (`<name>.svg`, `<name>.png`) into `dir`; returns the files. */
export async function writeReport(run: SimRun, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const json = join(dir, 'result.json');
  writeFileSync(json, `${JSON.stringify(run.result, null, 2)}\n`);
  files.push(json);
  const specs: Record<string, TopLevelSpec> = run.samples
    ? { retention: retentionSpec(run), lanes: chartSpecs(run).lanes }
    : chartSpecs(run);
  for (const [name, spec] of Object.entries(specs)) {
    const svg = await renderSvg(spec);
    const svgFile = join(dir, `${name}.svg`);
    const pngFile = join(dir, `${name}.png`);
    writeFileSync(svgFile, svg);
    writeFileSync(pngFile, svgToPng(svg));
    files.push(svgFile, pngFile);
  }
  return files;
}
