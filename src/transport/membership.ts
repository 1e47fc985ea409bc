/**
 * Who our neighbours are: the members of our subnet we keep a link with (by the topology, at
 * the registry version the transport acts on), and whether a peer that completed the TLS
 * handshake may have a link with us.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import type { NodeRecord, Registry, SubnetId } from '../registry/index.ts';
import { type Verdict, verifyPeer } from './peer-verify.ts';
import { type TopologyOptions, TopologyView } from './topology.ts';

/** What a registry version says of our subnet, beyond our neighbours. */
export interface Adopted {
  /** Whether this node is a member of its subnet. */
  member: boolean;
  /** The members of the subnet. */
  members: ReadonlySet<NodeId>;
}

/** Our neighbours at the registry version we act on, following the registry's versions. */
export class Membership {
  readonly #self: NodeId;
  readonly #subnet: SubnetId;
  readonly #topology: TopologyOptions;
  readonly #log: Logger;
  /** The members of our subnet we keep a link with, at the registry version we act on. */
  #neighbors = new Map<NodeId, NodeRecord>();
  #registry: Registry | undefined;
  /** Who links whom in our subnet, at the registry version we act on. */
  #view: TopologyView | undefined;

  constructor(opts: { self: NodeId; subnet: SubnetId; topology: TopologyOptions; log: Logger }) {
    this.#self = opts.self;
    this.#subnet = opts.subnet;
    this.#topology = opts.topology;
    this.#log = opts.log;
  }

  /** The registry version we act on (undefined before the first). */
  get registry(): Registry | undefined {
    return this.#registry;
  }

  /** Our neighbours and their registry records. */
  get neighbors(): ReadonlyMap<NodeId, NodeRecord> {
    return this.#neighbors;
  }

  /** Whether members `a` and `b` of our subnet keep a link with each other, by the topology. */
  linked(a: NodeId, b: NodeId): boolean {
    return this.#view?.linked(a, b) ?? false;
  }

  /** The members `node` keeps a link with, by the topology (none before a registry is known). */
  neighborsOf(node: NodeId): ReadonlySet<NodeId> {
    return this.#view?.neighbors(node) ?? new Set();
  }

  /** Acts on `registry` from now on: recomputes the neighbours and logs who came and went. */
  adopt(registry: Registry): Adopted {
    this.#registry = registry;
    const neighbors = new Map<NodeId, NodeRecord>();
    const ids = registry.subnets.get(this.#subnet) ?? [];
    this.#view = new TopologyView(ids, this.#topology);
    const members = new Set(ids);
    const member = members.has(this.#self);
    if (member) {
      for (const id of this.#view.neighbors(this.#self)) {
        neighbors.set(id, registry.nodes.get(id)!);
      }
    } else {
      this.#log.warn({ version: registry.version }, 'this node is not a member of its subnet');
    }
    this.#logChanges(registry.version, this.#neighbors, neighbors);
    this.#neighbors = neighbors;
    return { member, members };
  }

  /**
   * Whether the peer that presented `presented` may have a link with us (see `verifyPeer`);
   * `expected` is the node we dialed, for an outbound connection.
   */
  verify(presented: X509Certificate | undefined, expected?: NodeId): Verdict {
    return verifyPeer({
      registry: this.#registry,
      subnet: this.#subnet,
      self: this.#self,
      presented,
      isNeighbor: (p) => this.#neighbors.has(p),
      expected,
    });
  }

  /** Logs at info the neighbours a registry version added and removed (nothing if none). */
  #logChanges(
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
}
