import type { NodeId } from '../identity/index.ts';
import type { Lane } from '../transport/lanes.ts';
import type { ConnId } from '../transport/link.ts';

/** An artifact's id: the SHA-256 of its bytes, lower-case hex (64 characters). */
export type ArtifactId = string & { readonly __brand: 'ArtifactId' };

/** A slot in a sender's slot table (0 <= slot < maxSlots). */
export type SlotNumber = number & { readonly __brand: 'SlotNumber' };

/** A sender's commit number: grows with every change of its slot table (per channel). */
export type CommitNumber = number & { readonly __brand: 'CommitNumber' };

/** What the receiver learns about an artifact before it has it. */
export interface AdvertInfo {
  channel: string;
  id: ArtifactId;
  size: number;
  attributes: Uint8Array;
  /** Set for a chunked artifact: the size of its manifest (whose SHA-256 is the id). */
  manifestSize?: number;
  /** How old the artifact was when advertised, ms (since its origin broadcast it). */
  ageMs?: number;
}

/**
 * The application's verdict on an advertised artifact: fetch it now (higher priority first),
 * keep the advert and ask again at the next re-evaluation, or drop it.
 */
export type PriorityDecision = { fetch: number } | 'later' | 'drop';

/** The application's verdict on a received artifact (see ChannelConfig.validate). */
export type Validation = 'accept' | 'reject' | 'ignore';

/** Who relays an accepted artifact. */
export type RelayPolicy =
  /** Every node advertises what it accepted (consensus artifacts). */
  | 'relay'
  /** Only the node that created it advertises it (the IC's ingress). */
  | 'origin-only';

/** A chunked artifact's shape (its bytes are in the channel's chunk store, not in memory). */
export interface ChunkedInfo {
  /** Total size, bytes. */
  size: number;
  chunkBytes: number;
  chunks: number;
}

/** One artifact held by a node. */
export interface Artifact {
  channel: string;
  id: ArtifactId;
  /** The bytes; empty for a chunked artifact (read it with `Channel.stream`). */
  bytes: Uint8Array;
  attributes: Uint8Array;
  /** Set for a chunked artifact. */
  chunked?: ChunkedInfo;
}

/** Chunking of a channel's large artifacts (see docs/protocol.md, Chunked artifacts). */
export interface ChunkingConfig {
  /** Artifacts larger than this are chunked. Default 1 MiB. */
  thresholdBytes: number;
  /** Size of the chunks this node cuts. Default 1 MiB. */
  chunkBytes: number;
  /** Largest chunk accepted from a peer's manifest. Default 4 MiB. */
  maxChunkBytes: number;
  /** Largest manifest accepted (17 bytes + 32 per chunk). Default 256 KiB (8191 chunks). */
  maxManifestBytes: number;
}

/** Progress of a chunked download. */
export interface ChunkProgress {
  channel: string;
  id: ArtifactId;
  chunksDone: number;
  chunks: number;
  /** Bytes of verified chunks received from each peer. */
  bytesFrom: Record<string, number>;
}

/** An artifact delivered to the application. */
export interface DeliveredArtifact extends Artifact {
  /** The peer it came from. */
  from: NodeId;
}

/** Configuration of one channel (one artifact type). */
export interface ChannelConfig {
  /** Lane of its adverts, fetches and artifacts. Default bulk. */
  lane: Lane;
  /** Artifacts of at most this many bytes travel inline (pushed). Default 1024. */
  pushThresholdBytes: number;
  /** Largest artifact, bytes. Default 4 MiB. */
  maxArtifactBytes: number;
  /**
   * Slots per peer: the sender's live artifacts, and the adverts a receiver keeps per peer;
   * slot numbers at or above it are refused. Also the most artifacts the channel holds (whole
   * or in part, own and received): past it, one is evicted (see `peerShare`). Default 10 000.
   */
  maxSlots: number;
  /**
   * Bytes the channel holds at most (its pool and its chunked artifacts, whole or in part, a
   * partial one counted at its full size): past it, artifacts are evicted (see `peerShare`).
   * Default: 256 MiB, or `maxArtifactBytes / peerShare` if that is more.
   */
  maxBytes: number;
  /**
   * An artifact expires this long after its origin broadcast it (its age travels in every slot
   * update): it is withdrawn, dropped from the pool and the chunk store, and its adverts are
   * no longer fetched. Default 10 minutes.
   */
  maxAgeMs: number;
  /**
   * The share of `maxSlots` and of `maxBytes` that the artifacts charged to one peer may hold
   * (an artifact is charged to the peer that brought it: the one that pushed it inline, or
   * advertised it first). Past it, that peer's oldest artifacts are evicted first. When the
   * channel is full, the owner holding the most (this node included) loses its oldest: an
   * owner holding no more than an equal split never loses one to another's arrivals.
   * Default 0.25.
   */
  peerShare: number;
  /**
   * Reads the numeric field `field` of an artifact's attributes, for `Channel.purgeBelow`
   * watermarks; undefined if it has none. Default: the attributes as a UTF-8 JSON object, the
   * field's value if it is a finite number (`{"height": 42}`).
   */
  numericAttribute: (attributes: Uint8Array, field: string) => number | undefined;
  /** Relay policy. Default 'relay'. */
  relay: RelayPolicy;
  /** The priority function. Default: fetch everything at priority 0. */
  priority: (advert: AdvertInfo) => PriorityDecision;
  /**
   * The validation hook: accept (keep, deliver and relay), reject (count against the peer),
   * ignore (drop silently). May be async. Default: accept.
   */
  validate?: (artifact: DeliveredArtifact) => Validation | Promise<Validation>;
  /**
   * Chunking of large artifacts, on by default: artifacts above `thresholdBytes` (1 MiB) travel
   * in chunks (1 MiB) and are delivered with empty `bytes` and `chunked` set (read them with
   * `Channel.stream`). A channel with chunking needs a chunk store (in memory by default).
   *
   * `resolveChannel` (and `createNode`) decide by the key, not the value: a config without the
   * key `chunking` gets `DEFAULT_CHUNKING`; an object, even with only some fields, is merged over
   * `DEFAULT_CHUNKING`; the key present with the value `undefined` (or `null`, from a JSON file)
   * turns chunking off, and every artifact travels whole. So `{ ...cfg, chunking: x }` with an
   * `x` that may be undefined turns it off when it is: leave the key out to keep the default.
   */
  chunking?: ChunkingConfig;
}

/** Limits of the download side, per node. */
export interface DownloadLimits {
  /** Downloads in progress at once, all channels. Default 32. */
  maxConcurrentDownloads: number;
  /** Downloads in progress from one peer. Default 8. */
  maxDownloadsPerPeer: number;
  /** Advertised bytes being downloaded from one peer (one download may exceed it alone). Default 16 MiB. */
  maxBytesInFlightPerPeer: number;
  /**
   * The base of a fetch attempt's deadline (a whole artifact, a manifest or a chunk): the
   * deadline is this, plus the time the fetch's bytes and those already in flight to the same
   * peer take at that peer's measured share of its link (or at `minThroughputBytesPerSec`, if
   * that is slower or nothing was measured), all of it at most `maxFetchDeadlineMs`; never less
   * than this plus the fetch's own bytes at `minThroughputBytesPerSec`. See `fetchDeadlineMs`
   * (fetch-deadline.ts) and docs/protocol.md, Fetching. Default 5000 ms.
   */
  downloadTimeoutMs: number;
  /**
   * The slowest throughput a link to a peer is assumed to give us, bytes/s, shared by all our
   * fetches in flight to it: the rate of fetch deadlines until the link's share is measured, and
   * whenever the measure is faster. Default 1 MB/s.
   */
  minThroughputBytesPerSec: number;
  /**
   * The longest deadline a fetch attempt gets from a slow measured share of a link, ms: what a
   * peer that delivers just slowly enough (or stalls after delivering a little) can hold a
   * fetch. A deadline is only longer when the fetch's own bytes at `minThroughputBytesPerSec`
   * take longer. Default 30 000 ms (a 25 Mbit/s uplink shared by 48 chunk requests of 1 MiB:
   * 4 MiB ahead of one requester's chunk take about 16 s).
   */
  maxFetchDeadlineMs: number;
  /** Backoff after every advertiser failed once: base doubling to max. Default 250 ms .. 30 s. */
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * Grace period before fetching an artifact whose advert says it was pushed inline by its
   * origin (the push to us is probably on its way). Default 250 ms.
   */
  pushGraceMs: number;
  /**
   * A relayed advert of a pushed or fetched artifact, to a peer its source (the pusher, or the
   * peer it was downloaded from) links to as well, waits this long (between half and all of
   * it, per node; 4 times as long on a bulk-lane channel) and goes in a batch with others, or
   * not at all if the peer advertises the artifact to us or sends a receipt of it meanwhile:
   * that peer got the push or the advert. Long enough for every peer's receipt to arrive: the
   * spread of the arrival times plus a one-way latency, under load. Only a peer that missed the
   * push or advert waits for it: this delay (then `pushGraceMs` for a pushed one). Default
   * 1000 ms.
   */
  pushRelayDelayMs: number;
  /** Period of priority re-evaluation. Default 1000 ms. */
  reprioritizeIntervalMs: number;
  /** Validations in progress at once. Default 64. */
  maxPendingValidations: number;
  /**
   * Ids of artifacts dismissed (rejected, aborted, expired, purged or evicted) remembered, so
   * that a peer's advert of one is not fetched again; the oldest are forgotten first.
   * Default 100 000 (about 15 MB).
   */
  maxDismissedIds: number;
  /** Chunk fetches in progress or being written, all artifacts. Default 16. */
  maxChunksInFlight: number;
  /** Chunk fetches in progress from one peer. Default 4. */
  maxChunksPerPeer: number;
  /**
   * Chunked artifacts downloaded at once per channel (manifests being fetched and artifacts
   * held in part); chunks are fetched for the highest-priority ones. While another waits, the
   * artifacts only one peer offers hold at most half of them, rounded up (see docs/protocol.md,
   * Chunked artifacts, Bounds). Default 4.
   */
  maxChunkedDownloads: number;
  /**
   * A chunked download with no verified chunk for this long (since it started, or since its
   * last verified chunk), or whose every source is faulty, is stalled: it yields its place to
   * another chunked download of its channel that waits for one, and is not taken up again for
   * a while (a backoff from this value, doubling). Default 10 000 ms.
   */
  chunkStallMs: number;
  /** Have bitmaps of partly held artifacts go out at most this often, ms. Default 50. */
  haveIntervalMs: number;
  /**
   * Chunks only a whole holder has are asked of it by the node whose share they are (see
   * docs/protocol.md, Chunked artifacts); another node asks for them only once that node has
   * sent no `Have` for this long, ms, or for twice as long as the asking node's own chunk
   * fetches of the artifact take, if that is longer (slow links). Default 2000.
   */
  chunkOwnerSilenceMs: number;
}

/** What the core is told (the driver feeds these, with the current time). */
export type CoreEvent =
  | { type: 'peer-up'; peer: NodeId; connId: ConnId }
  | { type: 'peer-down'; peer: NodeId; connId: ConnId }
  | { type: 'updates'; peer: NodeId; connId: ConnId; body: Uint8Array }
  | { type: 'fetched'; token: number; result: FetchResult }
  | { type: 'validated'; token: number; verdict: Validation }
  | { type: 'add'; channel: string; bytes: Uint8Array; attributes: Uint8Array; urgent: boolean }
  | { type: 'abort'; channel: string; id: ArtifactId }
  | { type: 'reprioritize'; channel?: string }
  | { type: 'tick' };

/** The outcome of a fetch as the driver saw it. */
export type FetchResult =
  | { ok: true; body: Uint8Array }
  | { ok: false; reason: 'timeout' | 'error' | 'link_closed' | 'cancelled' };

/** What the core asks the driver to do. */
export type CoreAction =
  /**
   * Send a transport message (an encoded SlotUpdates of `channel`, covering `slots`) to `peer`
   * on `lane`. If it cannot be queued, hand `channel` and `slots` back through `onSendFailed`.
   */
  | {
      type: 'send';
      peer: NodeId;
      lane: Lane;
      body: Uint8Array;
      channel: string;
      slots: readonly SlotNumber[];
    }
  /** Send a fetch request; report the result with a 'fetched' event carrying `token`. */
  | { type: 'fetch'; token: number; peer: NodeId; lane: Lane; body: Uint8Array; timeoutMs: number }
  /** Abandon the fetch `token` (its result, if any, will be ignored). */
  | { type: 'cancel-fetch'; token: number }
  /** Run the validation hook; report with a 'validated' event carrying `token`. */
  | { type: 'validate'; token: number; artifact: DeliveredArtifact }
  /** Hand an accepted artifact to the application. */
  | { type: 'deliver'; artifact: DeliveredArtifact }
  /** Call `tick` at (or after) time `at` (ms). Replaces any earlier wake-up. */
  | { type: 'wake'; at: number }
  /** Prepare the channel's chunk store for artifact `id` with its manifest. */
  | { type: 'chunk-open'; channel: string; id: ArtifactId; manifest: Uint8Array }
  /** Store a verified chunk; report with `onChunkWritten`. */
  | { type: 'chunk-write'; channel: string; id: ArtifactId; index: number; bytes: Uint8Array }
  /** Drop artifact `id` from the channel's chunk store. */
  | { type: 'chunk-delete'; channel: string; id: ArtifactId }
  /** A chunked download progressed. */
  | { type: 'progress'; progress: ChunkProgress }
  /** An artifact the channel held (whole or in part) left it. */
  | { type: 'removed'; channel: string; id: ArtifactId; reason: RemovalReason };

/**
 * Why a held artifact left its channel: its age passed `maxAgeMs` (expired), the application
 * purged it (purged), the channel or its owner's share was full (evicted), the application
 * aborted it (aborted), or its complete bytes failed validation (rejected).
 */
export type RemovalReason = 'expired' | 'purged' | 'evicted' | 'aborted' | 'rejected';

/** An artifact a channel holds, as `Channel.list` and `Channel.purge` see it. */
export interface HeldArtifactInfo {
  id: ArtifactId;
  /** Its size, bytes (a chunked one's total size). */
  size: number;
  attributes: Uint8Array;
  /** The peer it is charged to (that pushed it, or advertised it first), or 'self'. */
  origin: NodeId | 'self';
  /** Since its origin broadcast it, ms. */
  ageMs: number;
  /** Held whole, in part (a chunked download), or only advertised to us (purge only). */
  held: 'whole' | 'partial' | 'advertised';
}

/** A channel's use of its bounds (`Channel.stats`). */
export interface ChannelStats {
  channel: string;
  /** Slots taken by our own and relayed artifacts, of `maxSlots`. */
  slots: { used: number; max: number };
  /** Artifacts held whole or in part, of `maxSlots`, and their bytes, of `maxBytes`. */
  held: { artifacts: number; maxArtifacts: number; bytes: number; maxBytes: number };
  /** The most one peer's artifacts may hold (`peerShare`). */
  perPeer: { maxArtifacts: number; maxBytes: number };
  /** Per owner (a peer, or 'self'), what it holds. */
  owners: { origin: NodeId | 'self'; artifacts: number; bytes: number }[];
  /** Advertised artifacts not held yet. */
  wants: number;
  maxAgeMs: number;
  /** `purgeBelow` watermarks in force, by attribute field. */
  watermarks: Record<string, number>;
}

/** A fetch the core answers from the chunk store: the driver reads chunk `index` of `id`. */
export interface ChunkRead {
  type: 'read-chunk';
  channel: string;
  id: ArtifactId;
  index: number;
}
