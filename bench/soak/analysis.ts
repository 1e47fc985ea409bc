/**
 * The soak benchmark's report: per node, memory of the first and last thirds and its slope; per
 * channel, what was delivered to all nodes and how fast; as JSON fields and as markdown.
 */
import {
  CHURN_EVERY_MS,
  CHURNED,
  FAULT_EVERY_MS,
  INGRESS_EVERY_MS,
  MINUTES,
  NODES,
  PROXIED,
  SEED,
  VOTE_EVERY_MS,
} from './config.ts';
import { events } from './disturbances.ts';
import { nodes } from './nodes.ts';
import { samples } from './sampling.ts';
import { apiErrors, results } from './tracking.ts';

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function analyse() {
  const end = samples.at(-1)?.t ?? 0;
  const third = end / 3;
  const memory = nodes.map((n) => {
    const series = samples
      .filter((s) => s.rssMiB[n.i] !== null)
      .map((s) => ({ t: s.t, rss: s.rssMiB[n.i]! }));
    const first = series.filter((s) => s.t <= third).map((s) => s.rss);
    const last = series.filter((s) => s.t >= 2 * third).map((s) => s.rss);
    // The slope over the last two thirds (after warm-up), MiB per hour.
    const tail = series.filter((s) => s.t >= third);
    const perHour = slope(
      tail.map((s) => s.t / 3_600_000),
      tail.map((s) => s.rss),
    );
    return {
      node: n.i,
      role: n.i < PROXIED ? 'behind fault proxy' : n.i >= NODES - CHURNED ? 'churned' : 'steady',
      kills: n.kills,
      firstThirdMiB: mean(first),
      lastThirdMiB: mean(last),
      ratio: mean(last) / mean(first),
      slopeMiBPerHour: perHour,
      maxMiB: Math.max(...series.map((s) => s.rss)),
    };
  });
  const byChannel = (channel: string) => {
    const rs = results.filter((r) => r.channel === channel);
    const lat = rs
      .filter((r) => r.latencyMs !== undefined)
      .map((r) => r.latencyMs!)
      .sort((a, b) => a - b);
    return {
      expected: rs.length,
      delivered: rs.filter((r) => r.delivered).length,
      latencyToAllMs: {
        p50: quantile(lat, 0.5),
        p99: quantile(lat, 0.99),
        max: lat.at(-1) ?? Number.NaN,
      },
    };
  };
  return { memory, delivery: { consensus: byChannel('consensus'), ingress: byChannel('ingress') } };
}

export function markdown(
  report: ReturnType<typeof analyse>,
  meta: Record<string, unknown>,
): string {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const lines = [
    '# Soak benchmark',
    '',
    `Command: \`${meta.command}\`; machine: ${meta.nproc} cores (${meta.cpu}), ${meta.memoryGiB} GiB; Node ${meta.node}; ${meta.date}.`,
    '',
    `${NODES} daemon processes on 127.0.0.1 for ${MINUTES} min (seed ${SEED}): a vote every ${VOTE_EVERY_MS} ms and an ingress artifact (8-256 KiB) every ${INGRESS_EVERY_MS} ms on random live nodes; a SIGKILL + restart every ${CHURN_EVERY_MS / 1000} s among nodes ${NODES - CHURNED}-${NODES - 1}; a fault every ${FAULT_EVERY_MS / 1000} s on the proxies of nodes 0-${PROXIED - 1}. ${events.length} churn and fault events; ${apiErrors} API errors.`,
    '',
    '## Delivery',
    '',
    '| Channel | Delivered / expected | To all nodes p50 | p99 | max |',
    '| --- | --- | --- | --- | --- |',
    ...(['consensus', 'ingress'] as const).map((c) => {
      const d = report.delivery[c];
      return `| ${c} | ${d.delivered} / ${d.expected} | ${f(d.latencyToAllMs.p50, 0)} ms | ${f(d.latencyToAllMs.p99, 0)} ms | ${f(d.latencyToAllMs.max, 0)} ms |`;
    }),
    '',
    '## Memory (RSS, MiB; a restarted node starts a new series)',
    '',
    '| Node | Role | Kills | First third | Last third | Last / first | Slope, last two thirds (MiB/h) | Max |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.memory.map(
      (m) =>
        `| ${m.node} | ${m.role} | ${m.kills} | ${f(m.firstThirdMiB)} | ${f(m.lastThirdMiB)} | ${f(m.ratio, 2)} | ${f(m.slopeMiBPerHour)} | ${f(m.maxMiB)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
