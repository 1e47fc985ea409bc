/**
 * What the demo's main thread and its node workers agree on: the channels, the workload's
 * shape, the configuration a worker starts with, and the messages they exchange. A "worker"
 * is a worker thread, or a child process with `nodeProcesses` (the same code and messages;
 * see parent-channel.ts).
 *
 * Lifecycle of one worker: `listening` (its port) -> main writes the registry and posts
 * `registry-written` -> `mesh` (links to all peers up) -> main posts `go` (with the common start
 * time) when every node is meshed -> `received` (every artifact of the other nodes delivered)
 * -> main posts `report` once every node has received everything -> `report` -> main posts
 * `stop` -> `stopped`. `progress` is posted periodically throughout; `failed` at most once. A
 * `stop` may come at any time (timeout, or another node failed): the worker then posts its
 * partial report before `stopped`.
 * @module
 */

/** The subnet every demo node belongs to. */
export const DEMO_SUBNET = 'demo';

/** Small artifacts, pushed inline on the high lane. */
export const CONSENSUS = 'consensus';
/** Large artifacts, advertised and pulled on the bulk lane. */
export const INGRESS = 'ingress';
/** The demo's channels, in report order. */
export const CHANNELS = [CONSENSUS, INGRESS] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** Artifacts of at most this many bytes travel inline on the consensus channel. */
export const CONSENSUS_PUSH_THRESHOLD = 1024;

/**
 * Bytes at the start of every demo artifact: send time (f64 LE, ms of the clock
 * `performance.timeOrigin + performance.now()`, shared by all worker threads and, as wall-clock
 * time, by all processes of the machine), origin index
 * (u32 LE), sequence number at the origin (u32 LE). The rest is random.
 */
export const HEADER_BYTES = 16;

/** Largest artifact of the demo (`--size`), bytes. */
export const MAX_ARTIFACT_BYTES = 8 * 1024 * 1024 * 1024;

/**
 * Ingress artifacts above this size are large: chunked (1 MiB chunks), kept in a disk chunk
 * store under the demo directory, and broadcast from a stream.
 */
export const LARGE_ARTIFACT_BYTES = 1024 * 1024;

/** What the nodes broadcast. */
export interface DemoWorkload {
  /** Artifacts broadcast in the run, all nodes together (node i: artifacts i, i + nodes, ...). */
  readonly artifacts: number;
  /**
   * Size of every artifact, bytes (consensus if at most {@link CONSENSUS_PUSH_THRESHOLD}, else
   * ingress). Undefined: the mixed workload.
   */
  readonly size?: number;
  /**
   * Pacing of each node's consensus artifacts: one per this many ms (staggered among nodes).
   * 0 or undefined: as fast as the others, in sequence order.
   */
  readonly consensusIntervalMs?: number;
  /**
   * Bulk ingress artifacts each node broadcasts besides the workload, bytes (in 1 MiB
   * artifacts), as fast as the queues allow, between the two halves of its consensus stream.
   * 0 or undefined: none.
   */
  readonly backgroundBulkBytes?: number;
}

/**
 * Everything a node worker needs, passed as its `workerData.config` (thread) or in its first
 * IPC message (process).
 */
export interface WorkerConfig {
  /** Position of the node (0-based), for artifacts and reports. */
  readonly index: number;
  /** Number of nodes in the subnet. */
  readonly nodes: number;
  /** Directory holding the node's `node.key` and `node.crt`. */
  readonly identityDir: string;
  /** The registry file, watched with a FileRegistryClient. */
  readonly registryPath: string;
  /** SPKI PEM of the operator key that signed the registry. */
  readonly operatorPublicKeyPem: string;
  readonly workload: DemoWorkload;
  /** Directory of the node's disk chunk store (large artifacts). */
  readonly chunkDir: string;
  /** Address the node listens on (port chosen by the OS); undefined: 127.0.0.1. */
  readonly listenHost?: string;
}

/** Messages from the main thread to a worker. */
export type ToWorker =
  | { type: 'registry-written' }
  /** Start the workload; `startAt` is the common time zero of every node's schedule. */
  | { type: 'go'; startAt: number }
  /** Every node received everything: read the metrics and post the report. */
  | { type: 'report' }
  | { type: 'stop' };

/** Broadcast-layer counters of one node, read from its metrics. */
export interface BroadcastCounters {
  /** `subnet_p2p_broadcast_duplicate_downloads_total`, all channels. */
  duplicateDownloads: number;
  /** `subnet_p2p_broadcast_downloads_total`, all channels, by outcome. */
  downloads: {
    started: number;
    succeeded: number;
    retried: number;
    faulty: number;
    cancelled: number;
  };
  /** `subnet_p2p_broadcast_updates_sent_total`, all channels, by kind. */
  updatesSent: { inline: number; advert: number; withdrawn: number };
  /** `subnet_p2p_broadcast_deliveries_dropped_total`. */
  deliveriesDropped: number;
  /** `subnet_p2p_broadcast_wants` when read: adverts of artifacts not held. */
  wants: number;
}

/** What one node measured, posted at the end (or when stopped early). */
export interface NodeReport {
  readonly index: number;
  readonly nodeId: string;
  /** Peers this node had a link up to when it reported. */
  readonly connectedPeers: string[];
  /** Links that went down after the mesh was up. */
  readonly linkDrops: number;
  /** Distinct artifacts of other nodes delivered, per channel. */
  readonly deliveries: Record<string, number>;
  /** Bytes of those artifacts. */
  readonly receivedBytes: number;
  /** Artifacts delivered again after a first delivery. */
  readonly duplicateDeliveries: number;
  /** Deliveries that are no artifact of the workload (bad header, size or channel, own). */
  readonly malformed: number;
  /**
   * One-way latency, from the origin's broadcast() to delivery here, ms: per channel name, and
   * for the consensus stream of a background-bulk run, `consensus/alone` and `consensus/loaded`.
   */
  readonly latenciesMs: Record<string, Float64Array>;
  /** When the last background bulk artifact was delivered here (shared clock, ms). */
  readonly backgroundDoneAt: number | null;
  /** Latest send time of a `consensus/loaded` artifact delivered here (shared clock, ms). */
  readonly lastLoadedSentAt: number | null;
  /** When the last expected artifact was delivered here (shared clock, ms). */
  readonly completedAt: number | null;
  /** Own artifacts broadcast. */
  readonly broadcasts: number;
  /** broadcast() calls that threw ERR_QUEUE_FULL and were retried. */
  readonly broadcastRetries: number;
  /** Own artifacts that could not be broadcast. */
  readonly broadcastErrors: number;
  /** How far behind its schedule the node broadcast a paced artifact at worst, ms. */
  readonly pacingLagMaxMs: number | null;
  /** `subnet_p2p_transport_sent_bytes_total` per lane: bytes written into the TLS sockets. */
  readonly wireBytes: { control: number; high: number; bulk: number };
  readonly broadcast: BroadcastCounters;
  /** Whether every artifact of the others arrived and every own artifact was broadcast. */
  readonly finished: boolean;
  /** Large (chunked) artifacts: bytes of this node's own ones, and chunk bytes it served of them. */
  readonly largeOwnBytes: number;
  readonly largeOwnUploadBytes: number;
  /** Chunk bytes of large artifacts this node received, by the NodeId of the peer that sent them. */
  readonly largeBytesFrom: Record<string, number>;
  /** Peak of this node's V8 heap plus external memory (buffers), MB (not the process's RSS). */
  readonly peakNodeMemoryMb: number;
  /**
   * Peak resident memory of the node's own process, MB, sampled every 100 ms, with
   * `nodeProcesses`; 0 for a worker thread (the orchestrator samples the demo process's).
   */
  readonly peakRssMb: number;
}

/** Messages from a worker to the main thread. */
export type FromWorker =
  | { type: 'listening'; nodeId: string; port: number }
  | {
      type: 'progress';
      peersUp: number;
      deliveries: number;
      receivedBytes: number;
      /** Chunks of large artifacts verified so far, and in all (of those being received). */
      chunksDone: number;
      chunks: number;
    }
  | { type: 'mesh' }
  | { type: 'received'; at: number }
  | { type: 'report'; report: NodeReport }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };
