/**
 * What the demo's main thread and its node workers agree on: the workload's shape, the
 * configuration a worker starts with, and the messages they exchange.
 *
 * Lifecycle of one worker: `listening` (its port) -> main writes the registry and posts
 * `registry-written` -> `mesh` (links to all peers up) -> main posts `go` when every node is
 * meshed -> `done` (its report) -> main posts `stop` -> `stopped`. `progress` is posted
 * periodically throughout; `failed` at most once. A `stop` may come at any time (timeout, or
 * another node failed): the worker then posts its partial report before `stopped`.
 * @module
 */

/** The subnet every demo node belongs to. */
export const DEMO_SUBNET = 'demo';

/** Size of an "urgent" message (high lane), bytes. */
export const URGENT_BYTES = 100;

/** One urgent message is sent before every this many bulk messages (first one included). */
export const URGENT_EVERY = 10;

/**
 * Bytes at the start of every demo message: send time (u64 LE, ns of the process-wide
 * monotonic clock, shared by all worker threads), sender index (u32 LE), sequence (u32 LE).
 */
export const HEADER_BYTES = 16;

/** What every node sends to every other node. */
export interface DemoWorkload {
  /** Bulk messages per node, each sent to every peer. */
  readonly messages: number;
  /** Size of a bulk message, bytes (at least {@link HEADER_BYTES}). */
  readonly size: number;
}

/** Messages of each application lane. */
export interface LaneCounts {
  high: number;
  bulk: number;
}

/** Urgent (high-lane) messages one node sends to one peer. */
export function urgentPerPeer(messages: number): number {
  return Math.ceil(messages / URGENT_EVERY);
}

/** Messages one node expects from one peer, per lane. */
export function expectedPerPeer(workload: DemoWorkload): LaneCounts {
  return { high: urgentPerPeer(workload.messages), bulk: workload.messages };
}

/** Everything a node worker needs, passed as its `workerData.config`. */
export interface WorkerConfig {
  /** Position of the node (0-based), for messages and reports. */
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
}

/** Messages from the main thread to a worker. */
export type ToWorker = { type: 'registry-written' } | { type: 'go' } | { type: 'stop' };

/** What one node measured, posted when its part is done (or when stopped early). */
export interface NodeReport {
  readonly index: number;
  readonly nodeId: string;
  /** Peers this node had a link up to when it reported. */
  readonly connectedPeers: string[];
  /** Messages received, per lane. */
  readonly delivered: LaneCounts;
  /** Body bytes received, all lanes. */
  readonly payloadBytes: number;
  /** (peer, lane) pairs whose count differs from what was expected. */
  readonly shortPairs: number;
  /** Messages on an unexpected lane or with a wrong length. */
  readonly malformed: number;
  /** Sends that were rejected (no link, queue full...). */
  readonly sendErrors: number;
  /** Links that went down after the mesh was complete. */
  readonly linkDrops: number;
  /** Frame bytes handed to TLS (`subnet_p2p_transport_sent_bytes_total`), per lane. */
  readonly wireBytes: { control: number; high: number; bulk: number };
  /** One-way latency of every received message, ms, per lane. */
  readonly latenciesMs: { high: Float64Array; bulk: Float64Array };
  /** Whether every expected message arrived and every send completed. */
  readonly finished: boolean;
}

/** Messages from a worker to the main thread. */
export type FromWorker =
  | { type: 'listening'; nodeId: string; port: number }
  | { type: 'progress'; peersUp: number; receivedBytes: number }
  | { type: 'mesh' }
  | { type: 'done'; report: NodeReport }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };
