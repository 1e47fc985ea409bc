/**
 * Progress of a long command when nobody watches a terminal (CI, a pipe, a log file): a short
 * line at once, then one every few seconds, on stderr, so that a run that takes minutes is
 * never silent. On a terminal it prints nothing: the command keeps its own live display.
 * @module
 */
import { performance } from 'node:perf_hooks';

/** How often a line is printed by default, ms. */
export const PROGRESS_EVERY_MS = 5000;

/** Starts calling `tick` every `ms`; the returned function stops it. */
export type RepeatEvery = (ms: number, tick: () => void) => () => void;

/** A Node interval that does not keep the process alive. */
const repeatEvery: RepeatEvery = (ms, tick) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export interface PeriodicProgressOptions {
  /**
   * Where the run is, in a few words (no newline), e.g. `demo: 812/1300 delivered`; the
   * helper appends the time since the start (`, 14.2 s`).
   */
  readonly describe: () => string;
  /** Whether stderr is a terminal: then nothing is printed. Default `process.stderr.isTTY`. */
  readonly tty?: boolean;
  /** Writes text (each call one whole line). Default: to `process.stderr`. */
  readonly write?: (text: string) => void;
  /** Time between lines, ms. Default {@link PROGRESS_EVERY_MS}. */
  readonly intervalMs?: number;
  /** The clock (ms) of the elapsed time and of {@link PeriodicProgress.poll}. */
  readonly now?: () => number;
  /** The timer (default: an unref'd `setInterval`). */
  readonly every?: RepeatEvery;
}

/** A running progress report; {@link stop} it when the work is done. */
export interface PeriodicProgress {
  /**
   * Prints a line if the last one is at least the interval old. For synchronous work, which
   * the timer cannot interrupt: call it now and then (e.g. every few thousand steps).
   */
  poll(): void;
  /** No more lines (idempotent). */
  stop(): void;
}

const SILENT: PeriodicProgress = { poll: () => undefined, stop: () => undefined };

/**
 * Prints `describe()` with the elapsed time at once and then every `intervalMs` (and at
 * {@link PeriodicProgress.poll} when one is due), unless `tty`.
 *
 * @example
 * ```ts
 * let done = 0;
 * const progress = periodicProgress({ describe: () => `copy: ${done}/${files.length} files` });
 * try {
 *   for (const f of files) { await copy(f); done++; }
 * } finally {
 *   progress.stop();
 * }
 * ```
 */
export function periodicProgress(options: PeriodicProgressOptions): PeriodicProgress {
  if (options.tty ?? process.stderr.isTTY === true) return SILENT;
  const write = options.write ?? ((text: string) => void process.stderr.write(text));
  const intervalMs = options.intervalMs ?? PROGRESS_EVERY_MS;
  const now = options.now ?? (() => performance.now());
  const started = now();
  let last = started;
  let stopped = false;
  const print = () => {
    if (stopped) return;
    last = now();
    write(`${options.describe()}, ${((last - started) / 1000).toFixed(1)} s\n`);
  };
  print();
  const cancel = (options.every ?? repeatEvery)(intervalMs, print);
  return {
    poll() {
      if (now() - last >= intervalMs) print();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      cancel();
    },
  };
}
