/**
 * Test harness: real transports on 127.0.0.1 with OS-chosen ports, identities generated once
 * per process, and an in-memory registry per node. Waits are on events, never on sleeps.
 */
export { identities, metricValue } from './common.ts';

import { Registry as MetricsRegistry } from 'prom-client';
import type { NodeId, NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import {
  addNode,
  InMemoryRegistryClient,
  initRegistry,
  type RegistryDocument,
} from '../../src/registry/index.ts';
import {
  createTransport,
  type LinkTiming,
  type Transport,
  type TransportEvent,
  type TransportOptions,
} from '../../src/transport/index.ts';
import { identities } from './common.ts';
import { slow } from './slowdown.ts';

/**
 * The transport's default timeouts (hello 5 s, idle 5 s, close 1 s), scaled by the slowdown
 * factor for the nodes of the tests: a loaded machine can stall a test process longer than 5 s,
 * and a link that times out then is re-established, which a test counting links or events
 * (one link per pair, one peer-up per neighbour, one goodbye) would count. The keepalive
 * interval stays at its default.
 */
export const TEST_TIMING: Readonly<Partial<LinkTiming>> = {
  helloTimeoutMs: slow(5000),
  idleTimeoutMs: slow(5000),
  closeTimeoutMs: slow(1000),
};

export interface TestNode {
  identity: NodeIdentity;
  registry: InMemoryRegistryClient;
  transport: Transport;
  metrics: MetricsRegistry;
  address: string;
}

export type NodeOptions = Partial<Omit<TransportOptions, 'identity' | 'registry' | 'subnet'>>;

/** Starts a transport for `identity` on 127.0.0.1:`port` (0 = any) with an empty registry. */
export async function startNode(
  identity: NodeIdentity,
  subnet: string,
  opts: NodeOptions = {},
  port = 0,
): Promise<TestNode> {
  const registry = new InMemoryRegistryClient();
  const metrics = new MetricsRegistry();
  const transport = createTransport({
    identity,
    registry,
    subnet,
    listen: { host: '127.0.0.1', port },
    logger: silentLogger(),
    metrics,
    backoff: { baseMs: 20, maxMs: 200 },
    ...opts,
    timing: { ...TEST_TIMING, ...opts.timing },
  });
  const addr = await transport.start();
  return { identity, registry, transport, metrics, address: `127.0.0.1:${addr.port}` };
}

/** A registry document listing `members` (subnet, identity, address), at `version`. */
export function registryDoc(
  members: { subnet: string; identity: NodeIdentity; address: string }[],
  version?: number,
): RegistryDocument {
  let doc = initRegistry();
  for (const m of members) {
    doc = addNode(doc, {
      subnet: m.subnet,
      address: m.address,
      certificatePem: m.identity.certificatePem,
    });
  }
  return version === undefined ? doc : { ...doc, version };
}

/** Publishes `doc` to every node's registry client; throws if any rejects it. */
export function publish(nodes: TestNode[], doc: RegistryDocument): void {
  for (const n of nodes) {
    const r = n.registry.publish(doc);
    if (!r.adopted) throw new Error(`registry not adopted: ${JSON.stringify(r)}`);
  }
}

/** Resolves with the first event of `transport` matching `pred`. */
export function nextEvent<T extends TransportEvent>(
  transport: Transport,
  pred: (e: TransportEvent) => e is T,
): Promise<T>;
export function nextEvent(
  transport: Transport,
  pred: (e: TransportEvent) => boolean,
): Promise<TransportEvent>;
export function nextEvent(
  transport: Transport,
  pred: (e: TransportEvent) => boolean,
): Promise<TransportEvent> {
  return new Promise((resolve) => {
    const off = transport.subscribe((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}

/** Resolves once `transport` has a link up to `peer`. */
export async function linkUp(transport: Transport, peer: NodeId): Promise<void> {
  if (transport.connId(peer) !== undefined) return;
  await nextEvent(transport, (e) => e.type === 'peer-up' && e.peer === peer);
}

/** Resolves once every node has a link up to every other. */
export async function fullMesh(nodes: TestNode[]): Promise<void> {
  await Promise.all(
    nodes.flatMap((a) =>
      nodes.filter((b) => b !== a).map((b) => linkUp(a.transport, b.identity.nodeId)),
    ),
  );
}

/** Starts `n` nodes of one subnet and publishes a registry listing them all; waits for the mesh. */
export async function startSubnet(
  n: number,
  opts: NodeOptions = {},
  subnet = 'subnet-a',
): Promise<TestNode[]> {
  const ids = await identities(n);
  const nodes = await Promise.all(ids.map((id) => startNode(id, subnet, opts)));
  publish(
    nodes,
    registryDoc(nodes.map((x) => ({ subnet, identity: x.identity, address: x.address }))),
  );
  await fullMesh(nodes);
  return nodes;
}

/** Stops every node (ignores ones already stopped). */
export async function stopAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.transport.stop()));
}
