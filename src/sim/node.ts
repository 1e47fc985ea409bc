/**
 * A simulated node and the options of a simulated network: what the network keeps of each node
 * (its driver, its access link, its chunk store, what was observed of it).
 * @module
 */
import {
  BroadcastDriver,
  type BroadcastDriverOptions,
  type ChannelConfig,
  type DownloadLimits,
} from '../broadcast/index.ts';
import type { NodeId } from '../identity/index.ts';
import { silentLogger } from '../log.ts';
import type { Bandwidth, Downlink, Nic, SimTransportLimits } from './bandwidth.ts';
import { Downlink as DownlinkModel, Nic as NicModel } from './bandwidth.ts';
import type { EventQueue } from './event-queue.ts';
import { SimObserver } from './observer.ts';
import { type ArtifactBytes, SimPool } from './pool.ts';
import type { Rng } from './rng.ts';

/** How a simulated node answers fetches. */
export type ServeBehavior = 'honest' | 'wrong-bytes' | 'silent';

/** Options of {@link SimNetwork.run}: when to stop. */
export interface RunOptions {
  /** Stop once this holds (checked after each event). */
  until?: () => boolean;
  /** Stop before the first event later than this virtual time, ms. */
  maxTime?: number;
  /** Stop after this many events (default 50 million). */
  maxEvents?: number;
}

/** One-way latency of a link, drawn once per link: [min, max] ms uniformly, or a sampler. */
export type LatencyModel = readonly [number, number] | ((rng: Rng) => number);

export interface SimNetworkOptions {
  seed: number;
  /** One-way latency of each link, drawn once per link. Default uniform in [10, 150] ms. */
  latencyMs?: LatencyModel;
  channels: Record<string, Partial<ChannelConfig>>;
  downloads?: Partial<DownloadLimits>;
  /**
   * Every node's access link (addNode may override it per node). Unset: unlimited bandwidth,
   * each message arrives exactly one latency after it was sent (fast; the core tests use it).
   * Set: messages go through the production send scheduler of each link, the node's upload,
   * the link's latency and the receiver's download (see bandwidth.ts).
   */
  bandwidth?: Bandwidth;
  /** Transport settings of the bandwidth model. Default: the production limits. */
  transport?: Partial<SimTransportLimits>;
  /** Width of the time bins of the recorded traffic series, ms. Default 100. */
  binMs?: number;
  /** Time a chunk-store write takes before the core is told it completed, ms. Default 0. */
  chunkWriteMs?: number;
  /**
   * Whether `node.deliveries` records every delivery (default true). A long run (the week of
   * `retention`) turns it off: it would keep an entry per artifact per node for good.
   */
  recordDeliveries?: boolean;
}

/**
 * A node's simulated chunk store, per `channel:id`: the chunks held, by index. The arrays are
 * shared: every store holds the very Uint8Array objects the origin cut (a received chunk is
 * compared to it byte for byte before it is stored), so an artifact costs one copy whatever the
 * node count.
 */
export type SimChunkStore = Map<string, Map<number, Uint8Array>>;

/** One simulated node: a production BroadcastDriver plus what the simulation observed of it. */
export interface SimNode {
  readonly id: NodeId;
  /** The node's driver (a new one at every restart) and its core. */
  driver: BroadcastDriver;
  core: BroadcastDriver['core'];
  observer: SimObserver;
  alive: boolean;
  /** Bumped at every restart: events of an older incarnation are dropped. */
  incarnation: number;
  serve: ServeBehavior;
  /** Artifacts delivered to the application, by `channel:id`: first time, and from whom. */
  readonly deliveries: Map<string, { at: number; from: NodeId }>;
  nextConnId: number;
  /** Its access link, if bandwidth is modelled. */
  readonly bandwidth: Bandwidth | undefined;
  nic: Nic | undefined;
  downlink: Downlink | undefined;
  pools: Map<string, SimPool>;
  /** Its chunk store (lost at a crash, as its pools are: an in-memory store). */
  chunks: SimChunkStore;
  /** Chunk responses with data received, per `channel:id`, this incarnation (duplicates). */
  chunksReceived: Map<string, Set<number>>;
  /** Chunk responses with data it received for a chunk it already held or had received. */
  duplicateChunks: number;
  /** Chunk responses with data it sent, and their chunk bytes (all incarnations). */
  chunksServed: number;
  chunkBytesServed: number;
  /** Frame bytes it sent on all its links (all incarnations, every lane, headers included). */
  uploadBytes: number;
}

/** A node as added, before its first driver is started (no driver, core, observer yet). */
export function newSimNode(
  id: NodeId,
  serve: ServeBehavior,
  bandwidth: Bandwidth | undefined,
): SimNode {
  return {
    id,
    driver: undefined as unknown as BroadcastDriver,
    core: undefined as unknown as BroadcastDriver['core'],
    observer: undefined as unknown as SimObserver,
    alive: true,
    incarnation: 0,
    serve,
    deliveries: new Map(),
    nextConnId: 1,
    bandwidth,
    nic: undefined,
    downlink: undefined,
    pools: new Map(),
    chunks: new Map(),
    chunksReceived: new Map(),
    duplicateChunks: 0,
    chunksServed: 0,
    chunkBytesServed: 0,
    uploadBytes: 0,
  };
}

/** The drivers' logger: silent (a core bug is rethrown through `onFault`, not logged). */
const SIM_LOGGER = silentLogger();

/**
 * Starts a new incarnation of `node`: a production {@link BroadcastDriver} over `environment`,
 * with a fresh observer and pools (sharing the network's artifact bytes). No chunk stores: the
 * chunked channels' stores are the node's own (`node.chunks`), reached through the environment;
 * the driver's application streams are not simulated.
 */
export function startDriver(
  node: SimNode,
  opts: Pick<
    BroadcastDriverOptions,
    'channels' | 'downloads' | 'environment' | 'deliver' | 'linked' | 'neighbors'
  > & { bytes: ArtifactBytes },
): void {
  const observer = new SimObserver();
  const pools = new Map([...opts.channels.keys()].map((n) => [n, new SimPool(opts.bytes)]));
  const driver = new BroadcastDriver({
    self: node.id,
    channels: opts.channels,
    pools,
    downloads: opts.downloads,
    environment: opts.environment,
    observer,
    logger: SIM_LOGGER,
    deliver: opts.deliver,
    onFault: (err) => {
      throw err;
    },
    linked: opts.linked,
    ...(opts.neighbors ? { neighbors: opts.neighbors } : {}),
  });
  node.driver = driver;
  node.core = driver.core;
  node.observer = observer;
  node.pools = pools;
}

/** Gives `node` its access link (a NIC and a downlink), if bandwidth is modelled. */
export function attachAccess(node: SimNode, queue: EventQueue, maxFrameBytes: number): void {
  if (!node.bandwidth) return;
  node.nic = new NicModel(queue, node.bandwidth.uploadBytesPerSec, maxFrameBytes + 6);
  node.downlink = new DownlinkModel(node.bandwidth.downloadBytesPerSec);
}
