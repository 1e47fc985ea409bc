/**
 * What the broadcast driver runs over: the one interface between the driver (which turns the
 * core's actions into I/O and I/O back into core events) and the world. The node implements it
 * over its transport, chunk stores and Node's timers (node-environment.ts); the simulator over
 * its virtual network and clock (src/sim/environment.ts). Every operation is callback-based so
 * that a simulation can run it synchronously in virtual time.
 * @module
 */
import type { NodeId } from '../identity/index.ts';
import type { Lane } from '../transport/lanes.ts';
import type { CoreObserver } from './core/observer.ts';
import type { ArtifactId } from './types.ts';

/** Cancels what it was returned for (a timer, a request); calling it again does nothing. */
export type Cancel = () => void;

/** What a request ended with: the response body, or the error the transport gave. */
export type RequestOutcome = { ok: true; body: Uint8Array } | { ok: false; error: unknown };

/** An operation on a channel's chunk store, on behalf of the core. */
export type ChunkOp =
  | { kind: 'open'; manifest: Uint8Array }
  | { kind: 'put'; index: number; bytes: Uint8Array }
  | { kind: 'delete' };

/**
 * The driver's observer: the core's counters and timings, plus what only the driver sees.
 * The node's is {@link BroadcastMetrics}; the simulator keeps plain counters.
 */
export interface DriverObserver extends CoreObserver {
  /** A fetch from `peer` timed out or failed (counted against that peer). */
  fetchFailed?(peer: NodeId, reason: 'timeout' | 'error'): void;
  /** A slot-update message to `peer` did not fit in its send queue (`lane` by name). */
  sendQueueFull?(peer: NodeId, lane: string): void;
}

/**
 * The world as the driver sees it. Errors are the transport's typed errors
 * (`LinkClosedError`, `QueueFullError`, `RequestTimeoutError`, `AbortError`, ...): the driver
 * maps them to what the core needs, in production and under simulation alike.
 */
export interface DriverEnvironment {
  /** The clock, ms. */
  now(): number;
  /**
   * Runs `fn` once the current burst of events is over (a microtask in the node; after the
   * current event in the simulator). The driver collects the core's actions there.
   */
  defer(fn: () => void): void;
  /** Runs `fn` at time `at` (by {@link now}), not before. */
  setTimer(at: number, fn: () => void): Cancel;
  /**
   * Sends a slot-update message to `peer` on `lane`; `failed` is called with the error if it
   * could not be queued (no link, full queue, ...), not at all if it was.
   */
  send(peer: NodeId, lane: Lane, body: Uint8Array, failed: (err: unknown) => void): void;
  /**
   * Sends a fetch request to `peer` on `lane`; `done` is called once with its outcome (a
   * timeout after `timeoutMs` is a `RequestTimeoutError`), never after the returned cancel.
   */
  request(
    peer: NodeId,
    lane: Lane,
    body: Uint8Array,
    timeoutMs: number,
    done: (outcome: RequestOutcome) => void,
  ): Cancel;
  /** Carries out `op` on the chunk store of `channel`; `done` gets the error if it failed. */
  chunkOp(channel: string, id: ArtifactId, op: ChunkOp, done: (err?: unknown) => void): void;
  /**
   * Waits for a validation hook's promise: `ok` or `failed` is called when it settles. The
   * simulator counts pending ones so that its run loop lets them settle in virtual time.
   */
  settle<T>(promise: PromiseLike<T>, ok: (value: T) => void, failed: (err: unknown) => void): void;
}
