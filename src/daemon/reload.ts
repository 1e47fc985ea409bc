/**
 * SIGHUP: reload what can be reloaded safely, and say what was done. The registry file is re-read
 * at once (a newer valid version is adopted as on a poll). The config file is read and validated
 * again: `logLevel` is applied at once (to every logger of the daemon); every other setting that
 * changed needs a restart, and the reload names those fields instead of applying them (ports,
 * files, channels and limits are fixed for the life of the process). A config that no longer
 * loads is logged, and the node keeps running with the config it has.
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type DaemonConfig, loadDaemonConfig } from './config.ts';
import type { LogLevel } from './daemon-logger.ts';
import type { Daemon } from './run-daemon.ts';

/** The settings a reload applies to the running node; every other change needs a restart. */
export const RELOADABLE_FIELDS: readonly string[] = ['logLevel'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A `host:port` value: named as a whole (`api`), as the config file gives it. */
function isHostPort(v: Record<string, unknown>): boolean {
  return Object.keys(v).length === 2 && 'host' in v && 'port' in v;
}

/**
 * The settings that differ between two validated configs, as dotted field names of the config
 * file (`api`, `limits.maxEventStreams`, `channels.ingress.maxArtifactBytes`, or `channels.foo`
 * for a channel added or removed), sorted.
 */
export function changedFields(a: DaemonConfig, b: DaemonConfig): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (isDeepStrictEqual(x, y)) return;
    if (isRecord(x) && isRecord(y) && !isHostPort(x) && !isHostPort(y)) {
      for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
        walk(x[key], y[key], path === '' ? key : `${path}.${key}`);
      }
      return;
    }
    out.push(path);
  };
  walk(a, b, '');
  return out.sort();
}

/** What one reload did (also the fields of its log line). */
export interface ReloadOutcome {
  /** The registry version in use after the re-read. */
  registryVersion: number | null;
  /** `adopted` (a newer version), `unchanged` (same file), or the rejection's reason. */
  registry: string;
  /** Settings applied to the running node. */
  applied: string[];
  /** Settings changed in the file that take effect only at the next start. */
  restartNeeded: string[];
  /** Why the config file could not be used (the running config is kept); else undefined. */
  configError: string | undefined;
}

/**
 * Does one SIGHUP reload: re-reads the registry, then the config file at `configFile`, compared
 * with `running` (the config the process runs, with the settings applied by earlier reloads).
 * Logs one info line saying what it did (or one error line if the config no longer loads) and
 * returns the outcome and the new running config.
 */
export async function reloadDaemon(opts: {
  configFile: string;
  running: DaemonConfig;
  daemon: Pick<Daemon, 'reloadRegistry' | 'node'>;
  logger: Logger;
  setLevel: (level: LogLevel) => void;
}): Promise<{ outcome: ReloadOutcome; running: DaemonConfig }> {
  const { configFile, daemon, logger } = opts;
  const result = await daemon.reloadRegistry();
  const registry =
    result === undefined ? 'unchanged' : result.adopted ? 'adopted' : `rejected: ${result.reason}`;
  const registryVersion = daemon.node.transport.registryVersion ?? null;
  let next: DaemonConfig;
  try {
    next = await loadDaemonConfig(configFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const outcome: ReloadOutcome = {
      registryVersion,
      registry,
      applied: [],
      restartNeeded: [],
      configError: err.message,
    };
    logger.error(
      { ...outcome, field: err.field },
      `reload: the config file cannot be used, the running config is kept: ${err.message}`,
    );
    return { outcome, running: opts.running };
  }
  const changed = changedFields(opts.running, next);
  const applied = changed.filter((f) => RELOADABLE_FIELDS.includes(f));
  const restartNeeded = changed.filter((f) => !RELOADABLE_FIELDS.includes(f));
  const outcome: ReloadOutcome = {
    registryVersion,
    registry,
    applied,
    restartNeeded,
    configError: undefined,
  };
  const message =
    `reload: registry ${registry} (version ${registryVersion}); ` +
    (applied.length === 0 ? 'nothing applied' : `applied ${applied.join(', ')}`) +
    (restartNeeded.length === 0 ? '' : `; a restart is needed for ${restartNeeded.join(', ')}`);
  const running = { ...opts.running, logLevel: next.logLevel };
  // Said at whichever of the old and new levels is the more verbose, so that a reload that
  // quietens the logs still says so.
  const values = logger.levels.values;
  const louder = (values[next.logLevel] ?? Infinity) <= (values[opts.running.logLevel] ?? Infinity);
  if (louder) opts.setLevel(next.logLevel);
  logger.info({ ...outcome, logLevel: next.logLevel }, message);
  if (!louder) opts.setLevel(next.logLevel);
  return { outcome, running };
}
