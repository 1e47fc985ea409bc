/**
 * One demo node, run in its own worker thread or its own child process (either started through
 * node-bootstrap.mjs; it talks to the orchestrator through a ParentChannel, parent-channel.ts):
 * loads its identity from disk, follows the registry file, runs a node (transport + broadcast
 * layer, see createNode) on 127.0.0.1 or its config's `listenHost` (port chosen by the OS), and
 * broadcasts its share of the workload when told to, while counting what it receives. See
 * protocol.ts for the message sequence.
 * @module
 */

import { randomFillSync } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import type { Registry as MetricsRegistry } from 'prom-client';
import {
  type ArtifactId,
  type ChunkProgress,
  DiskChunkStore,
  InMemoryPool,
} from '../broadcast/index.ts';
import { loadIdentity, type NodeId } from '../identity/index.ts';
import { silentLogger } from '../log.ts';
import { metricSum } from '../metrics.ts';
import { createNode, type Node } from '../node/index.ts';
import { FileRegistryClient } from '../registry/index.ts';
import { Lane } from '../transport/index.ts';
import { deferred } from './deferred.ts';
import { connectToParent } from './parent-channel.ts';
import {
  type BroadcastCounters,
  CHANNELS,
  CONSENSUS,
  CONSENSUS_PUSH_THRESHOLD,
  DEMO_SUBNET,
  type FromWorker,
  HEADER_BYTES,
  INGRESS,
  LARGE_ARTIFACT_BYTES,
  type NodeReport,
  type ToWorker,
} from './protocol.ts';
import {
  now,
  type PlannedArtifact,
  planWorkload,
  Receiver,
  type SendStats,
  sendArtifacts,
  type WorkloadPlan,
} from './workload.ts';

/** How often progress is posted to the main thread, ms. */
const PROGRESS_INTERVAL_MS = 100;
/** How often the registry file is polled (the main thread also asks for a check), ms. */
const REGISTRY_POLL_MS = 250;
const MiB = 1024 * 1024;

const parent = await connectToParent();
const { config } = parent;

function post(msg: FromWorker): void {
  parent.post(msg);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolvers of the steps the main thread triggers. */
const signals = {
  registryWritten: deferred(),
  go: deferred<number>(),
  report: deferred(),
};

let failed = false;
function fail(message: string): void {
  if (failed) return;
  failed = true;
  post({ type: 'failed', message: `node ${config.index}: ${message}` });
}

async function wireBytes(metrics: MetricsRegistry): Promise<NodeReport['wireBytes']> {
  const sent = (lane: string) =>
    metricSum(metrics, 'subnet_p2p_transport_sent_bytes_total', { lane });
  return { control: await sent('control'), high: await sent('high'), bulk: await sent('bulk') };
}

async function broadcastCounters(metrics: MetricsRegistry): Promise<BroadcastCounters> {
  const downloads = (outcome: string) =>
    metricSum(metrics, 'subnet_p2p_broadcast_downloads_total', { outcome });
  const updates = (kind: string) =>
    metricSum(metrics, 'subnet_p2p_broadcast_updates_sent_total', { kind });
  return {
    duplicateDownloads: await metricSum(metrics, 'subnet_p2p_broadcast_duplicate_downloads_total'),
    downloads: {
      started: await downloads('started'),
      succeeded: await downloads('succeeded'),
      retried: await downloads('retried'),
      faulty: await downloads('faulty'),
      cancelled: await downloads('cancelled'),
    },
    updatesSent: {
      inline: await updates('inline'),
      advert: await updates('advert'),
      withdrawn: await updates('withdrawn'),
    },
    deliveriesDropped: await metricSum(metrics, 'subnet_p2p_broadcast_deliveries_dropped_total'),
    wants: await metricSum(metrics, 'subnet_p2p_broadcast_wants'),
  };
}

/** A disk chunk store that counts the bytes it reads (serves) per artifact. */
class CountingChunkStore extends DiskChunkStore {
  readonly served = new Map<ArtifactId, number>();

  override async get(id: ArtifactId, index: number): Promise<Uint8Array | undefined> {
    const bytes = await super.get(id, index);
    if (bytes) this.served.set(id, (this.served.get(id) ?? 0) + bytes.length);
    return bytes;
  }
}

/** A large artifact's bytes, one chunk at a time: the header, then random bytes. */
function* largeArtifact(a: PlannedArtifact, sentAt: number): Generator<Uint8Array> {
  const piece = LARGE_ARTIFACT_BYTES;
  for (let at = 0; at < a.size; at += piece) {
    const bytes = new Uint8Array(Math.min(piece, a.size - at));
    randomFillSync(bytes);
    if (at === 0) {
      const view = new DataView(bytes.buffer);
      view.setFloat64(0, sentAt, true);
      view.setUint32(8, a.origin, true);
      view.setUint32(12, a.seq, true);
    }
    yield bytes;
  }
}

interface NodeState {
  node: Node;
  registry: FileRegistryClient;
  plan: WorkloadPlan;
  receiver: Receiver;
  sent: SendStats;
  linkDrops: number;
  reported: boolean;
  stopping: boolean;
  progress: NodeJS.Timeout;
  readers: Promise<void>[];
  store: CountingChunkStore;
  ownLarge: Map<ArtifactId, number>;
  chunkProgress: Map<ArtifactId, ChunkProgress>;
}

function largeBytesFrom(state: NodeState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of state.chunkProgress.values()) {
    for (const [peer, bytes] of Object.entries(p.bytesFrom)) {
      out[peer] = (out[peer] ?? 0) + bytes;
    }
  }
  return out;
}

async function report(state: NodeState): Promise<void> {
  if (state.reported) return;
  state.reported = true;
  const { node, receiver, sent, plan } = state;
  const connected = node.transport.peers().filter((p) => p.state === 'connected');
  const own = plan.byOrigin[config.index]!.length;
  sampleMemory();
  const result: NodeReport = {
    index: config.index,
    nodeId: node.nodeId,
    connectedPeers: connected.map((p) => p.nodeId),
    linkDrops: state.linkDrops,
    deliveries: { ...receiver.deliveries },
    receivedBytes: receiver.receivedBytes,
    duplicateDeliveries: receiver.duplicateDeliveries,
    malformed: receiver.malformed,
    latenciesMs: receiver.latencies(),
    backgroundDoneAt: receiver.backgroundDoneAt,
    lastLoadedSentAt: receiver.lastLoadedSentAt,
    completedAt: receiver.completedAt,
    broadcasts: sent.broadcasts,
    broadcastRetries: sent.retries,
    broadcastErrors: sent.errors,
    pacingLagMaxMs: sent.pacingLagMaxMs,
    wireBytes: await wireBytes(node.metrics),
    broadcast: await broadcastCounters(node.metrics),
    finished: receiver.finished && sent.broadcasts === own && sent.errors === 0,
    largeOwnBytes: [...state.ownLarge.values()].reduce((n, b) => n + b, 0),
    largeOwnUploadBytes: [...state.ownLarge.keys()].reduce(
      (n, id) => n + (state.store.served.get(id) ?? 0),
      0,
    ),
    largeBytesFrom: largeBytesFrom(state),
    peakNodeMemoryMb: Math.round(peakNodeMemory / 1e5) / 10,
    peakRssMb: Math.round(peakRss / 1e5) / 10,
  };
  post({ type: 'report', report: result });
}

/**
 * This node's own memory at its peak, bytes: its V8 heap plus the memory outside it that its
 * objects hold (buffers: `external` includes `arrayBuffers`). Per worker thread, unlike the RSS,
 * which is the whole process's; native memory of the shared process (OpenSSL, libuv) is not in it.
 */
let peakNodeMemory = 0;
/**
 * Peak resident memory of this node's own process, bytes, when it runs as a process; 0 in a
 * worker thread (the orchestrator samples the demo process, every node in it).
 */
let peakRss = 0;
/**
 * Cheap enough to run every 100 ms beside the transfer: the heap figures from V8, and the RSS
 * (read from /proc, slow while 13 threads fault pages in) only when this node is a process of
 * its own; in a worker thread the orchestrator samples the process's RSS itself.
 */
const sampleMemory = () => {
  const h = getHeapStatistics();
  peakNodeMemory = Math.max(peakNodeMemory, h.total_heap_size + h.external_memory);
  if (isMainThread) peakRss = Math.max(peakRss, process.memoryUsage.rss());
};
sampleMemory();
const memorySampler = setInterval(sampleMemory, 100);
memorySampler.unref();

async function start(): Promise<NodeState> {
  const plan = planWorkload(config.nodes, config.workload);
  const identity = await loadIdentity(config.identityDir);
  const registry = await FileRegistryClient.open(config.registryPath, {
    operatorPublicKey: config.operatorPublicKeyPem,
    pollIntervalMs: REGISTRY_POLL_MS,
    logger: silentLogger(),
  });
  // Every node keeps every artifact (its own and relayed ones): slots and pools sized for the
  // whole run; received() buffers too, so no delivery is dropped.
  const slots = (n: number) => Math.max(10_000, n + 16);
  const poolBytes = (n: number) => Math.max(1024 * MiB, n + MiB);
  const c = plan.channels;
  const store = new CountingChunkStore(config.chunkDir);
  const node = await createNode({
    identity,
    registry,
    subnet: DEMO_SUBNET,
    listen: { host: config.listenHost ?? '127.0.0.1', port: 0 },
    channels: {
      [CONSENSUS]: {
        lane: Lane.high,
        pushThresholdBytes: CONSENSUS_PUSH_THRESHOLD,
        maxArtifactBytes: MiB,
        maxSlots: slots(c.consensus.artifacts),
      },
      [INGRESS]: {
        lane: Lane.bulk,
        maxArtifactBytes: Math.max(MiB, c.ingress.maxSize ?? 0),
        maxSlots: slots(c.ingress.artifacts),
        chunking: {
          thresholdBytes: LARGE_ARTIFACT_BYTES,
          chunkBytes: MiB,
          maxChunkBytes: MiB,
          maxManifestBytes: 512 * 1024,
        },
      },
    },
    chunkStores: { [INGRESS]: store },
    pools: {
      [CONSENSUS]: new InMemoryPool({ maxBytes: poolBytes(c.consensus.payloadBytes) }),
      [INGRESS]: new InMemoryPool({ maxBytes: poolBytes(c.ingress.payloadBytes) }),
    },
    maxBufferedDeliveries: Math.max(10_000, plan.artifacts.length),
    logger: silentLogger(),
  });
  const receiver = new Receiver(plan, config.index);
  const state: NodeState = {
    node,
    registry,
    plan,
    receiver,
    sent: { broadcasts: 0, retries: 0, errors: 0, pacingLagMaxMs: null },
    linkDrops: 0,
    reported: false,
    stopping: false,
    progress: setInterval(() => {
      const peersUp = node.transport.peers().filter((p) => p.state === 'connected').length;
      let chunksDone = 0;
      let chunks = 0;
      for (const p of state.chunkProgress.values()) {
        chunksDone += p.chunksDone;
        chunks += p.chunks;
      }
      post({
        type: 'progress',
        peersUp,
        deliveries: receiver.received,
        receivedBytes: receiver.receivedBytes,
        chunksDone,
        chunks,
      });
    }, PROGRESS_INTERVAL_MS),
    readers: [],
    store,
    ownLarge: new Map(),
    chunkProgress: new Map(),
  };
  node.channel(INGRESS).onProgress((p) => state.chunkProgress.set(p.id, p));
  state.progress.unref();
  // Subscribed before any peer is known: nothing can be delivered earlier.
  state.readers = CHANNELS.map(async (name) => {
    const channel = node.channel(name);
    for await (const artifact of channel.received()) {
      const at = now();
      if (!artifact.chunked) {
        receiver.record(name, artifact, at);
        continue;
      }
      // A large artifact: its header is in its first chunk.
      let first: Uint8Array = new Uint8Array(0);
      for await (const chunk of channel.stream(artifact.id)) {
        first = chunk.subarray(0, HEADER_BYTES);
        break;
      }
      receiver.record(name, { ...artifact, bytes: first }, at, artifact.chunked.size);
    }
  });
  return state;
}

/** Resolves when the node has a link up to each of the other `nodes - 1` members. */
function meshUp(state: NodeState): Promise<void> {
  const { transport } = state.node;
  const up = new Set<NodeId>(
    transport
      .peers()
      .filter((p) => p.state === 'connected')
      .map((p) => p.nodeId),
  );
  const { promise, resolve } = deferred();
  let meshed = false;
  const check = () => {
    if (!meshed && up.size === config.nodes - 1) {
      meshed = true;
      resolve();
    }
  };
  transport.subscribe((e) => {
    if (e.type === 'peer-up') up.add(e.peer);
    if (e.type === 'peer-down') {
      up.delete(e.peer);
      if (meshed) state.linkDrops += 1;
    }
    check();
  });
  check();
  return promise;
}

async function run(state: NodeState): Promise<void> {
  const { node, registry, receiver, plan } = state;
  const mesh = meshUp(state);
  post({ type: 'listening', nodeId: node.nodeId, port: node.address.port });
  await signals.registryWritten.promise;
  await registry.checkNow();
  await mesh;
  post({ type: 'mesh' });
  const startAt = await signals.go.promise;
  const sending = sendArtifacts(
    node,
    plan.byOrigin[config.index]!,
    startAt,
    state.sent,
    () => state.stopping,
    (a, err) => fail(`broadcast of artifact ${a.index} failed: ${describe(err)}`),
    (a, sentAt) =>
      node
        .channel(a.channel)
        .broadcastStream(largeArtifact(a, sentAt))
        .then((id) => {
          state.ownLarge.set(id, a.size);
        }),
  );
  await Promise.all([sending, receiver.complete]);
  post({ type: 'received', at: receiver.completedAt ?? now() });
  await signals.report.promise;
  await report(state);
}

async function stop(state: NodeState | undefined): Promise<void> {
  if (state) {
    state.stopping = true;
    await report(state).catch(() => undefined);
    clearInterval(state.progress);
    await state.node.stop();
    await Promise.all(state.readers).catch(() => undefined);
    await state.registry.close();
  }
  post({ type: 'stopped' });
  parent.close();
}

const starting = start();
let stopping: Promise<void> | undefined;
parent.onMessage((msg: ToWorker) => {
  if (msg.type === 'registry-written') signals.registryWritten.resolve();
  else if (msg.type === 'go') signals.go.resolve(msg.startAt);
  else if (msg.type === 'report') signals.report.resolve();
  else if (msg.type === 'stop') {
    stopping ??= starting.then(stop, () => stop(undefined));
  }
});

try {
  await run(await starting);
} catch (err) {
  if (stopping === undefined) fail(describe(err));
}
