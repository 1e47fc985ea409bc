/**
 * Test harness for whole nodes (transport + broadcast) on 127.0.0.1 with OS-chosen ports: each
 * node gets its own in-memory registry, and once all listen, a registry listing their real
 * addresses is published to every one. Waits are on events, never on sleeps.
 */
import type { ChannelConfig, DeliveredArtifact } from '../../src/broadcast/index.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { createNode, type Node, type NodeOptions } from '../../src/node/index.ts';
import { InMemoryRegistryClient, type RegistryDocument } from '../../src/registry/index.ts';
import { Lane } from '../../src/transport/index.ts';
import { identities } from './common.ts';
import { linkUp, registryDoc, TEST_TIMING } from './subnet.ts';

export { metricValue } from './common.ts';

export const SUBNET = 'subnet-a';

/** The channels of the tests: the node's defaults, spelled out. */
export const TEST_CHANNELS: Record<string, Partial<ChannelConfig>> = {
  consensus: { lane: Lane.high, pushThresholdBytes: 1024 },
  ingress: { lane: Lane.bulk },
};

export interface TestBroadcastNode {
  identity: NodeIdentity;
  registry: InMemoryRegistryClient;
  node: Node;
  address: string;
}

/**
 * The nodes a test started, for its `after` hook. A node that comes up after `stop()` (the test
 * failed while nodes were starting) is stopped at once, so no listener keeps the process alive.
 */
export class NodeGroup {
  readonly nodes: TestBroadcastNode[] = [];
  #stopped = false;

  add(node: TestBroadcastNode): void {
    this.nodes.push(node);
    if (this.#stopped) void node.node.stop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await stopNodes(this.nodes);
  }
}

/**
 * Starts `n` nodes (sorted by NodeId) in `group` and publishes a registry listing them all to
 * each; waits until every pair is linked. `perNode(i)` adds options to node i (e.g. its own
 * channel hooks).
 */
export async function startNodes(
  group: NodeGroup,
  n: number,
  perNode: (i: number) => Partial<NodeOptions> = () => ({}),
): Promise<{ nodes: TestBroadcastNode[]; doc: RegistryDocument }> {
  const nodes = await launchNodes(group, n, perNode);
  const doc = await publishAndLink(nodes, (x) => x.address);
  return { nodes, doc };
}

/**
 * Starts `n` nodes (sorted by NodeId) in `group`, each with an empty registry: nothing links
 * until a registry is published ({@link publishAndLink}).
 */
export async function launchNodes(
  group: NodeGroup,
  n: number,
  perNode: (i: number) => Partial<NodeOptions> = () => ({}),
): Promise<TestBroadcastNode[]> {
  const ids = await identities(n);
  return Promise.all(
    ids.map(async (identity, i) => {
      const registry = new InMemoryRegistryClient();
      const own = perNode(i);
      const node = await createNode({
        identity,
        registry,
        subnet: SUBNET,
        listen: { host: '127.0.0.1', port: 0 },
        channels: TEST_CHANNELS,
        logger: silentLogger(),
        ...own,
        transport: {
          backoff: { baseMs: 20, maxMs: 200 },
          ...own.transport,
          timing: { ...TEST_TIMING, ...own.transport?.timing },
        },
      });
      const started = { identity, registry, node, address: `127.0.0.1:${node.address.port}` };
      group.add(started);
      return started;
    }),
  );
}

/**
 * Publishes a registry listing `nodes` (node i at `addressOf(node, i)`) to each of them, and
 * waits until every pair is linked.
 */
export async function publishAndLink(
  nodes: TestBroadcastNode[],
  addressOf: (node: TestBroadcastNode, i: number) => string,
): Promise<RegistryDocument> {
  const doc = registryDoc(
    nodes.map((x, i) => ({ subnet: SUBNET, identity: x.identity, address: addressOf(x, i) })),
  );
  publishTo(nodes, doc);
  await Promise.all(
    nodes.flatMap((a) =>
      nodes.filter((b) => b !== a).map((b) => linkUp(a.node.transport, b.identity.nodeId)),
    ),
  );
  return doc;
}

/** Publishes `doc` to the given nodes' registries; throws if one does not adopt it. */
export function publishTo(nodes: TestBroadcastNode[], doc: RegistryDocument): void {
  for (const n of nodes) {
    const r = n.registry.publish(doc);
    if (!r.adopted) throw new Error(`registry not adopted: ${JSON.stringify(r)}`);
  }
}

/** Stops every node. */
export async function stopNodes(nodes: TestBroadcastNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.node.stop()));
}

/**
 * Reads `iterator` until `done(seen)` holds for what was read so far; returns what was read.
 * The iterator stays open (read the rest later, e.g. after the node stops).
 */
export async function readUntil(
  iterator: AsyncIterator<DeliveredArtifact>,
  done: (seen: DeliveredArtifact[]) => boolean,
  seen: DeliveredArtifact[] = [],
): Promise<DeliveredArtifact[]> {
  while (!done(seen)) {
    const r = await iterator.next();
    if (r.done) throw new Error(`stream ended after ${seen.length} artifacts`);
    seen.push(r.value);
  }
  return seen;
}

/** Everything left in `iterator` until it ends (call after the node stopped). */
export async function drain(
  iterator: AsyncIterator<DeliveredArtifact>,
): Promise<DeliveredArtifact[]> {
  const rest: DeliveredArtifact[] = [];
  for (;;) {
    const r = await iterator.next();
    if (r.done) return rest;
    rest.push(r.value);
  }
}

/** `size` random bytes. */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let off = 0; off < size; off += 65_536) {
    crypto.getRandomValues(out.subarray(off, Math.min(size, off + 65_536)));
  }
  return out;
}

/** Whether two byte arrays hold the same bytes (whatever their classes: Buffer, Uint8Array). */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
