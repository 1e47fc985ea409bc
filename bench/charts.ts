/** The chart renderers of the benchmarks: the simulator's report module, loaded on demand. */
import { loadReport, type ReportModule, ReportUnavailableError } from '../src/sim/index.ts';

/**
 * Loads the report module (vega, vega-lite, resvg and the font are optional packages); if one
 * is missing, prints what to install (and `alternative`, e.g. an option that skips the charts)
 * and exits 1.
 */
export async function loadChartsOrExit(bench: string, alternative?: string): Promise<ReportModule> {
  try {
    return await loadReport();
  } catch (err) {
    if (!(err instanceof ReportUnavailableError)) throw err;
    process.stderr.write(
      `${bench}: ${err.message}${alternative === undefined ? '' : `; or ${alternative}`}\n`,
    );
    process.exit(1);
  }
}
