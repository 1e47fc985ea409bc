/**
 * The simulated network: virtual time, links with latency and bandwidth, partitions, crashes,
 * and a production {@link BroadcastDriver} per node running over it (environment.ts).
 * @module
 */
import {
  type ArtifactId,
  BroadcastDriver,
  type ChannelConfig,
  type DeliveredArtifact,
  type DownloadLimits,
  resolveChannel,
  resolveDownloadLimits,
} from '../broadcast/index.ts';
import { ConfigError } from '../errors.ts';

import type { NodeId } from '../identity/index.ts';
import { silentLogger } from '../log.ts';
import {
  bulkWindowFor,
  type ConnId,
  creditThreshold,
  DEFAULT_TOPOLOGY,
  Lane,
  type TopologyOptions,
  TopologyView,
} from '../transport/index.ts';
import {
  type Bandwidth,
  type Batch,
  creditEnvelopeBytes,
  Downlink,
  framedBytes,
  messageEnvelopeBytes,
  Nic,
  Pipe,
  type PipeHost,
  resolveSimTransport,
  type SimTransportLimits,
} from './bandwidth.ts';
import { chunkArtifact } from './chunks.ts';
import {
  type SendOutcome,
  type ServeBehavior,
  SimEnvironment,
  type SimWorld,
} from './environment.ts';
import { EventQueue } from './event-queue.ts';
import { SimObserver } from './observer.ts';
import { ArtifactBytes, SimPool } from './pool.ts';
import { Rng } from './rng.ts';

/** Events between two calls of {@link SimNetwork.onProgress} (a few per second of wall time). */
export const PROGRESS_EVENTS = 1 << 16;

export type { ServeBehavior } from './environment.ts';

/** Options of {@link SimNetwork.run}: when to stop. */
export interface RunOptions {
  /** Stop once this holds (checked after each event). */
  until?: () => boolean;
  /** Stop before the first event later than this virtual time, ms. */
  maxTime?: number;
  /** Stop after this many events (default 50 million). */
  maxEvents?: number;
}

/** One-way latency of a link, drawn once per link: [min, max] ms uniformly, or a sampler. */
export type LatencyModel = readonly [number, number] | ((rng: Rng) => number);

export interface SimNetworkOptions {
  seed: number;
  /** One-way latency of each link, drawn once per link. Default uniform in [10, 150] ms. */
  latencyMs?: LatencyModel;
  channels: Record<string, Partial<ChannelConfig>>;
  downloads?: Partial<DownloadLimits>;
  /**
   * Every node's access link (addNode may override it per node). Unset: unlimited bandwidth,
   * each message arrives exactly one latency after it was sent (fast; the core tests use it).
   * Set: messages go through the production send scheduler of each link, the node's upload,
   * the link's latency and the receiver's download (see bandwidth.ts).
   */
  bandwidth?: Bandwidth;
  /** Transport settings of the bandwidth model. Default: the production limits. */
  transport?: Partial<SimTransportLimits>;
  /** Width of the time bins of the recorded traffic series, ms. Default 100. */
  binMs?: number;
  /** Time a chunk-store write takes before the core is told it completed, ms. Default 0. */
  chunkWriteMs?: number;
  /**
   * Whether `node.deliveries` records every delivery (default true). A long run (the week of
   * `retention`) turns it off: it would keep an entry per artifact per node for good.
   */
  recordDeliveries?: boolean;
}

/**
 * A node's simulated chunk store, per `channel:id`: the chunks held, by index. The arrays are
 * shared: every store holds the very Uint8Array objects the origin cut (a received chunk is
 * compared to it byte for byte before it is stored), so an artifact costs one copy whatever the
 * node count.
 */
export type SimChunkStore = Map<string, Map<number, Uint8Array>>;

/** One simulated node: a production BroadcastDriver plus what the simulation observed of it. */
export interface SimNode {
  readonly id: NodeId;
  /** The node's driver (a new one at every restart) and its core. */
  driver: BroadcastDriver;
  core: BroadcastDriver['core'];
  observer: SimObserver;
  alive: boolean;
  /** Bumped at every restart: events of an older incarnation are dropped. */
  incarnation: number;
  serve: ServeBehavior;
  /** Artifacts delivered to the application, by `channel:id`: first time, and from whom. */
  readonly deliveries: Map<string, { at: number; from: NodeId }>;
  nextConnId: number;
  /** Its access link, if bandwidth is modelled. */
  readonly bandwidth: Bandwidth | undefined;
  nic: Nic | undefined;
  downlink: Downlink | undefined;
  pools: Map<string, SimPool>;
  /** Its chunk store (lost at a crash, as its pools are: an in-memory store). */
  chunks: SimChunkStore;
  /** Chunk responses with data received, per `channel:id`, this incarnation (duplicates). */
  chunksReceived: Map<string, Set<number>>;
  /** Chunk responses with data it received for a chunk it already held or had received. */
  duplicateChunks: number;
  /** Chunk responses with data it sent, and their chunk bytes (all incarnations). */
  chunksServed: number;
  chunkBytesServed: number;
  /** Frame bytes it sent on all its links (all incarnations, every lane, headers included). */
  uploadBytes: number;
}

interface Link {
  a: NodeId;
  b: NodeId;
  latency: number;
  up: boolean;
  /** Bumped every time the link comes up; in-flight traffic of an older epoch is lost. */
  epoch: number;
  conn: Map<NodeId, ConnId>;
  /** Last delivery time per direction (keyed by the sender): keeps each direction FIFO. */
  last: Map<NodeId, number>;
  /** Fetches in flight over this link: token -> requesting node. */
  fetches: Map<string, () => void>;
  /** Bandwidth model: the pipe of each direction, keyed by its sender. */
  pipes: Map<NodeId, Pipe>;
}

/** Traffic on all links: frame bytes (headers included) per lane, in total and over time. */
export interface Traffic {
  /** Frame bytes per lane: control, high, bulk. */
  readonly bytes: [number, number, number];
  /** Frame bytes per lane per time bin (bin index = floor(t / binMs)). */
  readonly series: Map<number, [number, number, number]>;
  readonly binMs: number;
  /** Messages sent (slot updates, requests, responses, credits). */
  messages: number;
}

/** The drivers' logger: silent (a core bug is rethrown through `onFault`, not logged). */
const SIM_LOGGER = silentLogger();

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

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
    this.traffic = { bytes: [0, 0, 0], series: new Map(), binMs: opts.binMs ?? 100, messages: 0 };
    this.#world = {
      queue: this.queue,
      rng: this.rng,
      chunkWriteMs: opts.chunkWriteMs ?? 0,
      node: (id) => this.node(id),
      transmit: (from, to, lane, length, deliver) =>
        this.#transmit(from as SimNode, to as SimNode, lane, length, deliver),
      requestId: (from, to) => {
        const pipe = this.#links.get(pairKey(from, to))?.pipes.get(from);
        return pipe ? pipe.nextRequestId++ : undefined;
      },
      trackFetch: (a, b, key, fail) => {
        const link = this.#links.get(pairKey(a, b));
        if (!link?.up) return false;
        link.fetches.set(key, fail);
        return true;
      },
      untrackFetch: (a, b, key) => this.#links.get(pairKey(a, b))?.fetches.delete(key),
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
    const observer = new SimObserver();
    const pools = new Map([...this.#channels.keys()].map((n) => [n, new SimPool(this.#bytes)]));
    const driver = new BroadcastDriver({
      self: node.id,
      channels: this.#channels,
      pools,
      downloads: this.#downloads,
      environment: new SimEnvironment(this.#world, node),
      observer,
      logger: SIM_LOGGER,
      // No chunkStores: the chunked channels' stores are the node's own (node.chunks), reached
      // through the environment; the driver's application streams are not simulated.
      deliver: (artifact) => {
        const key = `${artifact.channel}:${artifact.id}`;
        if (this.#opts.recordDeliveries !== false && !node.deliveries.has(key))
          node.deliveries.set(key, { at: this.now, from: artifact.from });
        this.onDeliver?.(node, artifact);
      },
      onFault: (err) => {
        throw err;
      },
      linked: (a, b) => this.#links.has(pairKey(a, b)),
      neighbors: (n) => this.neighbors(n),
    });
    node.driver = driver;
    node.core = driver.core;
    node.observer = observer;
    node.pools = pools;
  }

  /** Adds a node (not linked to anyone yet). */
  addNode(
    id: NodeId,
    opts: ServeBehavior | { serve?: ServeBehavior; bandwidth?: Bandwidth } = 'honest',
  ): SimNode {
    const o = typeof opts === 'string' ? { serve: opts } : opts;
    const bandwidth = o.bandwidth ?? this.#opts.bandwidth;
    const node: SimNode = {
      id,
      driver: undefined as unknown as BroadcastDriver,
      core: undefined as unknown as BroadcastDriver['core'],
      observer: undefined as unknown as SimObserver,
      alive: true,
      incarnation: 0,
      serve: o.serve ?? 'honest',
      deliveries: new Map(),
      nextConnId: 1,
      bandwidth,
      nic: undefined,
      downlink: undefined,
      pools: new Map(),
      chunks: new Map(),
      chunksReceived: new Map(),
      duplicateChunks: 0,
      chunksServed: 0,
      chunkBytesServed: 0,
      uploadBytes: 0,
    };
    this.#start(node);
    this.#attachAccess(node);
    this.#nodes.set(id, node);
    this.#linksOf.set(id, []);
    return node;
  }

  #attachAccess(node: SimNode): void {
    if (!node.bandwidth) return;
    const quantum = this.#transport.maxFrameBytes + 6;
    node.nic = new Nic(this.queue, node.bandwidth.uploadBytesPerSec, quantum);
    node.downlink = new Downlink(node.bandwidth.downloadBytesPerSec);
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
    this.#attachAccess(node);
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
      if (a.nic && b.nic) {
        // Each receiver announces its bulk window: its receive budget shared among its neighbours.
        const window = (n: NodeId) =>
          bulkWindowFor(this.#transport, this.#linksOf.get(n)?.length ?? 1);
        const host = (from: SimNode, to: SimNode) => this.#pipeHost(link, link.epoch, from, to);
        link.pipes.set(
          a.id,
          new Pipe(a.nic, host(a, b), this.#transport, window(b.id), () => this.now),
        );
        link.pipes.set(
          b.id,
          new Pipe(b.nic, host(b, a), this.#transport, window(a.id), () => this.now),
        );
      }
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

  /** Carries the batches of the pipe `from` -> `to` of `link` (of link epoch `epoch`). */
  #pipeHost(link: Link, epoch: number, from: SimNode, to: SimNode): PipeHost {
    const incarnation = to.incarnation;
    return {
      depart: (pipe: Pipe, batch: Batch, at: number) => {
        this.#record(at, batch.laneBytes);
        from.uploadBytes += batch.bytes;
        const valid = () =>
          link.up && link.epoch === epoch && to.alive && to.incarnation === incarnation;
        this.queue.at(at + link.latency, () => {
          if (!valid()) return;
          const done = to.downlink!.arrive(this.now, batch.bytes);
          const bulk = batch.laneBytes[Lane.bulk];
          if (batch.ends.length === 0 && bulk === 0) return;
          this.queue.at(done, () => {
            if (!valid()) return;
            for (const msg of batch.ends) msg.deliver();
            if (bulk > 0) this.#credit(link, pipe, from.id, to.id, bulk);
          });
        });
      },
    };
  }

  /** The receiver read `bytes` of bulk data from `pipe`: credit them back as the transport does. */
  #credit(link: Link, pipe: Pipe, sender: NodeId, receiver: NodeId, bytes: number): void {
    pipe.uncredited += bytes;
    if (pipe.uncredited < creditThreshold(pipe.window)) return;
    const credit = pipe.uncredited;
    pipe.uncredited = 0;
    const back = link.pipes.get(receiver);
    if (!back) return;
    const length = creditEnvelopeBytes(credit);
    this.traffic.messages++;
    back.send(Lane.control, length, () => {
      if (link.pipes.get(sender) === pipe) pipe.scheduler.credit(Lane.bulk, credit);
    });
  }

  #record(at: number, laneBytes: readonly number[]): void {
    const t = this.traffic;
    const bin = Math.floor(at / t.binMs);
    let row = t.series.get(bin);
    if (!row) {
      row = [0, 0, 0];
      t.series.set(bin, row);
    }
    for (let l = 0; l < 3; l++) {
      row[l]! += laneBytes[l]!;
      t.bytes[l]! += laneBytes[l]!;
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
    if (!cfg?.chunking) throw new Error(`channel ${channel} has no chunking`);
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
      this.#transmit(
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
    const endTime = opts.maxTime ?? Number.POSITIVE_INFINITY;
    const maxEvents = opts.maxEvents ?? 50_000_000;
    let events = 0;
    this.#drain();
    for (;;) {
      if (this.#pending > 0) {
        throw new ConfigError(
          'validate',
          'a validation hook returned a promise: run the simulation with runAsync',
        );
      }
      if (opts.until?.()) return true;
      const next = this.queue.peekTime();
      if (next === undefined || next > endTime || events >= maxEvents) return false;
      this.queue.step();
      this.#drain();
      events++;
      if (events % PROGRESS_EVENTS === 0) this.onProgress?.();
    }
  }

  /**
   * As {@link run}, for asynchronous validation hooks: after every event that leaves a hook's
   * promise pending, the promises are given the chance to settle (a macrotask of the process)
   * before the next event, so a verdict arrives at the virtual time of the event that resolved
   * it (a hook resolving in a {@link SimNetwork.at} callback: after that simulated delay).
   */
  async runAsync(opts: RunOptions = {}): Promise<boolean> {
    const endTime = opts.maxTime ?? Number.POSITIVE_INFINITY;
    const maxEvents = opts.maxEvents ?? 50_000_000;
    let events = 0;
    for (;;) {
      this.#drain();
      if (this.#pending > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.#drain();
      }
      if (opts.until?.()) return true;
      const next = this.queue.peekTime();
      if (next === undefined || next > endTime || events >= maxEvents) return false;
      this.queue.step();
      events++;
      if (events % PROGRESS_EVENTS === 0) this.onProgress?.();
    }
  }

  /** Schedules `fn` at virtual time `at`. */
  at(at: number, fn: () => void): void {
    this.queue.at(at, fn);
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Sends a message of `length` wire bytes on `lane`; `deliver` runs at the receiver when it
   * has arrived, if the link stayed up and the receiver did not restart meanwhile. Without
   * bandwidth it arrives one latency later; with it, it crosses the bandwidth model.
   */
  #transmit(
    from: SimNode,
    to: SimNode,
    lane: Lane,
    length: number,
    deliver: (receiver: SimNode, connId: ConnId) => void,
  ): SendOutcome {
    const link = this.#links.get(pairKey(from.id, to.id));
    if (!link?.up) return 'down';
    const epoch = link.epoch;
    const incarnation = to.incarnation;
    const run = () => {
      if (!link.up || link.epoch !== epoch || !to.alive || to.incarnation !== incarnation) return;
      deliver(to, link.conn.get(to.id)!);
    };
    const pipe = link.pipes.get(from.id);
    if (pipe) {
      if (!pipe.send(lane, length, run)) return 'full';
      this.traffic.messages++;
      return 'sent';
    }
    this.traffic.messages++;
    const laneBytes = [0, 0, 0];
    laneBytes[lane] = framedBytes(length, this.#transport.maxFrameBytes);
    this.#record(this.now, laneBytes);
    from.uploadBytes += laneBytes[lane]!;
    const at = Math.max(this.now + link.latency, link.last.get(from.id) ?? 0);
    link.last.set(from.id, at);
    this.queue.at(at, run);
    return 'sent';
  }

  /** The origin's array for chunk `index` of `id` if `bytes` equal it, else `bytes`. */
  #shared(id: ArtifactId, index: number, bytes: Uint8Array): Uint8Array {
    const origin = this.#chunkBytes.get(id)?.[index];
    if (origin && Buffer.from(origin.buffer, origin.byteOffset, origin.byteLength).equals(bytes))
      return origin;
    return bytes;
  }
}
