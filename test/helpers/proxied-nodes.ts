/**
 * Whole nodes on 127.0.0.1 with a {@link FaultProxy} in front of some of them: the registry
 * lists the proxy's address for a proxied node, so every peer that dials it goes through the
 * proxy. In a subnet sorted by NodeId the last node is dialed by all others, so proxying it puts
 * every one of its links behind the proxy.
 */
import type { NodeOptions } from '../../src/node/index.ts';
import { FaultProxy } from './fault-proxy.ts';
import { launchNodes, type NodeGroup, publishAndLink, type TestBroadcastNode } from './nodes.ts';
import { slow } from './slowdown.ts';

/**
 * Short timers, so that dead links are noticed and redialled within about a second on an idle
 * machine. The timeouts are scaled by the slowdown factor: a loaded machine stalls a test
 * process's event loop for longer than a second, and an idle timeout that fires then drops a
 * link no fault touched (a test that expected none saw a peer-down).
 */
export const FAST_TIMING = {
  keepaliveIntervalMs: 100,
  idleTimeoutMs: slow(1000),
  helloTimeoutMs: slow(1000),
  closeTimeoutMs: slow(200),
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
  const nodes = await launchNodes(group, n, (i) => ({
    transport: { backoff: { baseMs: 20, maxMs: 200 }, timing: FAST_TIMING },
    ...perNode(i),
  }));
  for (const i of proxied) proxies.set(i, await FaultProxy.start(nodes[i]!.address));
  await publishAndLink(nodes, (x, i) => proxies.get(i)?.address ?? x.address);
  return nodes;
}
