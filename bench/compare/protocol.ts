/**
 * What the comparison's driver and its node processes agree on: the systems, the artifacts'
 * header, and the messages exchanged over the child-process IPC channel (structured clone,
 * `serialization: 'advanced'`, so typed arrays pass as they are).
 *
 * Lifecycle of one node process: driver sends `setup` -> node answers `listening` (its address)
 * -> driver sends `peers` (every node's address) -> node links to the others and answers
 * `ready` once its links (and, for gossipsub, its mesh) are up -> for each round: driver sends
 * `round` -> node broadcasts its share at `startAt` and answers `done` once it holds every other
 * node's artifacts of the round -> driver sends `report` -> node answers `report` -> ... ->
 * driver sends `stop` -> node exits. A node that fails answers `failed` and exits.
 * @module
 */

/** The systems compared. */
export const SYSTEMS = ['subnet-p2p', 'gossipsub', 'raw-pull', 'raw-tls'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** subnet-p2p: artifacts up to this size go on `consensus` (pushed inline), larger on `ingress`. */
export const CONSENSUS_MAX_BYTES = 1024;
/**
 * raw-pull: artifacts up to this size are pushed whole, larger ones advertised and pulled, as
 * subnet-p2p does with its channels' default `pushThresholdBytes`.
 */
export const PUSH_THRESHOLD_BYTES = 1024;
/** subnet-p2p: the channel created without options (library defaults, `DEFAULT_CHANNEL`). */
export const DEFAULT_CHANNEL_NAME = 'default';

/**
 * Bytes at the start of every artifact: send time (f64 LE, ms of `performance.timeOrigin +
 * performance.now()`, a wall clock comparable across processes), round (u32 LE), origin index
 * (u32 LE), sequence number at the origin (u32 LE). The rest is random.
 */
export const HEADER_BYTES = 20;

/** Everything a node process needs to start. */
export interface NodeSetup {
  readonly system: SystemName;
  readonly index: number;
  readonly nodes: number;
  /** Ed25519 identity (PEM) made by the driver: used by subnet-p2p, raw-pull and raw TLS. */
  readonly keyPem: string;
  readonly certPem: string;
  /** subnet-p2p only: the channels' relay policy (default: the channel default, `relay`). */
  readonly relay?: 'relay' | 'origin-only';
  /** subnet-p2p only: false turns the load governor off (transport `bulkYieldLoopShare` 0). */
  readonly bulkYield?: boolean;
  /**
   * A folder: the node writes a V8 CPU profile of each round (from the round message to its
   * report) there, as `<system>-r<round>-n<index>.cpuprofile`.
   */
  readonly profileDir?: string;
}

/** One round: every node broadcasts `perNode` artifacts of `size` bytes. */
export interface RoundSpec {
  readonly round: number;
  readonly size: number;
  readonly perNode: number;
  /**
   * subnet-p2p only: the channel the round broadcasts on (`default`: a channel created without
   * options, i.e. the library's DEFAULT_CHANNEL). Absent: `consensus` up to 1 KiB, else `ingress`.
   */
  readonly channel?: string;
  /** Common start time of every node's sends (shared wall clock, ms). */
  readonly startAt: number;
  /**
   * Paced sends: a node's k-th artifact is broadcast at startAt + k * intervalMs (absent or 0:
   * all at once, each after the previous call returned and the loop turned once).
   */
  readonly intervalMs?: number;
}

/** What one node measured in one round. */
export interface NodeRoundReport {
  readonly index: number;
  /** Distinct artifacts of other nodes delivered in the round. */
  readonly deliveries: number;
  /** Payload bytes of those. */
  readonly receivedBytes: number;
  /** Deliveries the application saw again after a first one (should be 0 for all systems). */
  readonly appDuplicates: number;
  /**
   * Copies of artifact payloads this node's protocol received in the round (pushes, downloads,
   * gossip forwards, including the ones it dropped as already held); null when the system
   * cannot tell per node.
   */
  readonly payloadCopies: number | null;
  /**
   * System-specific counters read in the round (deltas), e.g. subnet-p2p's inline updates sent,
   * downloads and duplicate downloads.
   */
  readonly counters: Record<string, number>;
  /** Deliveries that were no artifact of the round (bad header, own, wrong size). */
  readonly malformed: number;
  /** One-way latency of each delivery, ms (origin's broadcast call to delivery here). */
  readonly latenciesMs: Float64Array;
  /** When this node held every artifact of the round (shared clock, ms), or null. */
  readonly completedAt: number | null;
  /** CPU time of the process from the round's message to the report, seconds (user + system). */
  readonly cpuSeconds: number;
  /** Largest resident set size sampled during the round, bytes. */
  readonly peakRssBytes: number;
  /** Own artifacts broadcast, and broadcast calls that failed. */
  readonly broadcasts: number;
  readonly broadcastErrors: number;
}

/** Messages from the driver to a node. */
export type ToNode =
  | { type: 'setup'; setup: NodeSetup }
  | { type: 'peers'; addresses: readonly string[] }
  | { type: 'round'; spec: RoundSpec }
  | { type: 'report' }
  | { type: 'stop' };

/** Messages from a node to the driver. */
export type FromNode =
  | { type: 'listening'; address: string }
  | { type: 'ready' }
  | { type: 'done'; at: number }
  | { type: 'report'; report: NodeRoundReport }
  | { type: 'failed'; message: string };

/** The shared clock, ms (see {@link HEADER_BYTES}). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
