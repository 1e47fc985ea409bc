/**
 * A subnet-p2p node process of the comparison: `createNode` on 127.0.0.1 over mutual TLS 1.3,
 * with the node's default channels (`consensus` on the high lane, pushed inline up to 1 KiB;
 * `ingress` on the bulk lane, advertised and pulled) and an in-memory registry listing every
 * node, published when the driver sends the addresses. Artifacts of at most 1 KiB go on
 * `consensus` (urgent, so inline), larger ones on `ingress`; those above 1 MiB travel in chunks
 * (the default) and are read back whole from the chunk store when delivered. A round may name
 * its channel instead: `default` is a channel created with no options (`DEFAULT_CHANNEL`),
 * broadcast to without options, as a new user would.
 * @module
 */

// The library as users run it: the compiled package (dist/, which `npm run bench:compare`
// builds first), not src/ through tsx, whose transform adds work to every function it creates.
import { identityFromPem } from '../../dist/identity/index.js';
import {
  addNode,
  type ChannelConfig,
  createNode,
  DEFAULT_NODE_CHANNELS,
  InMemoryRegistryClient,
  initRegistry,
  type Node,
  type NodeIdentity,
  silentLogger,
} from '../../dist/index.js';
import { metricSum } from '../../dist/metrics.js';
import { runNodeProcess, type SystemNode } from './node-process.ts';
import {
  CONSENSUS_MAX_BYTES,
  DEFAULT_CHANNEL_NAME,
  type NodeSetup,
  type RoundSpec,
} from './protocol.ts';

const SUBNET = 'bench';
/** Slots per channel: every artifact of a default run (each node relays every artifact). */
const MAX_SLOTS = 100_000;

async function readWhole(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

class SubnetP2pNode implements SystemNode {
  #identity: NodeIdentity | undefined;
  #registry = new InMemoryRegistryClient();
  #node: Node | undefined;
  #nodes = 0;

  async start(setup: NodeSetup, deliver: (bytes: Uint8Array) => void): Promise<string> {
    this.#identity = identityFromPem(setup.keyPem, setup.certPem);
    this.#nodes = setup.nodes;
    const channels: Record<string, Partial<ChannelConfig>> = Object.fromEntries(
      Object.entries(DEFAULT_NODE_CHANNELS).map(([name, cfg]) => [
        name,
        { ...cfg, maxSlots: MAX_SLOTS, ...(setup.relay ? { relay: setup.relay } : {}) },
      ]),
    );
    // A channel as a new user creates it: no options, the library's DEFAULT_CHANNEL (the relay
    // policy of --relay aside).
    channels[DEFAULT_CHANNEL_NAME] = setup.relay ? { relay: setup.relay } : {};
    const node = await createNode({
      identity: this.#identity,
      registry: this.#registry,
      subnet: SUBNET,
      listen: { host: '127.0.0.1', port: 0 },
      channels,
      maxBufferedDeliveries: MAX_SLOTS,
      logger: silentLogger(),
      ...(setup.bulkYield === false ? { transport: { limits: { bulkYieldLoopShare: 0 } } } : {}),
    });
    this.#node = node;
    for (const name of node.channels()) {
      void (async () => {
        const channel = node.channel(name);
        for await (const artifact of channel.received()) {
          if (!artifact.chunked) deliver(artifact.bytes);
          // Above 1 MiB artifacts travel in chunks (the default): read back from the chunk store.
          else void readWhole(channel.stream(artifact.id)).then(deliver);
        }
      })();
    }
    return `127.0.0.1:${node.address.port}|${setup.certPem}`;
  }

  async connect(addresses: readonly string[]): Promise<void> {
    const node = this.#node!;
    // Identities travel with the addresses: the driver sends "address certificate-PEM".
    let doc = initRegistry();
    for (const entry of addresses) {
      const [address, certificatePem] = entry.split('|') as [string, string];
      doc = addNode(doc, { subnet: SUBNET, address, certificatePem });
    }
    const result = this.#registry.publish(doc);
    if (!result.adopted) throw new Error(`registry not adopted: ${JSON.stringify(result)}`);
    await new Promise<void>((resolve) => {
      const check = () => {
        const up = node.transport.peers().filter((p) => p.state === 'connected').length;
        if (up === this.#nodes - 1) {
          off();
          resolve();
        }
      };
      const off = node.transport.subscribe(check);
      check();
    });
  }

  broadcast(bytes: Uint8Array, spec: RoundSpec): void {
    const node = this.#node!;
    if (spec.channel !== undefined && spec.channel !== 'consensus') {
      node.channel(spec.channel).broadcast(bytes);
    } else if (spec.size <= CONSENSUS_MAX_BYTES)
      node.channel('consensus').broadcast(bytes, { urgent: true });
    else node.channel('ingress').broadcast(bytes);
  }

  async counters(): Promise<Record<string, number>> {
    const m = this.#node!.metrics;
    return {
      inlineSent: await metricSum(m, 'subnet_p2p_broadcast_updates_sent_total', {
        kind: 'inline',
      }),
      advertsSent: await metricSum(m, 'subnet_p2p_broadcast_updates_sent_total', {
        kind: 'advert',
      }),
      downloadsSucceeded: await metricSum(m, 'subnet_p2p_broadcast_downloads_total', {
        outcome: 'succeeded',
      }),
      downloadsRetried: await metricSum(m, 'subnet_p2p_broadcast_downloads_total', {
        outcome: 'retried',
      }),
      duplicateDownloads: await metricSum(m, 'subnet_p2p_broadcast_duplicate_downloads_total'),
      tlsPlaintextSent: await metricSum(m, 'subnet_p2p_transport_sent_bytes_total'),
    };
  }

  /**
   * Inline copies are counted where they are sent (each reaches its peer once), so a node
   * cannot tell its own: the driver sums `inlineSent + downloadsSucceeded + duplicateDownloads`
   * over all nodes instead.
   */
  payloadCopies(): null {
    return null;
  }

  async stop(): Promise<void> {
    await this.#node?.stop();
    await this.#registry.close();
  }
}

runNodeProcess(new SubnetP2pNode());
