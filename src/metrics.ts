/** Reading prom-client metrics back (reports, benchmarks, tests). */
import type { Registry as MetricsRegistry } from 'prom-client';

/** Sum of the values of metric `name` whose labels include `labels` (0 if it does not exist). */
export async function metricSum(
  metrics: MetricsRegistry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.getSingleMetric(name);
  if (!metric) return 0;
  return (await metric.get()).values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
