// A user's program, run by test/package/installed-package.test.ts with plain `node` (no
// loader) in a fresh project where the packed tarball is installed: two nodes on loopback,
// one artifact from the first to the second. Prints one JSON line with what arrived.
import {
  addNode,
  createNode,
  generateIdentity,
  InMemoryRegistryClient,
  initRegistry,
  silentLogger,
} from 'subnet-p2p';

const identities = [await generateIdentity(), await generateIdentity()];
const registries = identities.map(() => new InMemoryRegistryClient());
const nodes = [];
for (const [i, identity] of identities.entries()) {
  nodes.push(
    await createNode({
      identity,
      registry: registries[i],
      subnet: 's1',
      listen: { host: '127.0.0.1', port: 0 },
      logger: silentLogger(),
    }),
  );
}
let doc = initRegistry();
for (const [i, node] of nodes.entries()) {
  doc = addNode(doc, {
    subnet: 's1',
    address: `127.0.0.1:${node.address.port}`,
    certificatePem: identities[i].certificatePem,
  });
}
for (const registry of registries) registry.publish(doc);

const text = 'an artifact from an installed package';
const id = nodes[0].channel('ingress').broadcast(new TextEncoder().encode(text));
let received;
for await (const artifact of nodes[1].channel('ingress').received()) {
  if (artifact.id === id) {
    received = new TextDecoder().decode(artifact.bytes);
    break;
  }
}
await Promise.all(nodes.map((n) => n.stop()));
console.log(JSON.stringify({ id, received, reflectMetadata: typeof Reflect.getMetadata }));
