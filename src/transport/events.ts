/**
 * The transport's events for the layers above (link state changes and refusals), and the hub
 * that delivers them to its listeners.
 * @module
 */
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import type { ConnId } from './link.ts';
import type { TransportMetrics } from './metrics.ts';
import type { RefusalReason } from './peer-verify.ts';

/** Link state changes and refusals, for the layers above. */
export type TransportEvent =
  | {
      type: 'peer-up';
      peer: NodeId;
      connId: ConnId;
      /** The `appDigest` the peer's Hello carried; undefined if none (see TransportOptions). */
      appDigest: Uint8Array | undefined;
    }
  | { type: 'peer-down'; peer: NodeId; connId: ConnId; reason: string }
  | { type: 'refused'; reason: RefusalReason; direction: 'inbound' | 'outbound'; message: string }
  | { type: 'dial-retry'; peer: NodeId; attempt: number; delayMs: number }
  | { type: 'receive-paused'; peer: NodeId; connId: ConnId; bufferedBytes: number }
  | { type: 'protocol-error'; peer: NodeId; connId: ConnId; reason: string; message: string };

/**
 * The listeners of one transport's events. A listener that throws is logged and does not keep
 * the others from hearing the event.
 */
export class TransportEvents {
  readonly #listeners = new Set<(e: TransportEvent) => void>();
  readonly #log: Logger;
  readonly #metrics: TransportMetrics;

  constructor(log: Logger, metrics: TransportMetrics) {
    this.#log = log;
    this.#metrics = metrics;
  }

  /** Listens to the events; returns a function that unsubscribes. */
  subscribe(listener: (e: TransportEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(e: TransportEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.error({ err }, 'transport event listener threw');
      }
    }
  }

  /** A connection refused during or right after the TLS handshake: counted, logged, emitted. */
  refused(reason: RefusalReason, direction: 'inbound' | 'outbound', message: string): void {
    this.#metrics.refused.inc({ reason, direction });
    this.#log.warn({ reason, direction }, `connection refused: ${message}`);
    this.emit({ type: 'refused', reason, direction, message });
  }
}
