/**
 * The setting of the adversarial tests: honest nodes on loopback and one registered member, the
 * adversary, listed with a valid certificate at an address nobody dials. Its NodeId is the
 * lowest, so it dials everyone (test/helpers/wire-peer.ts speaks for it).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ChannelConfig, DownloadLimits } from '../../src/broadcast/index.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { createNode } from '../../src/node/index.ts';
import { InMemoryRegistryClient } from '../../src/registry/index.ts';
import { identities } from './common.ts';
import { type NodeGroup, publishTo, SUBNET, type TestBroadcastNode } from './nodes.ts';
import { FAST_TIMING } from './proxied-nodes.ts';
import { linkUp, registryDoc } from './subnet.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * This process's heap and array buffers after two full collections: what the honest nodes (all
 * in this process) retain, for the adversarial tests' memory bounds.
 */
export function memoryAfterGc(): { heapUsed: number; arrayBuffers: number } {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

/**
 * Starts `honest` nodes (added to `group`, which stops them) with `channels` and `downloads`,
 * publishes a registry that lists them and the adversary, and resolves once the honest nodes
 * are linked with each other.
 */
export async function honestNodesAndAdversary(
  group: NodeGroup,
  honest: number,
  opts: { channels: Record<string, Partial<ChannelConfig>>; downloads: Partial<DownloadLimits> },
): Promise<{ adversary: NodeIdentity; honest: TestBroadcastNode[] }> {
  const ids = await identities(honest + 1);
  const adversary = ids[0]!;
  const nodes = await Promise.all(
    ids.slice(1).map(async (identity) => {
      const registry = new InMemoryRegistryClient();
      const node = await createNode({
        identity,
        registry,
        subnet: SUBNET,
        listen: { host: '127.0.0.1', port: 0 },
        channels: opts.channels,
        downloads: opts.downloads,
        logger: silentLogger(),
        transport: { backoff: { baseMs: 20, maxMs: 200 }, timing: FAST_TIMING },
      });
      const started = { identity, registry, node, address: `127.0.0.1:${node.address.port}` };
      group.add(started);
      return started;
    }),
  );
  publishTo(
    nodes,
    registryDoc([
      { subnet: SUBNET, identity: adversary, address: '127.0.0.1:9' },
      ...nodes.map((h) => ({ subnet: SUBNET, identity: h.identity, address: h.address })),
    ]),
  );
  await Promise.all(
    nodes.flatMap((a) =>
      nodes.filter((b) => b !== a).map((b) => linkUp(a.node.transport, b.identity.nodeId)),
    ),
  );
  return { adversary, honest: nodes };
}
