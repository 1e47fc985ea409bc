/**
 * The simulated network: virtual time, links with latency and bandwidth, partitions, crashes,
 * and a production {@link BroadcastDriver} per node running over it (environment.ts).
 * @module
 */
import {
  type ArtifactId,
  type ChannelConfig,
  type DeliveredArtifact,
  type DownloadLimits,
  resolveChannel,
  resolveDownloadLimits,
} from '../broadcast/index.ts';
import { ChunkingOffError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import {
  bulkWindowFor,
  type ConnId,
  DEFAULT_TOPOLOGY,
  Lane,
  type TopologyOptions,
  TopologyView,
} from '../transport/index.ts';
import {
  type Bandwidth,
  messageEnvelopeBytes,
  resolveSimTransport,
  type SimTransportLimits,
} from './bandwidth.ts';
import { chunkArtifact } from './chunks.ts';
import { SimEnvironment, type SimWorld } from './environment.ts';
import { EventQueue } from './event-queue.ts';
import {
  attachAccess,
  newSimNode,
  type RunOptions,
  type ServeBehavior,
  type SimNetworkOptions,
  type SimNode,
  startDriver,
} from './node.ts';
import { ArtifactBytes } from './pool.ts';
import { Rng } from './rng.ts';
import { type EventLoop, PROGRESS_EVENTS, runEvents, runEventsAsync } from './run.ts';
import { type Link, pairKey, SimWire, type Traffic } from './wire.ts';

export type {
  LatencyModel,
  RunOptions,
  ServeBehavior,
  SimChunkStore,
  SimNetworkOptions,
  SimNode,
} from './node.ts';
export { PROGRESS_EVENTS } from './run.ts';
export type { Traffic } from './wire.ts';

/**
 * A deterministic network of production broadcast cores: virtual time, seeded latencies,
 * optional bandwidth (production send schedulers drained by per-node upload and download
 * rates), links that go down and up, partitions, crashes and restarts, and misbehaving servers.
 * Everything that happens is a function of the seed and the calls made.
 */
export class SimNetwork {
  readonly queue = new EventQueue();
  readonly rng: Rng;
  readonly traffic: Traffic;
  /** Called at every delivery to the application (after `node.deliveries` is updated). */
  onDeliver: ((node: SimNode, artifact: DeliveredArtifact) => void) | undefined;
  /** Called when a node crashes (it loses everything it held). */
  onCrash: ((node: SimNode) => void) | undefined;
  /**
   * Called every {@link PROGRESS_EVENTS} events that {@link run} processes, so that a long run
   * can report its progress; it must not change the simulation.
   */
  onProgress: (() => void) | undefined;
  readonly #opts: SimNetworkOptions;
  readonly #channels: Map<string, ChannelConfig>;
  readonly #downloads: DownloadLimits;
  readonly #transport: SimTransportLimits;
  readonly #nodes = new Map<NodeId, SimNode>();
  readonly #links = new Map<string, Link>();
  /** Links of each node (keys into #links). */
  readonly #linksOf = new Map<NodeId, string[]>();
  /** Links the topology wants (both directions). */
  readonly #wanted = new Set<string>();
  /** Links cut by a partition or by hand. */
  readonly #cut = new Set<string>();
  readonly #bytes = new ArtifactBytes();
  /** The chunks of every chunked artifact broadcast, as their origin cut them, by id. */
  readonly #chunkBytes = new Map<ArtifactId, readonly Uint8Array[]>();
  readonly #wire: SimWire;
  /** What the run loops need of the network. */
  readonly #loop: EventLoop = {
    queue: this.queue,
    drain: () => this.#drain(),
    pending: () => this.#pending,
    progress: () => this.onProgress?.(),
  };
  /** What the nodes' environments need of the network. */
  readonly #world: SimWorld;
  /** The drivers' deferred work (their action pumps), run after the current event. */
  #deferred: (() => void)[] = [];
  /** Validation promises not settled yet (see {@link runAsync}). */
  #pending = 0;

  constructor(opts: SimNetworkOptions) {
    this.#opts = opts;
    this.rng = new Rng(opts.seed);
    this.#channels = new Map(
      Object.entries(opts.channels).map(([n, c]) => [n, resolveChannel(n, c)]),
    );
    this.#downloads = resolveDownloadLimits(opts.downloads);
    this.#transport = resolveSimTransport(opts.transport);
    this.#wire = new SimWire(this.queue, this.#transport, opts.binMs ?? 100);
    this.traffic = this.#wire.traffic;
    this.#world = {
      queue: this.queue,
      rng: this.rng,
      chunkWriteMs: opts.chunkWriteMs ?? 0,
      node: (id) => this.node(id),
      wire: this.#wire,
      link: (a, b) => this.#links.get(pairKey(a, b)),
      defer: (fn) => this.#deferred.push(fn),
      pending: (delta) => {
        this.#pending += delta;
      },
      shared: (id, index, bytes) => this.#shared(id, index, bytes),
    };
  }

  /** Runs the drivers' deferred work (and what it defers in turn). */
  #drain(): void {
    while (this.#deferred.length > 0) {
      const batch = this.#deferred;
      this.#deferred = [];
      for (const fn of batch) fn();
    }
  }

  get now(): number {
    return this.queue.now;
  }

  /** The channels, as resolved. */
  get channels(): ReadonlyMap<string, ChannelConfig> {
    return this.#channels;
  }

  nodes(): SimNode[] {
    return [...this.#nodes.values()];
  }

  node(id: NodeId): SimNode {
    const n = this.#nodes.get(id);
    if (!n) throw new Error(`no simulated node ${id}`);
    return n;
  }

  /** The one-way latency of the link between `a` and `b`, if there is one. */
  latency(a: NodeId, b: NodeId): number | undefined {
    return this.#links.get(pairKey(a, b))?.latency;
  }

  /** The nodes `id` is linked with (up or not). */
  neighbors(id: NodeId): NodeId[] {
    return (this.#linksOf.get(id) ?? []).map((k) => {
      const l = this.#links.get(k)!;
      return l.a === id ? l.b : l.a;
    });
  }

  /** A new incarnation of `node`: a fresh driver, observer, pools and environment. */
  #start(node: SimNode): void {
    startDriver(node, {
      channels: this.#channels,
      downloads: this.#downloads,
      bytes: this.#bytes,
      environment: new SimEnvironment(this.#world, node),
      deliver: (artifact) => {
        const key = `${artifact.channel}:${artifact.id}`;
        if (this.#opts.recordDeliveries !== false && !node.deliveries.has(key))
          node.deliveries.set(key, { at: this.now, from: artifact.from });
        this.onDeliver?.(node, artifact);
      },
      linked: (a, b) => this.#links.has(pairKey(a, b)),
      neighbors: (n) => this.neighbors(n),
    });
  }

  /** Adds a node (not linked to anyone yet). */
  addNode(
    id: NodeId,
    opts: ServeBehavior | { serve?: ServeBehavior; bandwidth?: Bandwidth } = 'honest',
  ): SimNode {
    const o = typeof opts === 'string' ? { serve: opts } : opts;
    const bandwidth = o.bandwidth ?? this.#opts.bandwidth;
    const node = newSimNode(id, o.serve ?? 'honest', bandwidth);
    this.#start(node);
    attachAccess(node, this.queue, this.#transport.maxFrameBytes);
    this.#nodes.set(id, node);
    this.#linksOf.set(id, []);
    return node;
  }

  /** Wants a link between `a` and `b` (it comes up unless cut or a node is down). */
  link(a: NodeId, b: NodeId): void {
    const key = pairKey(a, b);
    this.#wanted.add(key);
    if (!this.#links.has(key)) {
      const model = this.#opts.latencyMs ?? [10, 150];
      const latency =
        typeof model === 'function' ? model(this.rng) : this.rng.between(model[0], model[1]);
      this.#links.set(key, {
        a,
        b,
        latency,
        up: false,
        epoch: 0,
        conn: new Map(),
        last: new Map(),
        fetches: new Map(),
        pipes: new Map(),
      });
      this.#linksOf.get(a)?.push(key);
      this.#linksOf.get(b)?.push(key);
    }
    this.#reconcile(key);
  }

  /** Links every pair of nodes. */
  fullMesh(): void {
    const ids = [...this.#nodes.keys()];
    for (let i = 0; i < ids.length; i++)
      for (let j = i + 1; j < ids.length; j++) this.link(ids[i]!, ids[j]!);
  }

  /**
   * Links the nodes as the production transport does (`linkedPeers`): a full mesh up to
   * `fullMeshMaxNodes` (40), a ring with power-of-two chords above.
   */
  topology(opts: TopologyOptions = DEFAULT_TOPOLOGY): void {
    const ids = [...this.#nodes.keys()];
    const view = new TopologyView(ids, opts);
    for (const a of ids) {
      for (const b of view.neighbors(a)) if (a < b) this.link(a, b);
    }
  }

  /** Cuts (or restores) the link between `a` and `b`. */
  setCut(a: NodeId, b: NodeId, cut: boolean): void {
    const key = pairKey(a, b);
    if (cut) this.#cut.add(key);
    else this.#cut.delete(key);
    this.#reconcile(key);
  }

  /** Cuts every link between `group` and the rest. */
  partition(group: readonly NodeId[]): void {
    const inside = new Set(group);
    for (const link of this.#links.values()) {
      if (inside.has(link.a) !== inside.has(link.b)) this.setCut(link.a, link.b, true);
    }
  }

  /** Restores every cut link. */
  heal(): void {
    for (const key of [...this.#cut]) {
      this.#cut.delete(key);
      this.#reconcile(key);
    }
  }

  /** The node stops: its links go down, its state is lost. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.alive) return;
    node.alive = false;
    node.incarnation++;
    node.driver.stop();
    if (node.nic) node.nic.stopped = true;
    for (const pool of node.pools.values()) pool.clear();
    // Its chunk store goes too: an in-memory store, like its pools (a disk store and `resume`
    // at restart are not modelled).
    node.chunks.clear();
    node.chunksReceived.clear();
    for (const key of this.#linksOf.get(id) ?? []) this.#reconcile(key);
    this.#drain();
    this.onCrash?.(node);
  }

  /** The node comes back with a fresh state (empty pools) and reconnects. */
  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.alive) return;
    node.alive = true;
    node.incarnation++;
    this.#start(node);
    attachAccess(node, this.queue, this.#transport.maxFrameBytes);
    for (const key of this.#linksOf.get(id) ?? []) this.#reconcile(key);
    this.#drain();
  }

  #reconcile(key: string): void {
    const link = this.#links.get(key);
    if (!link) return;
    const a = this.node(link.a);
    const b = this.node(link.b);
    const shouldBeUp = this.#wanted.has(key) && !this.#cut.has(key) && a.alive && b.alive;
    if (shouldBeUp === link.up) return;
    if (shouldBeUp) {
      link.up = true;
      link.epoch++;
      link.last.clear();
      for (const n of [a, b]) link.conn.set(n.id, n.nextConnId++ as ConnId);
      // Each receiver announces its bulk window: its receive budget shared among its neighbours.
      this.#wire.openPipes(link, a, b, (n) =>
        bulkWindowFor(this.#transport, this.#linksOf.get(n)?.length ?? 1),
      );
      a.driver.peerUp(b.id, link.conn.get(a.id)!);
      b.driver.peerUp(a.id, link.conn.get(b.id)!);
    } else {
      link.up = false;
      for (const pipe of link.pipes.values()) pipe.dead = true;
      link.pipes.clear();
      const failFetches = [...link.fetches.values()];
      link.fetches.clear();
      for (const n of [a, b]) {
        if (!n.alive) continue;
        const other = n === a ? b : a;
        n.driver.peerDown(other.id, link.conn.get(n.id)!);
      }
      for (const fail of failFetches) fail();
    }
  }

  /** Broadcasts an artifact from `id`; returns its artifact id. */
  broadcast(
    id: NodeId,
    channel: string,
    bytes: Uint8Array,
    opts: { attributes?: Uint8Array; urgent?: boolean } = {},
  ): ArtifactId {
    const node = this.node(id);
    const aid = node.driver.apply((core, now) => core.add(channel, bytes, opts, now));
    this.#drain();
    return aid;
  }

  /**
   * Broadcasts `bytes` from `id` as a chunked artifact of `channel` (which must have chunking):
   * cuts it into chunks of `chunkBytes` (default: the channel's), puts them in the node's chunk
   * store and starts advertising it. Returns its id (the manifest's SHA-256).
   */
  broadcastChunked(
    id: NodeId,
    channel: string,
    bytes: Uint8Array,
    opts: { chunkBytes?: number; attributes?: Uint8Array } = {},
  ): ArtifactId {
    const cfg = this.#channels.get(channel);
    if (!cfg?.chunking) throw new ChunkingOffError(channel);
    const node = this.node(id);
    const {
      manifest,
      id: aid,
      chunks,
    } = chunkArtifact(bytes, opts.chunkBytes ?? cfg.chunking.chunkBytes);
    const shared = this.#chunkBytes.get(aid) ?? chunks;
    this.#chunkBytes.set(aid, shared);
    node.chunks.set(`${channel}:${aid}`, new Map(shared.map((c, i) => [i, c])));
    const attributes = opts.attributes ?? new Uint8Array(0);
    node.driver.apply((core, now) => core.addChunked(channel, aid, manifest, attributes, now));
    this.#drain();
    return aid;
  }

  /** The chunks node `id` holds of a chunked artifact, by index (its store; do not modify). */
  chunksOf(id: NodeId, channel: string, artifact: ArtifactId): ReadonlyMap<number, Uint8Array> {
    return this.node(id).chunks.get(`${channel}:${artifact}`) ?? new Map();
  }

  /** Whether node `id` holds the whole of a chunked artifact (the core's view). */
  holdsChunked(id: NodeId, channel: string, artifact: ArtifactId): boolean {
    const node = this.node(id);
    return node.alive && node.core.chunkedInfo(channel, artifact)?.complete === true;
  }

  /** Aborts an artifact at `id`. */
  abort(id: NodeId, channel: string, artifact: ArtifactId): void {
    const node = this.node(id);
    node.driver.apply((core, now) => core.abort(channel, artifact, now));
    this.#drain();
  }

  /** Asks `id` to re-evaluate priorities now. */
  reprioritize(id: NodeId, channel?: string): void {
    const node = this.node(id);
    node.driver.apply((core, now) => core.reprioritize(channel, now));
    this.#drain();
  }

  /**
   * Sends a raw slot-update message from `from` to `to` over their link (adversarial tests and
   * misbehaving nodes); it takes bandwidth like any message. Returns whether it was sent.
   */
  inject(from: NodeId, to: NodeId, body: Uint8Array, lane: Lane = Lane.bulk): boolean {
    return (
      this.#wire.transmit(
        this.#links.get(pairKey(from, to)),
        this.node(from),
        this.node(to),
        lane,
        messageEnvelopeBytes(body.length),
        (receiver, connId) => {
          receiver.driver.onMessage(from, connId, lane, body);
        },
      ) === 'sent'
    );
  }

  /**
   * Runs events until `until()` holds (checked after each event), the queue is empty, or
   * `maxTime` virtual ms or `maxEvents` events have passed. Returns whether `until` held.
   * Synchronous: a validation hook that returns a promise needs {@link runAsync}.
   */
  run(opts: RunOptions = {}): boolean {
    return runEvents(this.#loop, opts);
  }

  /**
   * As {@link run}, for asynchronous validation hooks: after every event that leaves a hook's
   * promise pending, the promises are given the chance to settle (a macrotask of the process)
   * before the next event, so a verdict arrives at the virtual time of the event that resolved
   * it (a hook resolving in a {@link SimNetwork.at} callback: after that simulated delay).
   */
  runAsync(opts: RunOptions = {}): Promise<boolean> {
    return runEventsAsync(this.#loop, opts);
  }

  /** Schedules `fn` at virtual time `at`. */
  at(at: number, fn: () => void): void {
    this.queue.at(at, fn);
  }

  // -------------------------------------------------------------------------------------------

  /** The origin's array for chunk `index` of `id` if `bytes` equal it, else `bytes`. */
  #shared(id: ArtifactId, index: number, bytes: Uint8Array): Uint8Array {
    const origin = this.#chunkBytes.get(id)?.[index];
    if (origin && Buffer.from(origin.buffer, origin.byteOffset, origin.byteLength).equals(bytes))
      return origin;
    return bytes;
  }
}
