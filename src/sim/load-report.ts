/**
 * The report's charts need vega, vega-lite, resvg and a font package: about 40 MB, optional
 * (not installed with the package, only with its development dependencies). Nothing imports
 * report.ts statically; {@link loadReport} loads it when a report or a chart is asked for, and
 * says what to install when one of those packages is missing.
 * @module
 */
import { SubnetP2pError } from '../errors.ts';
import type { SimRun } from './scenarios.ts';

/** The report module: chart specs, renderers, {@link writeReport}. */
export type ReportModule = typeof import('./report.ts');

/** The optional packages the report needs, at the versions it is made with. */
export const REPORT_PACKAGES = [
  'vega@6.4.0',
  'vega-lite@6.4.1',
  '@resvg/resvg-js@2.6.2',
  'dejavu-fonts-ttf@2.37.3',
] as const;

/** The command that installs {@link REPORT_PACKAGES}. */
export const REPORT_INSTALL_COMMAND = `npm install ${REPORT_PACKAGES.join(' ')}`;

/** A report or chart was asked for, but a package it needs is not installed. */
export class ReportUnavailableError extends SubnetP2pError {
  /** The package that could not be found, as the error named it. */
  readonly missing: string;
  constructor(missing: string, options?: { cause?: unknown }) {
    super(
      'ERR_REPORT_UNAVAILABLE',
      'charts need the optional packages vega, vega-lite, @resvg/resvg-js and ' +
        `dejavu-fonts-ttf ('${missing}' is not installed); ` +
        `install them with: ${REPORT_INSTALL_COMMAND}`,
      options,
    );
    this.missing = missing;
  }
}

/** Codes of "module not found": from `import` (ESM) and from `require` (CJS: resvg, the font). */
const NOT_FOUND = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']);

/**
 * The package `err` says cannot be found (`Cannot find package 'vega' imported from ...`,
 * `Cannot find module 'dejavu-fonts-ttf/package.json'`), or undefined if it is not such an
 * error or names a file rather than a package (then it is a bug, not a missing package).
 */
export function missingPackage(err: unknown): string | undefined {
  if (!(err instanceof Error) || !NOT_FOUND.has((err as NodeJS.ErrnoException).code ?? '')) {
    return undefined;
  }
  const name = /Cannot find (?:package|module) '([^']+)'/.exec(err.message)?.[1];
  if (name === undefined || /^(\.|\/|file:|[A-Za-z]:\\)/.test(name)) return undefined;
  // The package itself, without a path inside it.
  return name
    .split('/')
    .slice(0, name.startsWith('@') ? 2 : 1)
    .join('/');
}

/**
 * Loads the report module. Rejects with {@link ReportUnavailableError} if a package it needs
 * is missing; any other failure is rethrown as it is. `importReport` is for tests.
 *
 * @example
 * ```ts
 * const { writeReport } = await loadReport();
 * await writeReport(runScenario({ scenario: 'steady', seed: 1 }), 'report');
 * ```
 */
export async function loadReport(
  importReport: () => Promise<ReportModule> = () => import('./report.ts'),
): Promise<ReportModule> {
  try {
    return await importReport();
  } catch (err) {
    const missing = missingPackage(err);
    if (missing !== undefined) throw new ReportUnavailableError(missing, { cause: err });
    throw err;
  }
}

/**
 * Writes `result.json` and the charts of `run` into `dir` (see report.ts), loading the report
 * module first; returns the files written.
 */
export async function writeReport(run: SimRun, dir: string): Promise<string[]> {
  return (await loadReport()).writeReport(run, dir);
}
