/**
 * A libp2p gossipsub node process of the comparison: libp2p 2.8 over TCP on 127.0.0.1, noise,
 * yamux, identify (gossipsub requires it) and @chainsafe/libp2p-gossipsub 14, every node
 * subscribed to one topic; the lower index dials.
 *
 * Settings, chosen for this workload (13 known, honest nodes in a full mesh of connections):
 * - `floodPublish: true` (the default): the origin sends its own messages to every subscribed
 *   peer, so every node gets each artifact one hop from its origin; mesh peers forward copies.
 * - `batchPublish: true`: a published message is serialized once for all peers.
 * - `globalSignaturePolicy: 'StrictNoSign'` with a content-addressed `msgIdFn` (SHA-256 of the
 *   data): no per-message signature (links are authenticated by noise), ids like subnet-p2p's.
 * - IDONTWANT (gossipsub v1.2) for every message of at least 512 bytes (the default threshold,
 *   so all sizes here): a node tells its mesh peers not to forward what it already has.
 * - Mesh degree D = 6 (Dlo 4, Dhi 12), heartbeat 1 s: the defaults.
 * - Size limits raised: `maxInboundDataLength` 16 MiB, unbounded outbound buffer (default).
 * - Loopback: the connection manager's per-host inbound limits raised, and the peer score's
 *   IP-colocation penalty off (`IPColocationFactorWeight: 0`), else the mesh stays empty.
 * - The connection monitor's pings no longer close a connection whose answer is late
 *   (`abortConnectionOnPingFailure: false`). With the default, at 13 nodes and 1 MiB, pings
 *   queued behind megabytes of forwards time out, libp2p closes the connections (logged as
 *   "aborting connection due to ping failure"), and the round never completes.
 *
 * Duplicates are counted by wrapping the instance's `validateReceivedMessage` (every message
 * with data that arrives passes there; `duplicate` is the verdict for one already seen).
 * @module
 */
import { createHash } from 'node:crypto';
import { gossipsub } from '@chainsafe/libp2p-gossipsub';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Libp2p, Message, PubSub } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { runNodeProcess, type SystemNode } from './node-process.ts';
import type { NodeSetup } from './protocol.ts';

const TOPIC = 'bench';
const MiB = 1024 * 1024;
/** Gossipsub's lower mesh degree bound (Dlo): the mesh counts as formed at this size. */
const D_LO = 4;
const READY_TIMEOUT_MS = 60_000;

type Pubsub = PubSub & {
  getMeshPeers(topic: string): string[];
  validateReceivedMessage(...args: unknown[]): Promise<{ code: string }>;
};

class GossipsubNode implements SystemNode {
  #setup: NodeSetup | undefined;
  #node: Libp2p<{ pubsub: PubSub }> | undefined;
  #copies = 0;
  #duplicates = 0;

  get #pubsub(): Pubsub {
    return this.#node!.services.pubsub as Pubsub;
  }

  async start(setup: NodeSetup, deliver: (bytes: Uint8Array) => void): Promise<string> {
    this.#setup = setup;
    const node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // Pings stay on, but a late answer no longer closes the connection.
      connectionMonitor: { abortConnectionOnPingFailure: false },
      connectionManager: {
        inboundConnectionThreshold: 10_000,
        maxIncomingPendingConnections: 10_000,
      },
      services: {
        identify: identify(),
        pubsub: gossipsub({
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          floodPublish: true,
          batchPublish: true,
          globalSignaturePolicy: 'StrictNoSign',
          msgIdFn: (msg: Message) => createHash('sha256').update(msg.data).digest(),
          idontwantMinDataSize: 512,
          maxInboundDataLength: 16 * MiB,
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
      },
    });
    this.#node = node;
    const ps = this.#pubsub;
    const validate = ps.validateReceivedMessage.bind(ps);
    ps.validateReceivedMessage = async (...args: unknown[]) => {
      const result = await validate(...args);
      this.#copies += 1;
      if (result.code === 'duplicate') this.#duplicates += 1;
      return result;
    };
    ps.addEventListener('message', (e) => deliver(e.detail.data));
    ps.subscribe(TOPIC);
    const addr = node.getMultiaddrs()[0];
    if (!addr) throw new Error('libp2p node has no listen address');
    return addr.toString();
  }

  async connect(addresses: readonly string[]): Promise<void> {
    const setup = this.#setup!;
    const node = this.#node!;
    for (let j = setup.index + 1; j < setup.nodes; j++) {
      await node.dial(multiaddr(addresses[j]!));
    }
    const others = setup.nodes - 1;
    const meshTarget = Math.min(D_LO, others);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const peers = new Set(node.getConnections().map((c) => c.remotePeer.toString()));
      const subscribers = this.#pubsub.getSubscribers(TOPIC).length;
      const mesh = this.#pubsub.getMeshPeers(TOPIC).length;
      if (peers.size >= others && subscribers >= others && mesh >= meshTarget) return;
      if (Date.now() > deadline) {
        throw new Error(
          `gossipsub not ready after ${READY_TIMEOUT_MS} ms: ${peers.size} peers, ${subscribers} subscribers, mesh ${mesh}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async broadcast(bytes: Uint8Array): Promise<void> {
    await this.#pubsub.publish(TOPIC, bytes);
  }

  counters(): Record<string, number> {
    return {
      copies: this.#copies,
      duplicates: this.#duplicates,
    };
  }

  payloadCopies(counters: Record<string, number>): number {
    return counters.copies ?? 0;
  }

  async stop(): Promise<void> {
    await this.#node?.stop();
  }
}

runNodeProcess(new GossipsubNode());
