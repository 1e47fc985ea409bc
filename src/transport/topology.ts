import { hash } from 'node:crypto';
import { ConfigError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';

/** How the members of a subnet are linked. */
export interface TopologyOptions {
  /**
   * Subnets of at most this many nodes are a full mesh (every node links every other). Larger
   * subnets use the sparse ring described at {@link linkedPeers}. Default 40; `Infinity`
   * keeps every subnet a full mesh.
   */
  fullMeshMaxNodes: number;
}

export const DEFAULT_TOPOLOGY: Readonly<TopologyOptions> = Object.freeze({ fullMeshMaxNodes: 40 });

/** Fills in defaults and checks the values; throws ERR_CONFIG naming a bad one. */
export function resolveTopology(opts: Partial<TopologyOptions> = {}): TopologyOptions {
  const t = { ...DEFAULT_TOPOLOGY, ...opts };
  if (Number.isNaN(t.fullMeshMaxNodes) || t.fullMeshMaxNodes < 0) {
    throw new ConfigError(
      'topology.fullMeshMaxNodes',
      `must be >= 0 (Infinity: always a full mesh), got ${t.fullMeshMaxNodes}`,
    );
  }
  return t;
}

/**
 * The members of the subnet that `self` keeps a link with.
 *
 * `members` is every node of the subnet, `self` included, in any order (duplicates are
 * ignored). The result depends only on the set of members and `opts`, so every node computes
 * the same graph from the same registry version, and it is symmetric: `b` is in
 * `linkedPeers(m, a)` iff `a` is in `linkedPeers(m, b)`. If `self` is not a member, it is empty.
 *
 * - n <= `fullMeshMaxNodes`: full mesh, every other member (degree n - 1, diameter 1).
 * - Above: the members are ordered by SHA-256 of their NodeId text and placed on a ring, and
 *   each links the members at ring distance 1, 2, 4, 8, ... (every power of two below n / 2)
 *   in both directions: a circulant graph. Ordering by hash means neighbours are unrelated to
 *   NodeId order or to who operates the nodes. The graph is connected (the distance-1 ring
 *   alone is), symmetric (ring distance is), and vertex-transitive, so every node has the same
 *   degree and eccentricity. Degree is 2 * ceil(log2(n / 2)) for n >= 3, at most
 *   2 * ceil(log2 n). Diameter: any ring offset m <= n / 2 is reached by the hops of its binary
 *   digits, so at most ceil(log2 n); hops in both directions (signed digits) bring it to
 *   ceil(log2(n) / 2) + 1 or less (checked for every n up to 5000). Computed:
 *
 *   | n    | degree | diameter |
 *   | ---- | ------ | -------- |
 *   | 41   | 10     | 3        |
 *   | 100  | 12     | 4        |
 *   | 1000 | 18     | 6        |
 *   | 5000 | 24     | 6        |
 *
 *   So an artifact relayed by every node that receives it reaches all nodes within `diameter`
 *   hops, and a node keeps O(log n) links instead of n - 1.
 *
 * Cost: a sort by SHA-256 digests (memoized per NodeId), O(n log n): at n = 5000 about 1.5 ms,
 * 4-6 ms when no digest is cached yet.
 */
export function linkedPeers(
  members: readonly NodeId[],
  self: NodeId,
  opts: TopologyOptions = DEFAULT_TOPOLOGY,
): ReadonlySet<NodeId> {
  return new TopologyView(members, opts).neighbors(self);
}

/** SHA-256 (hex) of NodeId texts, memoized: the members change little between registry versions. */
const ringKeys = new Map<NodeId, string>();
const RING_KEY_CACHE_MAX = 1 << 16;

function ringKey(id: NodeId): string {
  let key = ringKeys.get(id);
  if (key === undefined) {
    if (ringKeys.size >= RING_KEY_CACHE_MAX) ringKeys.clear();
    key = hash('sha256', id, 'hex');
    ringKeys.set(id, key);
  }
  return key;
}

/** The members sorted by SHA-256 of their NodeId text (ties, which do not happen, by NodeId). */
function ringOrder(members: readonly NodeId[]): NodeId[] {
  return members
    .map((id) => ({ id, key: ringKey(id) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1))
    .map((e) => e.id);
}

/**
 * Who links whom in a subnet, answered for any pair (the same links {@link linkedPeers} gives
 * each member): built once per membership, then O(1) per question.
 */
export class TopologyView {
  readonly #members: Set<NodeId>;
  /** The ring and each member's position in it (sparse subnets only). */
  readonly #ring: NodeId[] | undefined;
  readonly #position: Map<NodeId, number> | undefined;
  /** Neighbours computed so far (the view never changes: a new membership is a new view). */
  readonly #neighbors = new Map<NodeId, ReadonlySet<NodeId>>();

  constructor(members: readonly NodeId[], opts: TopologyOptions = DEFAULT_TOPOLOGY) {
    this.#members = new Set(members);
    if (this.#members.size > opts.fullMeshMaxNodes) {
      this.#ring = ringOrder([...this.#members]);
      this.#position = new Map(this.#ring.map((id, i) => [id, i]));
    }
  }

  /** The members `self` links to (none if it is not a member); computed once per member. */
  neighbors(self: NodeId): ReadonlySet<NodeId> {
    let out = this.#neighbors.get(self);
    if (!out) {
      out = this.#computeNeighbors(self);
      this.#neighbors.set(self, out);
    }
    return out;
  }

  #computeNeighbors(self: NodeId): Set<NodeId> {
    if (!this.#members.has(self)) return new Set();
    const ring = this.#ring;
    if (!ring) return new Set([...this.#members].filter((id) => id !== self));
    const n = ring.length;
    const i = this.#position!.get(self)!;
    const out = new Set<NodeId>();
    // Distance 1 always (n = 2 has no power of two below n / 2), then 2, 4, ... below n / 2.
    for (let d = 1; d === 1 || 2 * d < n; d *= 2) {
      out.add(ring[(i + d) % n]!);
      out.add(ring[(i - d + n) % n]!);
    }
    out.delete(self);
    return out;
  }

  /** Whether members `a` and `b` keep a link (false if either is not a member, or a = b). */
  linked(a: NodeId, b: NodeId): boolean {
    if (a === b || !this.#members.has(a) || !this.#members.has(b)) return false;
    if (!this.#position) return true;
    const n = this.#members.size;
    const apart = Math.abs(this.#position.get(a)! - this.#position.get(b)!);
    const d = Math.min(apart, n - apart);
    // Distances 1, 2, 4, ... below n / 2 (and 1 always), as linkedPeers picks them.
    return d === 1 || ((d & (d - 1)) === 0 && 2 * d < n);
  }
}
