// A user's TypeScript, type-checked by test/package/installed-package.test.ts with `tsc` against
// the declarations shipped in the packed tarball (never run). The `@ts-expect-error` lines fail
// the check if the types were missing or `any`: each must be an error.
import {
  type ArtifactId,
  type Channel,
  createNode,
  FileRegistryClient,
  Lane,
  loadIdentity,
  type Node,
  type NodeId,
  SubnetP2pError,
} from 'subnet-p2p';

export async function start(): Promise<Node> {
  const node: Node = await createNode({
    identity: await loadIdentity('node1/'),
    registry: await FileRegistryClient.open('registry.json'),
    subnet: 's1',
    listen: { host: '127.0.0.1', port: 4100 },
    channels: {
      consensus: { lane: Lane.high, priority: () => ({ fetch: 10 }) },
      ingress: { lane: Lane.bulk, maxArtifactBytes: 4 << 20 },
    },
  });
  const blocks: Channel = node.channel('consensus');
  const id: ArtifactId = blocks.broadcast(new Uint8Array([1, 2, 3]), { urgent: true });
  for await (const a of blocks.received()) {
    const from: NodeId = a.from;
    if (a.id === id) console.log(from, a.bytes.length);
    break;
  }
  blocks.purgeBelow('height', 40);
  return node;
}

export function kinds(err: unknown): string | undefined {
  return err instanceof SubnetP2pError ? err.code : undefined;
}

export async function misuse(node: Node): Promise<void> {
  // @ts-expect-error a port is a number
  await createNode({ subnet: 's1', listen: { host: '127.0.0.1', port: '4100' } });
  // @ts-expect-error broadcast takes bytes, not a string
  node.channel('ingress').broadcast('text');
}
