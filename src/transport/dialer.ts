/**
 * The dialing side of the transport: the lower NodeId of a pair dials its neighbour, and
 * redials with a capped, jittered exponential backoff while no link to it is up.
 * @module
 */
import * as tls from 'node:tls';
import { compareNodeIds, type NodeId, type NodeIdentity } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import { type HostPort, type NodeRecord, parseAddress } from '../registry/index.ts';
import { backoffDelay } from '../util/backoff.ts';
import type { TransportEvents } from './events.ts';
import type { Membership } from './membership.ts';
import type { TransportMetrics } from './metrics.ts';
import { type BackoffOptions, tlsOptions } from './options.ts';

interface DialState {
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  socket: tls.TLSSocket | undefined;
}

export interface DialerOptions {
  self: NodeId;
  membership: Membership;
  backoff: BackoffOptions;
  /** Random source for the backoff's jitter, in [0, 1). */
  random: () => number;
  /** A dial that has not completed TLS within this is abandoned, ms. */
  helloTimeoutMs: number;
  /** Our key and certificate, for TLS. */
  identity: NodeIdentity;
  log: Logger;
  metrics: TransportMetrics;
  events: TransportEvents;
  /** Whether there is a link to `peer` (up or still in its hello exchange). */
  hasLink: (peer: NodeId) => boolean;
  /** Each socket opened, for the transport to close at stop. */
  track: (socket: tls.TLSSocket) => void;
  /** The peer we dialed passed verification: its socket becomes a link. */
  onConnected: (socket: tls.TLSSocket, record: NodeRecord) => void;
}

/** The dials of one transport: at most one per neighbour, each with its attempt count. */
export class Dialer {
  readonly #opts: DialerOptions;
  readonly #dials = new Map<NodeId, DialState>();
  #stopped = false;

  constructor(opts: DialerOptions) {
    this.#opts = opts;
  }

  /** Whether a dial to `peer` is under way (its socket open, before the link is made). */
  isConnecting(peer: NodeId): boolean {
    return this.#dials.get(peer)?.socket !== undefined;
  }

  /** Follows the neighbours: drops the dials of peers that are no longer, dials the others. */
  follow(): void {
    const neighbors = this.#opts.membership.neighbors;
    for (const [peer, dial] of [...this.#dials]) {
      if (!neighbors.has(peer)) this.#cancel(peer, dial);
    }
    for (const peer of neighbors.keys()) this.#ensure(peer);
  }

  /** A link to `peer` came up: the next redial starts again from the first delay. */
  linkUp(peer: NodeId): void {
    const dial = this.#dials.get(peer);
    if (dial) dial.attempt = 0;
  }

  /** Dials `peer` again after the backoff (if we are the side that dials). */
  redial(peer: NodeId): void {
    if (this.#stopped || !this.#isDialed(peer)) return;
    const dial = this.#dials.get(peer) ?? { attempt: 0, timer: undefined, socket: undefined };
    this.#dials.set(peer, dial);
    if (dial.timer || dial.socket) return;
    const delay = backoffDelay(dial.attempt, { ...this.#opts.backoff, random: this.#opts.random });
    dial.attempt += 1;
    this.#opts.events.emit({ type: 'dial-retry', peer, attempt: dial.attempt, delayMs: delay });
    dial.timer = setTimeout(() => {
      dial.timer = undefined;
      if (!this.#opts.hasLink(peer)) this.#dial(peer, dial);
    }, delay);
    dial.timer.unref();
  }

  /** Cancels every dial and dials no more. */
  stop(): void {
    this.#stopped = true;
    for (const [peer, dial] of [...this.#dials]) this.#cancel(peer, dial);
  }

  /** Whether `peer` is a neighbour we dial (the lower NodeId of a pair dials). */
  #isDialed(peer: NodeId): boolean {
    return this.#opts.membership.neighbors.has(peer) && compareNodeIds(this.#opts.self, peer) < 0;
  }

  #ensure(peer: NodeId): void {
    if (this.#stopped || compareNodeIds(this.#opts.self, peer) >= 0) return;
    if (!this.#opts.membership.neighbors.has(peer) || this.#opts.hasLink(peer)) return;
    const dial = this.#dials.get(peer);
    if (dial?.socket || dial?.timer) return;
    this.#dial(peer, dial ?? { attempt: 0, timer: undefined, socket: undefined });
  }

  #cancel(peer: NodeId, dial: DialState): void {
    clearTimeout(dial.timer);
    dial.socket?.destroy();
    this.#dials.delete(peer);
  }

  #dial(peer: NodeId, dial: DialState): void {
    const { membership, log } = this.#opts;
    const record = membership.neighbors.get(peer);
    if (!record || this.#stopped) return;
    this.#dials.set(peer, dial);
    let target: HostPort;
    try {
      target = parseAddress(record.address);
    } catch (err) {
      log.warn({ peer, err: (err as Error).message }, 'cannot dial peer');
      return;
    }
    this.#opts.metrics.dials.inc();
    const socket = tls.connect({
      ...tlsOptions(this.#opts.identity),
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
    });
    dial.socket = socket;
    this.#opts.track(socket);
    const timer = setTimeout(() => socket.destroy(), this.#opts.helloTimeoutMs);
    const fail = () => {
      clearTimeout(timer);
      if (dial.socket === socket) dial.socket = undefined;
      this.redial(peer);
    };
    socket.once('error', (err) => {
      log.debug({ peer, err: err.message }, 'dial failed');
    });
    socket.once('close', () => {
      if (dial.socket === socket) fail();
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const verdict = membership.verify(socket.getPeerX509Certificate(), peer);
      if (!verdict.ok) {
        this.#opts.events.refused(verdict.reason, 'outbound', verdict.message);
        socket.destroy();
        return;
      }
      // The dial state stays: its attempt count grows until a link is up (see linkUp).
      dial.socket = undefined;
      this.#opts.onConnected(socket, record);
    });
  }
}
