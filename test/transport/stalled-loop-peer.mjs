// The peer of test/transport/stalled-loop-keeps-links.test.ts, in a worker thread, so that it
// keeps pinging while the test's main thread is stalled. Plain JS: it registers tsx, then loads
// the test helpers. Its own idle timeout is long: only the main thread's link is under test.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { identities } = await import('../helpers/common.ts');
const { publish, registryDoc, startNode } = await import('../helpers/subnet.ts');

const [identity] = await identities(1);
const node = await startNode(identity, 's', {
  timing: { keepaliveIntervalMs: 100, idleTimeoutMs: 60_000 },
});
parentPort.postMessage({
  nodeId: identity.nodeId,
  certificatePem: identity.certificatePem,
  address: node.address,
});
parentPort.on('message', async (msg) => {
  if (msg.stop) {
    await node.transport.stop();
    parentPort.close();
    return;
  }
  const main = { nodeId: msg.nodeId, certificatePem: msg.certificatePem };
  publish(
    [node],
    registryDoc([
      { subnet: 's', identity: main, address: msg.address },
      { subnet: 's', identity, address: node.address },
    ]),
  );
});
