import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.ts';
import { type NodeId, nodeIdFromPublicKeyDer } from '../../src/identity/index.ts';
import {
  DEFAULT_TOPOLOGY,
  linkedPeers,
  resolveTopology,
  type TopologyOptions,
  TopologyView,
} from '../../src/transport/topology.ts';

const SEED = 20_260_124;

/** `n` valid, distinct, reproducible NodeIds (fake "public keys": NodeIds need only bytes). */
function nodeIds(n: number, salt = 0): NodeId[] {
  return Array.from({ length: n }, (_, i) => nodeIdFromPublicKeyDer(Buffer.from(`${salt}/${i}`)));
}

type Graph = Map<NodeId, ReadonlySet<NodeId>>;

/** Every member's view, computed independently (as every node does). */
function graphOf(ids: readonly NodeId[], opts: TopologyOptions): Graph {
  return new Map(ids.map((id) => [id, linkedPeers(ids, id, opts)]));
}

/** The largest hop count between two nodes (BFS from every node); fails if not connected. */
function diameter(g: Graph): number {
  const ids = [...g.keys()];
  const index = new Map(ids.map((id, i) => [id, i]));
  const adj = ids.map((id) => Int32Array.from(g.get(id)!, (p) => index.get(p)!));
  const dist = new Int32Array(ids.length);
  const queue = new Int32Array(ids.length);
  let d = 0;
  for (let src = 0; src < ids.length; src++) {
    dist.fill(-1);
    dist[src] = 0;
    queue[0] = src;
    let head = 0;
    let tail = 1;
    while (head < tail) {
      const u = queue[head++]!;
      for (const v of adj[u]!) {
        if (dist[v]! < 0) {
          dist[v] = dist[u]! + 1;
          queue[tail++] = v;
        }
      }
    }
    assert.equal(tail, ids.length, 'the graph is connected');
    d = Math.max(d, dist[queue[tail - 1]!]!);
  }
  return d;
}

/** Checks every property of the graph of `ids` and returns its max degree and diameter. */
function checkGraph(
  ids: readonly NodeId[],
  opts: TopologyOptions,
): { degree: number; diam: number } {
  const n = ids.length;
  const g = graphOf(ids, opts);
  let degree = 0;
  for (const [a, peers] of g) {
    assert.ok(!peers.has(a), 'no self link');
    for (const b of peers) {
      assert.ok(g.has(b), 'neighbours are members');
      assert.ok(g.get(b)!.has(a), 'symmetric: a links b iff b links a');
    }
    degree = Math.max(degree, peers.size);
  }
  if (n <= opts.fullMeshMaxNodes) {
    for (const peers of g.values()) assert.equal(peers.size, n - 1, 'full mesh');
  } else {
    const bound = 2 * Math.ceil(Math.log2(n));
    assert.ok(degree <= bound, `degree ${degree} <= 2 * ceil(log2 ${n}) = ${bound}`);
  }
  const diam = n === 1 ? 0 : diameter(g);
  if (n > 1) assert.ok(diam <= Math.ceil(Math.log2(n) / 2) + 1, `diameter ${diam} at n = ${n}`);
  return { degree, diam };
}

describe('topology: which members link', () => {
  it('is a full mesh up to fullMeshMaxNodes (default 40)', () => {
    assert.equal(DEFAULT_TOPOLOGY.fullMeshMaxNodes, 40);
    const ids = nodeIds(40);
    for (const id of ids) {
      assert.deepEqual(
        [...linkedPeers(ids, id, DEFAULT_TOPOLOGY)].sort(),
        ids.filter((x) => x !== id).sort(),
      );
    }
    const above = nodeIds(41);
    assert.equal(linkedPeers(above, above[0]!, DEFAULT_TOPOLOGY).size, 10);
  });

  it('is symmetric, connected, of bounded degree and small diameter for n in 1..300', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.oneof(fc.constant(40), fc.integer({ min: 0, max: 60 })),
        fc.nat(),
        (n, fullMeshMaxNodes, salt) => {
          checkGraph(nodeIds(n, salt), { fullMeshMaxNodes });
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('is symmetric, connected, of bounded degree and small diameter for every n in 1..80', () => {
    // Every small size, sparse from n = 2 on: the edge cases of the ring (n = 2, 3, 4, powers of two).
    for (let n = 1; n <= 80; n++) checkGraph(nodeIds(n, n), { fullMeshMaxNodes: 1 });
  });

  it('does not depend on the order of the member list, nor on duplicates', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 200 })
          .chain((n) =>
            fc.tuple(
              fc.constant(nodeIds(n)),
              fc.shuffledSubarray(nodeIds(n), { minLength: n, maxLength: n }),
              fc.array(fc.nat({ max: n - 1 }), { maxLength: 5 }),
              fc.integer({ min: 0, max: 50 }),
            ),
          ),
        ([ids, shuffled, dupIdx, fullMeshMaxNodes]) => {
          const withDups = [...shuffled, ...dupIdx.map((i) => ids[i]!)];
          for (const self of ids) {
            const a = [...linkedPeers(ids, self, { fullMeshMaxNodes })].sort();
            const b = [...linkedPeers(withDups, self, { fullMeshMaxNodes })].sort();
            assert.deepEqual(a, b);
          }
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('fills in defaults and refuses a bad fullMeshMaxNodes', () => {
    assert.deepEqual(resolveTopology(), { fullMeshMaxNodes: 40 });
    assert.deepEqual(resolveTopology({ fullMeshMaxNodes: 4 }), { fullMeshMaxNodes: 4 });
    const named = (err: unknown) =>
      err instanceof ConfigError && /topology\.fullMeshMaxNodes/.test(err.message);
    assert.throws(() => resolveTopology({ fullMeshMaxNodes: -1 }), named);
    assert.throws(() => resolveTopology({ fullMeshMaxNodes: Number.NaN }), named);
  });

  it('gives a non-member no peers', () => {
    const ids = nodeIds(50);
    const outsider = nodeIds(1, 999)[0]!;
    assert.equal(linkedPeers(ids, outsider, DEFAULT_TOPOLOGY).size, 0);
    assert.equal(linkedPeers(ids, outsider, { fullMeshMaxNodes: 100 }).size, 0);
  });

  it('has the degree and diameter documented for n = 41, 100 and 1000', () => {
    const figures: [number, number, number][] = [
      [41, 10, 3],
      [100, 12, 4],
      [1000, 18, 6],
    ];
    for (const [n, degree, diam] of figures) {
      assert.deepEqual(checkGraph(nodeIds(n, 7), DEFAULT_TOPOLOGY), { degree, diam }, `n = ${n}`);
    }
  });

  it('holds at n = 3000', () => {
    const { degree, diam } = checkGraph(nodeIds(3000, 3), DEFAULT_TOPOLOGY);
    assert.equal(degree, 22);
    assert.equal(diam, 6);
  });

  it('TopologyView answers for any pair exactly what linkedPeers gives each member', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }),
        fc.constantFrom(0, 5, 40),
        fc.integer({ min: 0, max: 1000 }),
        (n, fullMeshMaxNodes, salt) => {
          const ids = nodeIds(n, salt);
          const opts = { fullMeshMaxNodes };
          const view = new TopologyView(ids, opts);
          for (const a of ids) {
            const peers = linkedPeers(ids, a, opts);
            for (const b of ids) assert.equal(view.linked(a, b), peers.has(b), `${a} - ${b}`);
          }
          const stranger = nodeIds(1, salt + 5000)[0]!;
          assert.equal(view.linked(ids[0]!, stranger), false);
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });
});
