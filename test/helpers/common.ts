/** Helpers shared by every kind of test: identities, metric readings and captured logs. */
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import { generateIdentity, type NodeIdentity } from '../../src/identity/index.ts';
import { metricSum } from '../../src/metrics.ts';

/** `n` fresh identities, sorted by NodeId (index 0 is the lowest: it dials everyone). */
export async function identities(n: number): Promise<NodeIdentity[]> {
  const ids = await Promise.all(Array.from({ length: n }, () => generateIdentity()));
  return ids.sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
}

/** The value of a counter or gauge, summed over the series matching `labels` (it must exist). */
export async function metricValue(
  metrics: MetricsRegistry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  if (!metrics.getSingleMetric(name)) throw new Error(`no metric ${name}`);
  return metricSum(metrics, name, labels);
}

/** A pino logger at `level` whose JSON lines land, parsed, in `lines`. */
export function capturedLogger(level = 'info'): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
