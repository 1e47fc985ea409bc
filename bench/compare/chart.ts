/**
 * The comparison's chart: for each artifact size, delivered throughput, amplification, p99
 * latency and CPU seconds of each system, as bars (vega-lite -> SVG, resvg -> PNG, with the
 * renderers of the simulator's report).
 * @module
 */
import type { TopLevelSpec } from 'vega-lite';
import { round } from '../../src/sim/stats.ts';
import { SYSTEMS } from './protocol.ts';
import { type RoundResult, sizeLabel } from './summary.ts';

const METRICS: { name: string; value: (r: RoundResult) => number | null }[] = [
  { name: 'delivered MB/s', value: (r) => r.throughputMBps },
  { name: 'amplification (wire / ideal)', value: (r) => r.amplification },
  { name: 'latency p99, ms', value: (r) => r.latencyMs.p99 },
  { name: 'CPU s, all nodes', value: (r) => r.cpuSeconds },
];

/** The chart's rows: one per completed (system, size, metric). */
export function chartRows(results: readonly RoundResult[]) {
  const rows: { size: string; order: number; system: string; metric: string; value: number }[] = [];
  for (const r of results) {
    if (!r.complete) continue;
    for (const m of METRICS) {
      const v = m.value(r);
      if (v === null || !Number.isFinite(v)) continue;
      rows.push({
        size: sizeLabel(r.size),
        order: r.size,
        system: r.system,
        metric: m.name,
        value: round(v, 3),
      });
    }
  }
  return rows;
}

export function chartSpec(results: readonly RoundResult[], title: string): TopLevelSpec {
  return {
    title,
    background: 'white',
    data: { values: chartRows(results) },
    facet: {
      row: { field: 'metric', type: 'nominal', title: null, sort: METRICS.map((m) => m.name) },
      column: {
        field: 'size',
        type: 'ordinal',
        title: 'artifact size',
        sort: { field: 'order', op: 'min' },
      },
    },
    spec: {
      width: 180,
      height: 120,
      mark: 'bar',
      encoding: {
        x: { field: 'system', type: 'nominal', title: null, sort: [...SYSTEMS] },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'system', type: 'nominal', sort: [...SYSTEMS] },
        tooltip: { field: 'value', type: 'quantitative' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}
