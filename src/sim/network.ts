import {
  type ArtifactId,
  BroadcastCore,
  type ChannelConfig,
  type CoreAction,
  CountingObserver,
  type DownloadLimits,
  FetchRequest,
  FetchResponse,
  InMemoryPool,
  resolveChannel,
  resolveDownloadLimits,
} from '../broadcast/index.ts';

import type { NodeId } from '../identity/index.ts';
import { type ConnId, Lane } from '../transport/index.ts';
import { EventQueue } from './event-queue.ts';
import { Rng } from './rng.ts';

/** How a simulated node answers fetches. */
export type ServeBehavior = 'honest' | 'wrong-bytes' | 'silent';

export interface SimNetworkOptions {
  seed: number;
  /** One-way latency of each link, drawn once per link from [min, max] ms. Default [10, 150]. */
  latencyMs?: readonly [number, number];
  channels: Record<string, Partial<ChannelConfig>>;
  downloads?: Partial<DownloadLimits>;
}

/** One simulated node: a production BroadcastCore plus what the simulation observed of it. */
export interface SimNode {
  readonly id: NodeId;
  core: BroadcastCore;
  observer: CountingObserver;
  alive: boolean;
  /** Bumped at every restart: events of an older incarnation are dropped. */
  incarnation: number;
  serve: ServeBehavior;
  /** Artifacts delivered to the application, by `channel:id`: when and from whom. */
  readonly deliveries: Map<string, { at: number; from: NodeId }>;
  nextConnId: number;
  wakeVersion: number;
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
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/**
 * A deterministic network of production broadcast cores: virtual time, seeded latencies,
 * links that go down and up, partitions, crashes and restarts, and misbehaving servers.
 * Everything that happens is a function of the seed and the calls made.
 */
export class SimNetwork {
  readonly queue = new EventQueue();
  readonly rng: Rng;
  readonly #opts: SimNetworkOptions;
  readonly #channels: Map<string, ChannelConfig>;
  readonly #downloads: DownloadLimits;
  readonly #nodes = new Map<NodeId, SimNode>();
  readonly #links = new Map<string, Link>();
  /** Links the topology wants (both directions). */
  readonly #wanted = new Set<string>();
  /** Links cut by a partition or by hand. */
  readonly #cut = new Set<string>();

  constructor(opts: SimNetworkOptions) {
    this.#opts = opts;
    this.rng = new Rng(opts.seed);
    this.#channels = new Map(
      Object.entries(opts.channels).map(([n, c]) => [n, resolveChannel(n, c)]),
    );
    this.#downloads = resolveDownloadLimits(opts.downloads);
  }

  get now(): number {
    return this.queue.now;
  }

  nodes(): SimNode[] {
    return [...this.#nodes.values()];
  }

  node(id: NodeId): SimNode {
    const n = this.#nodes.get(id);
    if (!n) throw new Error(`no simulated node ${id}`);
    return n;
  }

  #newCore(id: NodeId): { core: BroadcastCore; observer: CountingObserver } {
    const observer = new CountingObserver();
    const pools = new Map([...this.#channels.keys()].map((n) => [n, new InMemoryPool()]));
    const core = new BroadcastCore({
      self: id,
      channels: this.#channels,
      pools,
      downloads: this.#downloads,
      observer,
    });
    return { core, observer };
  }

  /** Adds a node (not linked to anyone yet). */
  addNode(id: NodeId, serve: ServeBehavior = 'honest'): SimNode {
    const { core, observer } = this.#newCore(id);
    const node: SimNode = {
      id,
      core,
      observer,
      alive: true,
      incarnation: 0,
      serve,
      deliveries: new Map(),
      nextConnId: 1,
      wakeVersion: 0,
    };
    this.#nodes.set(id, node);
    return node;
  }

  /** Wants a link between `a` and `b` (it comes up unless cut or a node is down). */
  link(a: NodeId, b: NodeId): void {
    const key = pairKey(a, b);
    this.#wanted.add(key);
    if (!this.#links.has(key)) {
      const [lo, hi] = this.#opts.latencyMs ?? [10, 150];
      this.#links.set(key, {
        a,
        b,
        latency: this.rng.between(lo, hi),
        up: false,
        epoch: 0,
        conn: new Map(),
        last: new Map(),
        fetches: new Map(),
      });
    }
    this.#reconcile(key);
  }

  /** Links every pair of nodes. */
  fullMesh(): void {
    const ids = [...this.#nodes.keys()];
    for (let i = 0; i < ids.length; i++)
      for (let j = i + 1; j < ids.length; j++) this.link(ids[i]!, ids[j]!);
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
    node.alive = false;
    node.incarnation++;
    for (const key of this.#linksOf(id)) this.#reconcile(key);
  }

  /** The node comes back with a fresh state (empty pools) and reconnects. */
  restart(id: NodeId): void {
    const node = this.node(id);
    const { core, observer } = this.#newCore(id);
    node.core = core;
    node.observer = observer;
    node.alive = true;
    node.incarnation++;
    for (const key of this.#linksOf(id)) this.#reconcile(key);
  }

  #linksOf(id: NodeId): string[] {
    return [...this.#links.entries()].filter(([, l]) => l.a === id || l.b === id).map(([k]) => k);
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
      a.core.peerUp(b.id, link.conn.get(a.id)!, this.now);
      b.core.peerUp(a.id, link.conn.get(b.id)!, this.now);
      this.#pump(a);
      this.#pump(b);
    } else {
      link.up = false;
      const failFetches = [...link.fetches.values()];
      link.fetches.clear();
      for (const n of [a, b]) {
        if (!n.alive) continue;
        const other = n === a ? b : a;
        n.core.peerDown(other.id, link.conn.get(n.id)!, this.now);
      }
      for (const fail of failFetches) fail();
      this.#pump(a);
      this.#pump(b);
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
    const aid = node.core.add(channel, bytes, opts, this.now);
    this.#pump(node);
    return aid;
  }

  /** Aborts an artifact at `id`. */
  abort(id: NodeId, channel: string, artifact: ArtifactId): void {
    const node = this.node(id);
    node.core.abort(channel, artifact, this.now);
    this.#pump(node);
  }

  /** Asks `id` to re-evaluate priorities now. */
  reprioritize(id: NodeId, channel?: string): void {
    const node = this.node(id);
    node.core.reprioritize(channel, this.now);
    this.#pump(node);
  }

  /** Delivers a raw slot-update message from `from` to `to` over their link (adversarial tests). */
  inject(from: NodeId, to: NodeId, body: Uint8Array, lane: Lane = Lane.bulk): void {
    this.#transmit(this.node(from), this.node(to), (receiver, connId) => {
      receiver.core.onUpdates(from, connId, lane, body, this.now);
    });
  }

  /**
   * Runs events until `until()` holds (checked after each event), the queue is empty, or
   * `maxTime` virtual ms or `maxEvents` events have passed. Returns whether `until` held.
   */
  run(opts: { until?: () => boolean; maxTime?: number; maxEvents?: number } = {}): boolean {
    const endTime = opts.maxTime ?? Number.POSITIVE_INFINITY;
    const maxEvents = opts.maxEvents ?? 50_000_000;
    let events = 0;
    for (;;) {
      if (opts.until?.()) return true;
      const next = this.queue.peekTime();
      if (next === undefined || next > endTime || events >= maxEvents) return false;
      this.queue.step();
      events++;
    }
  }

  /** Schedules `fn` at virtual time `at`. */
  at(at: number, fn: () => void): void {
    this.queue.at(at, fn);
  }

  // -------------------------------------------------------------------------------------------

  /** Runs `deliver` at the receiver after the link's latency, if the link stays up. */
  #transmit(
    from: SimNode,
    to: SimNode,
    deliver: (receiver: SimNode, connId: ConnId) => void,
  ): boolean {
    const link = this.#links.get(pairKey(from.id, to.id));
    if (!link?.up) return false;
    const epoch = link.epoch;
    const at = Math.max(this.now + link.latency, link.last.get(from.id) ?? 0);
    link.last.set(from.id, at);
    const incarnation = to.incarnation;
    this.queue.at(at, () => {
      if (!link.up || link.epoch !== epoch || !to.alive || to.incarnation !== incarnation) return;
      deliver(to, link.conn.get(to.id)!);
      this.#pump(to);
    });
    return true;
  }

  #pump(node: SimNode): void {
    if (!node.alive) return;
    for (const action of node.core.takeActions()) this.#execute(node, action);
  }

  #execute(node: SimNode, action: CoreAction): void {
    const incarnation = node.incarnation;
    const later = (fn: () => void, at = this.now) =>
      this.queue.at(at, () => {
        if (!node.alive || node.incarnation !== incarnation) return;
        fn();
        this.#pump(node);
      });
    switch (action.type) {
      case 'send':
        this.#transmit(node, this.node(action.peer), (receiver, connId) =>
          receiver.core.onUpdates(node.id, connId, action.lane, action.body, this.now),
        );
        return;
      case 'fetch':
        this.#fetch(node, action, later);
        return;
      case 'cancel-fetch':
        return; // the core ignores a cancelled token's result
      case 'validate': {
        const cfg = this.#channels.get(action.artifact.channel)!;
        const verdict = cfg.validate ? cfg.validate(action.artifact) : 'accept';
        if (typeof verdict !== 'string')
          throw new Error('the simulator needs synchronous validate hooks');
        later(() => node.core.onValidated(action.token, verdict, this.now));
        return;
      }
      case 'deliver': {
        const key = `${action.artifact.channel}:${action.artifact.id}`;
        if (!node.deliveries.has(key))
          node.deliveries.set(key, { at: this.now, from: action.artifact.from });
        return;
      }
      case 'wake': {
        const version = ++node.wakeVersion;
        later(() => {
          if (node.wakeVersion === version) node.core.tick(this.now);
        }, action.at);
        return;
      }
    }
  }

  #fetch(
    node: SimNode,
    action: Extract<CoreAction, { type: 'fetch' }>,
    later: (fn: () => void, at?: number) => void,
  ): void {
    const server = this.node(action.peer);
    const link = this.#links.get(pairKey(node.id, server.id));
    let done = false;
    const finish = (result: Parameters<BroadcastCore['onFetched']>[1]) => {
      if (done) return;
      done = true;
      link?.fetches.delete(`${node.id}#${action.token}`);
      later(() => node.core.onFetched(action.token, result, this.now));
    };
    if (!link?.up) {
      finish({ ok: false, reason: 'link_closed' });
      return;
    }
    link.fetches.set(`${node.id}#${action.token}`, () =>
      finish({ ok: false, reason: 'link_closed' }),
    );
    later(() => finish({ ok: false, reason: 'timeout' }), this.now + action.timeoutMs);
    this.#transmit(node, server, (srv) => {
      if (srv.serve === 'silent') return;
      const response =
        srv.serve === 'wrong-bytes'
          ? this.#wrongBytes(action.body)
          : srv.core.serve(action.lane, action.body);
      this.#transmit(srv, node, () => finish({ ok: true, body: response }));
    });
  }

  #wrongBytes(requestBody: Uint8Array): Uint8Array {
    FetchRequest.decode(requestBody);
    return FetchResponse.encode({
      artifact: this.rng.bytes(64) as Uint8Array<ArrayBuffer>,
      missing: false,
    });
  }
}
