/**
 * Whole nodes on 127.0.0.1 with a {@link FaultProxy} in front of some of them: the registry
 * lists the proxy's address for a proxied node, so every peer that dials it goes through the
 * proxy. In a subnet sorted by NodeId the last node is dialed by all others, so proxying it puts
 * every one of its links behind the proxy.
 */
import { silentLogger } from '../../src/log.ts';
import { createNode, type NodeOptions } from '../../src/node/index.ts';
import { InMemoryRegistryClient } from '../../src/registry/index.ts';
import { identities } from './common.ts';
import { FaultProxy } from './fault-proxy.ts';
import {
  type NodeGroup,
  publishTo,
  SUBNET,
  TEST_CHANNELS,
  type TestBroadcastNode,
} from './nodes.ts';
import { linkUp, registryDoc } from './subnet.ts';

/** Short timers, so that dead links are noticed and redialled within about a second. */
export const FAST_TIMING = {
  keepaliveIntervalMs: 100,
  idleTimeoutMs: 1000,
  helloTimeoutMs: 1000,
  closeTimeoutMs: 200,
};

/**
 * Starts `n` nodes in `group`; each index in `proxied` gets a proxy in front of it, added to
 * `proxies` (close them after the nodes). Publishes the registry and waits until every pair is
 * linked.
 */
export async function startProxiedNodes(
  group: NodeGroup,
  proxies: Map<number, FaultProxy>,
  n: number,
  proxied: number[],
  perNode: (i: number) => Partial<NodeOptions> = () => ({}),
): Promise<TestBroadcastNode[]> {
  const ids = await identities(n);
  const nodes = await Promise.all(
    ids.map(async (identity, i) => {
      const registry = new InMemoryRegistryClient();
      const node = await createNode({
        identity,
        registry,
        subnet: SUBNET,
        listen: { host: '127.0.0.1', port: 0 },
        channels: TEST_CHANNELS,
        logger: silentLogger(),
        transport: { backoff: { baseMs: 20, maxMs: 200 }, timing: FAST_TIMING },
        ...perNode(i),
      });
      const started = { identity, registry, node, address: `127.0.0.1:${node.address.port}` };
      group.add(started);
      return started;
    }),
  );
  for (const i of proxied) proxies.set(i, await FaultProxy.start(nodes[i]!.address));
  const doc = registryDoc(
    nodes.map((x, i) => ({
      subnet: SUBNET,
      identity: x.identity,
      address: proxies.get(i)?.address ?? x.address,
    })),
  );
  publishTo(nodes, doc);
  await Promise.all(
    nodes.flatMap((a) =>
      nodes.filter((b) => b !== a).map((b) => linkUp(a.node.transport, b.identity.nodeId)),
    ),
  );
  return nodes;
}
