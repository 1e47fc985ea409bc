/**
 * The transport's links, one per peer: making a link of a verified socket, and turning each
 * link's events (up, closed, messages, protocol errors, frames, pauses) into metrics, log
 * lines and transport events.
 * @module
 */
import type * as tls from 'node:tls';
import { LinkClosedError, type ProtocolError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import { LimitLog } from '../limit-log.ts';
import type { Logger } from '../log.ts';
import type { NodeRecord, SubnetId } from '../registry/index.ts';
import type { TransportEvent, TransportEvents } from './events.ts';
import { Lane } from './lanes.ts';
import { bulkWindowFor, type TransportLimits } from './limits.ts';
import { type ConnId, Link, type LinkCallbacks, type LinkTiming } from './link.ts';
import type { LoadGovernor } from './load-governor.ts';
import type { Membership } from './membership.ts';
import type { TransportMetrics } from './metrics.ts';
import type { TransportOptions } from './options.ts';
import type { RefusalReason } from './peer-verify.ts';

export interface LinkTableOptions {
  self: NodeId;
  subnet: SubnetId;
  membership: Membership;
  /** The application's side: its Hello digest and its message and request handlers. */
  app: Pick<TransportOptions, 'appDigest' | 'onMessage' | 'onRequest'>;
  limits: TransportLimits;
  timing: LinkTiming;
  log: Logger;
  metrics: TransportMetrics;
  governor: LoadGovernor | undefined;
  events: TransportEvents;
  /** A link to `peer` completed its hello exchange. */
  onUp: (peer: NodeId) => void;
  /** The current link to `peer` closed (not one replaced by a newer link). */
  onLost: (peer: NodeId) => void;
}

/** The links of one transport: the current one to each peer, up or in its hello exchange. */
export class LinkTable {
  readonly #opts: LinkTableOptions;
  readonly #limitLog: LimitLog;
  readonly #links = new Map<NodeId, Link>();
  /** Per link, its peer's registry address and the socket's remote address (for the log). */
  readonly #addresses = new WeakMap<Link, { address: string; remote: string }>();
  readonly #callbacks: LinkCallbacks = this.#makeCallbacks();
  #nextConnId = 1;

  constructor(opts: LinkTableOptions) {
    this.#opts = opts;
    this.#limitLog = new LimitLog(opts.log);
  }

  /** The current link to `peer`, up or not. */
  get(peer: NodeId): Link | undefined {
    return this.#links.get(peer);
  }

  /** Whether there is a link to `peer`, up or in its hello exchange. */
  has(peer: NodeId): boolean {
    return this.#links.has(peer);
  }

  /** The link to `peer` if it is up; throws ERR_LINK_CLOSED if not. */
  up(peer: NodeId): Link {
    const link = this.#links.get(peer);
    if (link?.state !== 'up') throw new LinkClosedError(`no link to ${peer} is up`);
    return link;
  }

  /** A copy of the current links (closing one while iterating is safe). */
  all(): Link[] {
    return [...this.#links.values()];
  }

  /** The sum of `f` over the current links. */
  sum(f: (l: Link) => number): number {
    let sum = 0;
    for (const l of this.#links.values()) sum += f(l);
    return sum;
  }

  /** Makes a link of a verified socket to the node of `record`: its peer's current link. */
  add(socket: tls.TLSSocket, record: NodeRecord, direction: 'inbound' | 'outbound'): void {
    const { app, membership } = this.#opts;
    const connId = this.#nextConnId++ as ConnId;
    const link = new Link({
      socket,
      peer: record.nodeId,
      self: this.#opts.self,
      subnet: this.#opts.subnet,
      registryVersion: membership.registry?.version ?? 0,
      connId,
      direction,
      certificateDer: record.certificateDer,
      bulkWindowBytes: bulkWindowFor(this.#opts.limits, membership.neighbors.size),
      appDigest: app.appDigest ?? new Uint8Array(0),
      limits: this.#opts.limits,
      timing: this.#opts.timing,
      logger: this.#opts.log,
      requestHandler: app.onRequest
        ? // Not a spread: the request's `signal` is a getter, made only if the handler reads it.
          (req) => app.onRequest!(Object.assign(req, { peer: record.nodeId, connId }))
        : undefined,
      governor: this.#opts.governor,
      callbacks: this.#callbacks,
    });
    this.#addresses.set(link, {
      address: record.address,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
    });
    this.#links.set(record.nodeId, link);
  }

  #makeCallbacks(): LinkCallbacks {
    const m = () => this.#opts.metrics;
    const emit = (e: TransportEvent) => this.#opts.events.emit(e);
    return {
      onUp: (link) => {
        m().linksUp.inc();
        m().established.inc({ direction: link.direction });
        this.#opts.onUp(link.peer);
        this.#opts.log.info(
          {
            peer: link.peer,
            ...this.#addresses.get(link),
            direction: link.direction,
            connId: link.connId,
          },
          'link up',
        );
        emit({
          type: 'peer-up',
          peer: link.peer,
          connId: link.connId,
          appDigest: link.peerAppDigest,
        });
      },
      onClosed: (link, reason, _error) => this.#onClosed(link, reason),
      onMessage: (link, lane, body) =>
        this.#opts.app.onMessage?.({ peer: link.peer, connId: link.connId, lane, body }),
      onProtocolError: (link, err: ProtocolError) => {
        m().protocolErrors.inc({ reason: err.reason, peer: link.peer });
        emit({
          type: 'protocol-error',
          peer: link.peer,
          connId: link.connId,
          reason: err.reason,
          message: err.message,
        });
      },
      onFrameSent: (lane, bytes) => {
        m().frameSent(lane, bytes);
        if (lane === Lane.high) this.#opts.governor?.highLaneFrame();
      },
      onFrameReceived: (lane, bytes) => {
        m().frameReceived(lane, bytes);
        if (lane === Lane.high) this.#opts.governor?.highLaneFrame();
      },
      onPaused: (link) => {
        m().receivePaused.inc();
        this.#limitLog.reached('receive_buffer', '', {
          peer: link.peer,
          maxReceiveBufferBytes: this.#opts.limits.maxReceiveBufferBytes,
        });
        emit({
          type: 'receive-paused',
          peer: link.peer,
          connId: link.connId,
          bufferedBytes: link.receiveBufferedBytes,
        });
      },
      onRpcOutcome: (outcome) => m().requests.inc({ outcome }),
    };
  }

  #onClosed(link: Link, reason: string): void {
    const { metrics, events } = this.#opts;
    // A link replaced by a newer one is no longer the peer's current link.
    const current = this.#links.get(link.peer) === link;
    if (current) this.#links.delete(link.peer);
    const label = reason.split(':')[0]!;
    if (link.upAt !== undefined) {
      this.#opts.log.info(
        {
          peer: link.peer,
          ...this.#addresses.get(link),
          reason,
          connId: link.connId,
          upMs: Date.now() - link.upAt,
        },
        'link down',
      );
      metrics.linksUp.dec();
      metrics.closed.inc({ reason: label, peer: link.peer });
      events.emit({ type: 'peer-down', peer: link.peer, connId: link.connId, reason });
    } else if (label === 'hello_timeout' || label === 'protocol_error') {
      // The peer passed TLS but not the hello exchange: a refusal.
      const r: RefusalReason = label === 'hello_timeout' ? 'hello_timeout' : 'bad_hello';
      events.refused(r, link.direction, `link closed before hello completed: ${reason}`);
    } else {
      metrics.closed.inc({ reason: label, peer: link.peer });
    }
    if (current) this.#opts.onLost(link.peer);
  }
}
