/**
 * The daemon's logger: pino on stdout, as JSON lines (the default) or as human lines through
 * pino-pretty (loaded only when asked), and a level that SIGHUP can change for the whole tree.
 *
 * pino copies a logger's level into each child at creation, and later changes to the parent do
 * not reach the children (the registry, transport, link and broadcast loggers are children).
 * So the root logger records every child it makes, at any depth (`onChild`), weakly, and
 * {@link DaemonLogger.setLevel} sets the level on each.
 * @module
 */
import { pino } from 'pino';
import type { Logger } from '../log.ts';
import type { DaemonConfig, LogFormat } from './config.ts';

/** A log level of the config (`logLevel`). */
export type LogLevel = DaemonConfig['logLevel'];

/** The daemon's root logger and the control of its level. */
export interface DaemonLogger {
  readonly logger: Logger;
  /** Sets the level of the root logger and of every child made so far (and so of later ones). */
  setLevel(level: LogLevel): void;
}

/** Children recorded before the dead ones are swept from the set. */
const SWEEP_EVERY = 1024;

/**
 * Makes the daemon's logger, writing to stdout. `pretty` loads pino-pretty (colours when stdout
 * is a terminal); it writes synchronously, as pino's own stdout destination does, so that
 * nothing logged before an exit is lost.
 */
export async function createDaemonLogger(opts: {
  level: LogLevel;
  format: LogFormat;
}): Promise<DaemonLogger> {
  const children = new Set<WeakRef<Logger>>();
  let added = 0;
  const onChild = (child: Logger): void => {
    children.add(new WeakRef(child));
    added += 1;
    if (added % SWEEP_EVERY === 0) {
      for (const ref of children) if (ref.deref() === undefined) children.delete(ref);
    }
  };
  let logger: Logger;
  if (opts.format === 'pretty') {
    const { default: pretty } = await import('pino-pretty');
    const stream = pretty({ destination: 1, sync: true, colorize: process.stdout.isTTY === true });
    logger = pino({ level: opts.level, onChild }, stream);
  } else {
    logger = pino({ level: opts.level, onChild });
  }
  return {
    logger,
    setLevel: (level) => {
      logger.level = level;
      for (const ref of children) {
        const child = ref.deref();
        if (child === undefined) children.delete(ref);
        else child.level = level;
      }
    },
  };
}
