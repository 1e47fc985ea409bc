/**
 * The simulator's run loops: events in virtual-time order, each followed by the drivers'
 * deferred work; the asynchronous one lets validation promises settle between events.
 * @module
 */
import { ConfigError } from '../errors.ts';
import type { EventQueue } from './event-queue.ts';
import type { RunOptions } from './node.ts';

/** Events between two calls of `progress` (a few per second of wall time). */
export const PROGRESS_EVENTS = 1 << 16;

/** What a run loop needs of the network. */
export interface EventLoop {
  readonly queue: EventQueue;
  /** Runs the drivers' deferred work. */
  drain(): void;
  /** Validation promises not settled yet. */
  pending(): number;
  /** Called every {@link PROGRESS_EVENTS} events. */
  progress(): void;
}

/**
 * Runs events until `until()` holds (checked after each event), the queue is empty, or
 * `maxTime` virtual ms or `maxEvents` events have passed. Returns whether `until` held. Throws
 * a ConfigError if a validation hook left a promise pending (that needs {@link runEventsAsync}).
 */
export function runEvents(loop: EventLoop, opts: RunOptions): boolean {
  const endTime = opts.maxTime ?? Number.POSITIVE_INFINITY;
  const maxEvents = opts.maxEvents ?? 50_000_000;
  let events = 0;
  loop.drain();
  for (;;) {
    if (loop.pending() > 0) {
      throw new ConfigError(
        'validate',
        'a validation hook returned a promise: run the simulation with runAsync',
      );
    }
    if (opts.until?.()) return true;
    const next = loop.queue.peekTime();
    if (next === undefined || next > endTime || events >= maxEvents) return false;
    loop.queue.step();
    loop.drain();
    events++;
    if (events % PROGRESS_EVENTS === 0) loop.progress();
  }
}

/**
 * As {@link runEvents}, but after every event that leaves a validation promise pending, waits
 * one macrotask of the process (its promises settle) before the next event.
 */
export async function runEventsAsync(loop: EventLoop, opts: RunOptions): Promise<boolean> {
  const endTime = opts.maxTime ?? Number.POSITIVE_INFINITY;
  const maxEvents = opts.maxEvents ?? 50_000_000;
  let events = 0;
  for (;;) {
    loop.drain();
    if (loop.pending() > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      loop.drain();
    }
    if (opts.until?.()) return true;
    const next = loop.queue.peekTime();
    if (next === undefined || next > endTime || events >= maxEvents) return false;
    loop.queue.step();
    events++;
    if (events % PROGRESS_EVENTS === 0) loop.progress();
  }
}
