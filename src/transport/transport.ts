import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { Registry as MetricsRegistry } from 'prom-client';
import { ConfigError, InvalidStateError, LinkClosedError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import { defaultLogger, type Logger } from '../log.ts';
import { type HostPort, parseAddress, type Registry, type SubnetId } from '../registry/index.ts';
import { Dialer } from './dialer.ts';
import { type TransportEvent, TransportEvents } from './events.ts';
import type { Lane } from './lanes.ts';
import { resolveLimits, type TransportLimits } from './limits.ts';
import { type ConnId, DEFAULT_TIMING, type LinkTiming } from './link.ts';
import { LinkTable } from './links.ts';
import { LoadGovernor } from './load-governor.ts';
import { Membership } from './membership.ts';
import { MAX_APP_DIGEST_BYTES } from './messages.ts';
import { TransportMetrics } from './metrics.ts';
import {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  type PeerState,
  type PeerStatus,
  type TransportOptions,
  tlsOptions,
} from './options.ts';
import type { CancelRequest, RequestDone, RequestOptions } from './rpc.ts';
import { resolveTopology, type TopologyOptions } from './topology.ts';

/**
 * How often the load governor measures the event loop's lag, ms. A tick is a wake-up of an
 * otherwise idle node: at 5 ms the ticks alone cost an idle node of a 13-node subnet about a
 * third of its CPU (38-41 against 24-29 CPU ms per second, docs/benchmarks.md); a stall still
 * shows in full as the lateness of the tick after it.
 */
const LAG_SAMPLE_INTERVAL_MS = 20;
/** The window over which the governor adds up the loop's lag, ms. */
const LAG_WINDOW_MS = 200;

/**
 * The secure transport of one node: a mutual-TLS 1.3 listener and dialer that keeps exactly
 * one link to each of its neighbours (the lower NodeId of a pair dials), following the
 * registry live. The neighbours are every other member of its subnet up to
 * `topology.fullMeshMaxNodes` members, and a bounded, connected set derived from the registry
 * above (see `linkedPeers` in topology.ts).
 *
 * Its parts: `Membership` (who our neighbours are, who may link; membership.ts), the `Dialer`
 * (dialing and redialing; dialer.ts), the `LinkTable` (the links and their events; links.ts)
 * and `TransportEvents` (the listeners; events.ts). This class listens, accepts and follows
 * the registry.
 *
 * @example
 * const transport = createTransport({ identity, registry, subnet: 'subnet-a',
 *   listen: { host: '127.0.0.1', port: 0 }, onMessage: (m) => console.log(m.peer, m.body) });
 * await transport.start();
 * transport.subscribe((e) => { if (e.type === 'peer-up') void transport.send(e.peer, Lane.high, bytes); });
 */
export class Transport {
  readonly nodeId: NodeId;
  readonly subnet: SubnetId;
  readonly limits: TransportLimits;
  readonly topology: TopologyOptions;
  readonly metricsRegistry: MetricsRegistry;
  readonly #opts: TransportOptions;
  readonly #timing: LinkTiming;
  readonly #log: Logger;
  readonly #metrics: TransportMetrics;
  readonly #governor: LoadGovernor | undefined;
  readonly #events: TransportEvents;
  readonly #membership: Membership;
  readonly #links: LinkTable;
  readonly #dialer: Dialer;
  readonly #server: tls.Server;
  readonly #sockets = new Set<tls.TLSSocket>();
  #unsubscribe: (() => void) | undefined;
  #started = false;
  #stopped = false;

  constructor(opts: TransportOptions) {
    if ((opts.appDigest?.length ?? 0) > MAX_APP_DIGEST_BYTES) {
      throw new ConfigError(
        'appDigest',
        `${opts.appDigest!.length} bytes, more than the Hello's ${MAX_APP_DIGEST_BYTES}`,
      );
    }
    this.#opts = opts;
    this.nodeId = opts.identity.nodeId;
    this.subnet = opts.subnet as SubnetId;
    this.limits = resolveLimits(opts.limits);
    this.topology = resolveTopology(opts.topology);
    this.#timing = { ...DEFAULT_TIMING, ...opts.timing };
    const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...opts.backoff };
    const log = (opts.logger ?? defaultLogger()).child({
      component: 'transport',
      node: this.nodeId,
    });
    this.#log = log;
    this.metricsRegistry = opts.metrics ?? new MetricsRegistry();
    if (this.limits.bulkYieldLoopShare > 0) {
      this.#governor = new LoadGovernor({
        intervalMs: LAG_SAMPLE_INTERVAL_MS,
        windowMs: LAG_WINDOW_MS,
        yieldShare: this.limits.bulkYieldLoopShare,
        highLaneMs: this.limits.bulkYieldHighLaneMs,
        maxHoldMs: this.limits.maxCreditHoldMs,
        minRateBytesPerSec: this.limits.minBulkIntakeBytesPerSec,
        now: () => performance.now(),
        onLag: (ms) => this.#metrics.loopLag.observe(ms / 1000),
      });
    }
    const governor = this.#governor;
    const metrics = new TransportMetrics(this.metricsRegistry, {
      queuedBytes: (lane) => this.#links.sum((l) => l.queuedBytes(lane)),
      receiveBufferedBytes: () => this.#links.sum((l) => l.receiveBufferedBytes),
      creditsHeld: () => governor?.heldTotal ?? 0,
    });
    this.#metrics = metrics;
    const events = new TransportEvents(log, metrics);
    this.#events = events;
    const membership = new Membership({
      self: this.nodeId,
      subnet: this.subnet,
      topology: this.topology,
      log,
    });
    this.#membership = membership;
    this.#links = new LinkTable({
      self: this.nodeId,
      subnet: this.subnet,
      membership,
      app: opts,
      limits: this.limits,
      timing: this.#timing,
      log,
      metrics,
      governor,
      events,
      onUp: (peer) => this.#dialer.linkUp(peer),
      onLost: (peer) => {
        if (!this.#stopped) this.#dialer.redial(peer);
      },
    });
    this.#dialer = new Dialer({
      self: this.nodeId,
      membership,
      backoff,
      random: opts.random ?? Math.random,
      helloTimeoutMs: this.#timing.helloTimeoutMs,
      identity: opts.identity,
      log,
      metrics,
      events,
      hasLink: (peer) => this.#links.has(peer),
      track: (socket) => this.#track(socket),
      onConnected: (socket, record) => this.#links.add(socket, record, 'outbound'),
    });
    this.#server = tls.createServer({
      ...tlsOptions(opts.identity),
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: this.#timing.helloTimeoutMs,
    });
    this.#server.on('secureConnection', (socket) => this.#onInbound(socket));
    this.#server.on('connection', () => this.#metrics.accepted.inc());
    this.#server.on('tlsClientError', (err, socket) => {
      this.#events.refused('tls_error', 'inbound', err.message);
      socket.destroy();
    });
  }

  /** Starts listening and following the registry. Resolves with the bound address. */
  async start(): Promise<HostPort> {
    if (this.#started) throw new InvalidStateError('transport already started');
    this.#started = true;
    const listen = this.#opts.listen ?? this.#ownRegistryAddress();
    this.#server.listen(listen.port, listen.host);
    await once(this.#server, 'listening');
    this.#governor?.start();
    this.#unsubscribe = this.#opts.registry.subscribe((r) => this.#onRegistry(r));
    const current = this.#opts.registry.current();
    if (current) this.#onRegistry(current);
    const addr = this.address();
    this.#log.info({ address: addr }, 'transport listening');
    return addr;
  }

  #ownRegistryAddress(): HostPort {
    const record = this.#opts.registry.current()?.nodes.get(this.nodeId);
    if (!record) {
      throw new LinkClosedError(
        `no listen address given and node ${this.nodeId} is not in the registry`,
      );
    }
    return parseAddress(record.address);
  }

  /** The address the listener is bound to. */
  address(): HostPort {
    const a = this.#server.address() as AddressInfo | null;
    if (!a) throw new InvalidStateError('transport is not listening');
    return { host: a.address, port: a.port };
  }

  /** The registry version the transport acts on. */
  get registryVersion(): number | undefined {
    return this.#membership.registry?.version;
  }

  /** Listens to link events; returns a function that unsubscribes. */
  subscribe(listener: (e: TransportEvent) => void): () => void {
    return this.#events.subscribe(listener);
  }

  /**
   * Our neighbours (every other member of our subnet, or in a subnet larger than
   * `topology.fullMeshMaxNodes` the members `linkedPeers` picks) and the state of our link to each.
   */
  peers(): PeerStatus[] {
    return [...this.#membership.neighbors.values()].map((r) => {
      const link = this.#links.get(r.nodeId);
      const state: PeerState =
        link?.state === 'up'
          ? 'connected'
          : link || this.#dialer.isConnecting(r.nodeId)
            ? 'connecting'
            : 'disconnected';
      return {
        nodeId: r.nodeId,
        address: r.address,
        state,
        connId: link?.state === 'up' ? link.connId : undefined,
        appDigest: link?.state === 'up' ? link.peerAppDigest : undefined,
      };
    });
  }

  /** The connection id of the link that is up to `peer`, if any. */
  connId(peer: NodeId): ConnId | undefined {
    const link = this.#links.get(peer);
    return link?.state === 'up' ? link.connId : undefined;
  }

  /**
   * Queues a message to `peer` on `lane`. Resolves when it is handed to the socket; rejects
   * with ERR_LINK_CLOSED (no link), ERR_QUEUE_FULL or ERR_MESSAGE_TOO_LARGE.
   */
  async send(peer: NodeId, lane: Lane, body: Uint8Array): Promise<void> {
    return this.#links.up(peer).send(lane, body);
  }

  /** Sends a request to `peer` on `lane` and resolves with the response body. */
  async request(
    peer: NodeId,
    lane: Lane,
    body: Uint8Array,
    opts?: RequestOptions,
  ): Promise<Uint8Array> {
    return this.#links.up(peer).request(lane, body, opts);
  }

  /**
   * {@link request} without a promise or an AbortSignal (the broadcast layer's fetches): `done`
   * gets the response body or the error, never synchronously; the returned function cancels.
   */
  call(
    peer: NodeId,
    lane: Lane,
    body: Uint8Array,
    timeoutMs: number,
    done: RequestDone,
  ): CancelRequest {
    const link = this.#links.get(peer);
    if (link?.state !== 'up') {
      const err = new LinkClosedError(`no link to ${peer} is up`);
      queueMicrotask(() => done(err));
      return () => {};
    }
    return link.call(lane, body, timeoutMs, done);
  }

  /**
   * Whether members `a` and `b` of our subnet keep a link with each other (by the topology, at
   * the registry version we act on; whether the link is up now is another matter).
   */
  linked(a: NodeId, b: NodeId): boolean {
    return this.#membership.linked(a, b);
  }

  /** The members `node` keeps a link with, by the topology (none before a registry is known). */
  neighborsOf(node: NodeId): ReadonlySet<NodeId> {
    return this.#membership.neighborsOf(node);
  }

  /** Bytes queued to send on `lane` of the link to `peer` (0 without a link). */
  queuedBytes(peer: NodeId, lane: Lane): number {
    return this.#links.get(peer)?.queuedBytes(lane) ?? 0;
  }

  /** Acts on a registry version: closes the links it no longer allows, dials the neighbours. */
  #onRegistry(registry: Registry): void {
    if (this.#stopped) return;
    const { member, members } = this.#membership.adopt(registry);
    const neighbors = this.#membership.neighbors;
    for (const link of this.#links.all()) {
      const record = neighbors.get(link.peer);
      if (!record) {
        const stillMember = member && members.has(link.peer);
        link.close(stillMember ? 'not_a_neighbor' : 'removed_from_registry', { goodbye: true });
      } else if (!record.certificateDer.equals(link.certificateDer)) {
        link.close('certificate_changed', { goodbye: true });
      }
    }
    this.#dialer.follow();
  }

  #onInbound(socket: tls.TLSSocket): void {
    this.#track(socket);
    if (this.#stopped) {
      socket.destroy();
      return;
    }
    const verdict = this.#membership.verify(socket.getPeerX509Certificate());
    if (!verdict.ok) {
      this.#events.refused(verdict.reason, 'inbound', verdict.message);
      socket.destroy();
      return;
    }
    this.#links.get(verdict.record.nodeId)?.close('replaced', { goodbye: false });
    this.#links.add(socket, verdict.record, 'inbound');
  }

  #track(socket: tls.TLSSocket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /**
   * Closes every link with a Goodbye, stops listening and dialing, and resolves when all
   * sockets are closed (sockets that linger past the close timeout are destroyed).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#governor?.stop();
    this.#unsubscribe?.();
    this.#dialer.stop();
    for (const link of this.#links.all()) link.close('shutdown', { goodbye: true });
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const deadline = setTimeout(() => {
      for (const s of this.#sockets) s.destroy();
    }, this.#timing.closeTimeoutMs + 200);
    // Not events.once: it rejects on 'error' (a peer resetting during shutdown), 'close' follows.
    await Promise.all(
      [...this.#sockets].map((s) =>
        s.closed ? undefined : new Promise<void>((resolve) => s.once('close', () => resolve())),
      ),
    );
    clearTimeout(deadline);
    await serverClosed;
  }
}

/** Creates a transport (not started: call `start()`). */
export function createTransport(opts: TransportOptions): Transport {
  return new Transport(opts);
}
