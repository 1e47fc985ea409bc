import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { Registry as MetricsRegistry } from 'prom-client';
import { ConfigError, InvalidStateError, LinkClosedError, type ProtocolError } from '../errors.ts';
import { compareNodeIds, type NodeId, type NodeIdentity } from '../identity/index.ts';
import { LimitLog } from '../limit-log.ts';
import { defaultLogger, type Logger } from '../log.ts';
import {
  type HostPort,
  type NodeRecord,
  parseAddress,
  type Registry,
  type RegistryClient,
  type SubnetId,
} from '../registry/index.ts';
import { backoffDelay } from '../util/backoff.ts';

import { Lane } from './lanes.ts';
import { bulkWindowFor, resolveLimits, type TransportLimits } from './limits.ts';
import { type ConnId, DEFAULT_TIMING, Link, type LinkCallbacks, type LinkTiming } from './link.ts';
import { LoadGovernor } from './load-governor.ts';
import { MAX_APP_DIGEST_BYTES } from './messages.ts';
import { TransportMetrics } from './metrics.ts';
import { type RefusalReason, verifyPeer } from './peer-verify.ts';
import type { InboundRequest, RequestOptions, ResponseBody } from './rpc.ts';
import { resolveTopology, type TopologyOptions, TopologyView } from './topology.ts';

/** How often the load governor measures the event loop's lag, ms. */
const LAG_SAMPLE_INTERVAL_MS = 5;
/** The window over which the governor adds up the loop's lag, ms. */
const LAG_WINDOW_MS = 200;

/** ALPN protocol id of this transport. */
export const ALPN = 'subnet-p2p/1';

/** Reconnection backoff of the dialing side, ms: base * 2^attempt, capped, with jitter. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Each delay is multiplied by a random factor in [1 - jitter, 1]. Default 0.5. */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 100,
  maxMs: 5000,
  jitter: 0.5,
});

/** An application message from a peer. */
export interface InboundMessage {
  peer: NodeId;
  connId: ConnId;
  lane: Lane;
  body: Uint8Array;
}

/** A request from a peer. */
export interface InboundPeerRequest extends InboundRequest {
  peer: NodeId;
  connId: ConnId;
}

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

export type PeerState = 'connected' | 'connecting' | 'disconnected';

/** One neighbour (a member of our subnet we keep a link with) as seen from here. */
export interface PeerStatus {
  nodeId: NodeId;
  address: string;
  state: PeerState;
  /** Connection id of the current link, if any. */
  connId: ConnId | undefined;
  /** The `appDigest` of the peer's Hello on the current link; undefined if none or no link. */
  appDigest: Uint8Array | undefined;
}

export interface TransportOptions {
  identity: NodeIdentity;
  registry: RegistryClient;
  subnet: string;
  /** Where to listen for peers. Default: our own address in the registry. Port 0 = any. */
  listen?: HostPort;
  limits?: Partial<TransportLimits>;
  timing?: Partial<LinkTiming>;
  backoff?: Partial<BackoffOptions>;
  /** Which members we link with: a full mesh up to `fullMeshMaxNodes` (40), sparse above. */
  topology?: Partial<TopologyOptions>;
  logger?: Logger;
  /** prom-client registry for the metrics; a private one by default. */
  metrics?: MetricsRegistry;
  /** Random source for backoff jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /** Application messages. Returning a promise holds the bytes in the receive budget until it settles. */
  onMessage?: (msg: InboundMessage) => void | Promise<void>;
  /** Application requests; the result is the response body. */
  onRequest?: (req: InboundPeerRequest) => Promise<ResponseBody> | ResponseBody;
  /**
   * Opaque bytes (at most `MAX_APP_DIGEST_BYTES`, 64) sent in this node's Hello, and received
   * from each peer's in `peer-up` and {@link Transport.peers}: the layer above compares them
   * (the node: a digest of its channel configuration). The transport only carries them.
   * Default: none.
   */
  appDigest?: Uint8Array;
}

interface DialState {
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  socket: tls.TLSSocket | undefined;
}

/**
 * The secure transport of one node: a mutual-TLS 1.3 listener and dialer that keeps exactly
 * one link to each of its neighbours (the lower NodeId of a pair dials), following the
 * registry live. The neighbours are every other member of its subnet up to
 * `topology.fullMeshMaxNodes` members, and a bounded, connected set derived from the registry
 * above (see `linkedPeers` in topology.ts).
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
  readonly #backoff: BackoffOptions;
  readonly #log: Logger;
  readonly #limitLog: LimitLog;
  readonly #metrics: TransportMetrics;
  readonly #governor: LoadGovernor | undefined;
  readonly #random: () => number;
  readonly #server: tls.Server;
  readonly #links = new Map<NodeId, Link>();
  /** Per link, its peer's registry address and the socket's remote address (for the log). */
  readonly #linkAddresses = new WeakMap<Link, { address: string; remote: string }>();
  readonly #dials = new Map<NodeId, DialState>();
  readonly #sockets = new Set<tls.TLSSocket>();
  readonly #listeners = new Set<(e: TransportEvent) => void>();
  /** The members of our subnet we keep a link with, at the registry version we act on. */
  #neighbors = new Map<NodeId, NodeRecord>();
  #registry: Registry | undefined;
  /** Who links whom in our subnet, at the registry version we act on. */
  #view: TopologyView | undefined;
  #unsubscribe: (() => void) | undefined;
  #nextConnId = 1;
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
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.#log = (opts.logger ?? defaultLogger()).child({
      component: 'transport',
      node: this.nodeId,
    });
    this.#limitLog = new LimitLog(this.#log);
    this.#random = opts.random ?? Math.random;
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
    this.#metrics = new TransportMetrics(this.metricsRegistry, {
      queuedBytes: (lane) => this.#sumLinks((l) => l.queuedBytes(lane)),
      receiveBufferedBytes: () => this.#sumLinks((l) => l.receiveBufferedBytes),
      creditsHeld: () => governor?.heldTotal ?? 0,
    });
    this.#server = tls.createServer({
      ...this.#tlsOptions(),
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: this.#timing.helloTimeoutMs,
    });
    this.#server.on('secureConnection', (socket) => this.#onInbound(socket));
    this.#server.on('connection', () => this.#metrics.accepted.inc());
    this.#server.on('tlsClientError', (err, socket) => {
      this.#refused('tls_error', 'inbound', err.message);
      socket.destroy();
    });
  }

  #tlsOptions(): tls.SecureContextOptions & { ALPNProtocols: string[] } {
    return {
      key: this.#opts.identity.privateKeyPem,
      cert: this.#opts.identity.certificatePem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ALPNProtocols: [ALPN],
    };
  }

  #sumLinks(f: (l: Link) => number): number {
    let sum = 0;
    for (const l of this.#links.values()) sum += f(l);
    return sum;
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
    return this.#registry?.version;
  }

  /** Listens to link events; returns a function that unsubscribes. */
  subscribe(listener: (e: TransportEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(e: TransportEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.error({ err }, 'transport event listener threw');
      }
    }
  }

  /**
   * Our neighbours (every other member of our subnet, or in a subnet larger than
   * `topology.fullMeshMaxNodes` the members `linkedPeers` picks) and the state of our link to each.
   */
  peers(): PeerStatus[] {
    return [...this.#neighbors.values()].map((r) => {
      const link = this.#links.get(r.nodeId);
      const state: PeerState =
        link?.state === 'up'
          ? 'connected'
          : link || this.#dials.get(r.nodeId)?.socket
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

  #upLink(peer: NodeId): Link {
    const link = this.#links.get(peer);
    if (link?.state !== 'up') throw new LinkClosedError(`no link to ${peer} is up`);
    return link;
  }

  /**
   * Queues a message to `peer` on `lane`. Resolves when it is handed to the socket; rejects
   * with ERR_LINK_CLOSED (no link), ERR_QUEUE_FULL or ERR_MESSAGE_TOO_LARGE.
   */
  async send(peer: NodeId, lane: Lane, body: Uint8Array): Promise<void> {
    return this.#upLink(peer).send(lane, body);
  }

  /** Sends a request to `peer` on `lane` and resolves with the response body. */
  async request(
    peer: NodeId,
    lane: Lane,
    body: Uint8Array,
    opts?: RequestOptions,
  ): Promise<Uint8Array> {
    return this.#upLink(peer).request(lane, body, opts);
  }

  /**
   * Whether members `a` and `b` of our subnet keep a link with each other (by the topology, at
   * the registry version we act on; whether the link is up now is another matter).
   */
  linked(a: NodeId, b: NodeId): boolean {
    return this.#view?.linked(a, b) ?? false;
  }

  /** The members `node` keeps a link with, by the topology (none before a registry is known). */
  neighborsOf(node: NodeId): ReadonlySet<NodeId> {
    return this.#view?.neighbors(node) ?? new Set();
  }

  /** Bytes queued to send on `lane` of the link to `peer` (0 without a link). */
  queuedBytes(peer: NodeId, lane: Lane): number {
    return this.#links.get(peer)?.queuedBytes(lane) ?? 0;
  }

  // -------------------------------------------------------------------------------------------
  // Registry

  #onRegistry(registry: Registry): void {
    if (this.#stopped) return;
    this.#registry = registry;
    const neighbors = new Map<NodeId, NodeRecord>();
    const ids = registry.subnets.get(this.subnet) ?? [];
    this.#view = new TopologyView(ids, this.topology);
    const subnetMembers = new Set(ids);
    const member = subnetMembers.has(this.nodeId);
    if (member) {
      for (const id of this.#view.neighbors(this.nodeId)) {
        neighbors.set(id, registry.nodes.get(id)!);
      }
    } else {
      this.#log.warn({ version: registry.version }, 'this node is not a member of its subnet');
    }
    this.#logMembership(registry.version, this.#neighbors, neighbors);
    this.#neighbors = neighbors;
    for (const link of [...this.#links.values()]) {
      const record = neighbors.get(link.peer);
      if (!record) {
        const stillMember = member && subnetMembers.has(link.peer);
        link.close(stillMember ? 'not_a_neighbor' : 'removed_from_registry', { goodbye: true });
      } else if (!record.certificateDer.equals(link.certificateDer)) {
        link.close('certificate_changed', { goodbye: true });
      }
    }
    for (const [peer, dial] of [...this.#dials]) {
      if (!neighbors.has(peer)) this.#cancelDial(peer, dial);
    }
    for (const peer of neighbors.keys()) this.#ensureDial(peer);
  }

  /** Logs at info the neighbours a registry version added and removed (nothing if none). */
  #logMembership(
    version: number,
    before: ReadonlyMap<NodeId, NodeRecord>,
    after: ReadonlyMap<NodeId, NodeRecord>,
  ): void {
    const added = [...after.values()]
      .filter((r) => !before.has(r.nodeId))
      .map((r) => ({ nodeId: r.nodeId, address: r.address }));
    const removed = [...before.keys()].filter((id) => !after.has(id));
    if (added.length === 0 && removed.length === 0) return;
    this.#log.info({ version, added, removed, neighbors: after.size }, 'peers changed');
  }

  // -------------------------------------------------------------------------------------------
  // Dialing

  #ensureDial(peer: NodeId): void {
    if (this.#stopped || compareNodeIds(this.nodeId, peer) >= 0) return;
    if (!this.#neighbors.has(peer) || this.#links.has(peer)) return;
    const dial = this.#dials.get(peer);
    if (dial?.socket || dial?.timer) return;
    this.#dial(peer, dial ?? { attempt: 0, timer: undefined, socket: undefined });
  }

  #cancelDial(peer: NodeId, dial: DialState): void {
    clearTimeout(dial.timer);
    dial.socket?.destroy();
    this.#dials.delete(peer);
  }

  #scheduleRedial(peer: NodeId): void {
    if (this.#stopped || !this.#neighbors.has(peer) || compareNodeIds(this.nodeId, peer) >= 0)
      return;
    const dial = this.#dials.get(peer) ?? { attempt: 0, timer: undefined, socket: undefined };
    this.#dials.set(peer, dial);
    if (dial.timer || dial.socket) return;
    const delay = backoffDelay(dial.attempt, { ...this.#backoff, random: this.#random });
    dial.attempt += 1;
    this.#emit({ type: 'dial-retry', peer, attempt: dial.attempt, delayMs: delay });
    dial.timer = setTimeout(() => {
      dial.timer = undefined;
      if (!this.#links.has(peer)) this.#dial(peer, dial);
    }, delay);
    dial.timer.unref();
  }

  #dial(peer: NodeId, dial: DialState): void {
    const record = this.#neighbors.get(peer);
    if (!record || this.#stopped) return;
    this.#dials.set(peer, dial);
    let target: HostPort;
    try {
      target = parseAddress(record.address);
    } catch (err) {
      this.#log.warn({ peer, err: (err as Error).message }, 'cannot dial peer');
      return;
    }
    this.#metrics.dials.inc();
    const socket = tls.connect({
      ...this.#tlsOptions(),
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
    });
    dial.socket = socket;
    this.#track(socket);
    const timer = setTimeout(() => socket.destroy(), this.#timing.helloTimeoutMs);
    const fail = () => {
      clearTimeout(timer);
      if (dial.socket === socket) dial.socket = undefined;
      this.#scheduleRedial(peer);
    };
    socket.once('error', (err) => {
      this.#log.debug({ peer, err: err.message }, 'dial failed');
    });
    socket.once('close', () => {
      if (dial.socket === socket) fail();
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const verdict = verifyPeer({
        registry: this.#registry,
        subnet: this.subnet,
        self: this.nodeId,
        presented: socket.getPeerX509Certificate(),
        isNeighbor: (p) => this.#neighbors.has(p),
        expected: peer,
      });
      if (!verdict.ok) {
        this.#refused(verdict.reason, 'outbound', verdict.message);
        socket.destroy();
        return;
      }
      // The dial state stays: its attempt count grows until a link is up (see onUp).
      dial.socket = undefined;
      this.#addLink(socket, record, 'outbound');
    });
  }

  #track(socket: tls.TLSSocket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  // -------------------------------------------------------------------------------------------
  // Accepting

  #onInbound(socket: tls.TLSSocket): void {
    this.#track(socket);
    if (this.#stopped) {
      socket.destroy();
      return;
    }
    const verdict = verifyPeer({
      registry: this.#registry,
      subnet: this.subnet,
      self: this.nodeId,
      presented: socket.getPeerX509Certificate(),
      isNeighbor: (p) => this.#neighbors.has(p),
    });
    if (!verdict.ok) {
      this.#refused(verdict.reason, 'inbound', verdict.message);
      socket.destroy();
      return;
    }
    this.#links.get(verdict.record.nodeId)?.close('replaced', { goodbye: false });
    this.#addLink(socket, verdict.record, 'inbound');
  }

  #refused(reason: RefusalReason, direction: 'inbound' | 'outbound', message: string): void {
    this.#metrics.refused.inc({ reason, direction });
    this.#log.warn({ reason, direction }, `connection refused: ${message}`);
    this.#emit({ type: 'refused', reason, direction, message });
  }

  // -------------------------------------------------------------------------------------------
  // Links

  #addLink(socket: tls.TLSSocket, record: NodeRecord, direction: 'inbound' | 'outbound'): void {
    const connId = this.#nextConnId++ as ConnId;
    const link = new Link({
      socket,
      peer: record.nodeId,
      self: this.nodeId,
      subnet: this.subnet,
      registryVersion: this.#registry?.version ?? 0,
      connId,
      direction,
      certificateDer: record.certificateDer,
      bulkWindowBytes: bulkWindowFor(this.limits, this.#neighbors.size),
      appDigest: this.#opts.appDigest ?? new Uint8Array(0),
      limits: this.limits,
      timing: this.#timing,
      logger: this.#log,
      requestHandler: this.#opts.onRequest
        ? (req) => this.#opts.onRequest!({ ...req, peer: record.nodeId, connId })
        : undefined,
      governor: this.#governor,
      callbacks: this.#callbacks,
    });
    this.#linkAddresses.set(link, {
      address: record.address,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
    });
    this.#links.set(record.nodeId, link);
  }

  readonly #callbacks: LinkCallbacks = this.#makeCallbacks();

  #makeCallbacks(): LinkCallbacks {
    const m = () => this.#metrics;
    return {
      onUp: (link) => {
        m().linksUp.inc();
        m().established.inc({ direction: link.direction });
        const dial = this.#dials.get(link.peer);
        if (dial) dial.attempt = 0;
        this.#log.info(
          {
            peer: link.peer,
            ...this.#linkAddresses.get(link),
            direction: link.direction,
            connId: link.connId,
          },
          'link up',
        );
        this.#emit({
          type: 'peer-up',
          peer: link.peer,
          connId: link.connId,
          appDigest: link.peerAppDigest,
        });
      },
      onClosed: (link, reason, _error) => this.#onLinkClosed(link, reason),
      onMessage: (link, lane, body) =>
        this.#opts.onMessage?.({ peer: link.peer, connId: link.connId, lane, body }),
      onProtocolError: (link, err: ProtocolError) => {
        m().protocolErrors.inc({ reason: err.reason, peer: link.peer });
        this.#emit({
          type: 'protocol-error',
          peer: link.peer,
          connId: link.connId,
          reason: err.reason,
          message: err.message,
        });
      },
      onFrameSent: (lane, bytes) => {
        m().frameSent(lane, bytes);
        if (lane === Lane.high) this.#governor?.highLaneFrame();
      },
      onFrameReceived: (lane, bytes) => {
        m().frameReceived(lane, bytes);
        if (lane === Lane.high) this.#governor?.highLaneFrame();
      },
      onPaused: (link) => {
        m().receivePaused.inc();
        this.#limitLog.reached('receive_buffer', '', {
          peer: link.peer,
          maxReceiveBufferBytes: this.limits.maxReceiveBufferBytes,
        });
        this.#emit({
          type: 'receive-paused',
          peer: link.peer,
          connId: link.connId,
          bufferedBytes: link.receiveBufferedBytes,
        });
      },
      onRpcOutcome: (outcome) => m().requests.inc({ outcome }),
    };
  }

  #onLinkClosed(link: Link, reason: string): void {
    // A link replaced by a newer one is no longer the peer's current link.
    const current = this.#links.get(link.peer) === link;
    if (current) this.#links.delete(link.peer);
    const label = reason.split(':')[0]!;
    if (link.upAt !== undefined) {
      this.#log.info(
        {
          peer: link.peer,
          ...this.#linkAddresses.get(link),
          reason,
          connId: link.connId,
          upMs: Date.now() - link.upAt,
        },
        'link down',
      );
      this.#metrics.linksUp.dec();
      this.#metrics.closed.inc({ reason: label, peer: link.peer });
      this.#emit({ type: 'peer-down', peer: link.peer, connId: link.connId, reason });
    } else if (label === 'hello_timeout' || label === 'protocol_error') {
      // The peer passed TLS but not the hello exchange: a refusal.
      const r: RefusalReason = label === 'hello_timeout' ? 'hello_timeout' : 'bad_hello';
      this.#refused(r, link.direction, `link closed before hello completed: ${reason}`);
    } else {
      this.#metrics.closed.inc({ reason: label, peer: link.peer });
    }
    if (current && !this.#stopped) this.#scheduleRedial(link.peer);
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
    for (const [peer, dial] of [...this.#dials]) this.#cancelDial(peer, dial);
    for (const link of [...this.#links.values()]) link.close('shutdown', { goodbye: true });
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
