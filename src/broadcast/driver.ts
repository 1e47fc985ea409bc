/**
 * Runs the broadcast protocol core over the real transport: feeds it transport events, messages
 * and requests with the current time, and carries out the actions it asks for.
 * @module
 */
import { Counter, Gauge, Histogram, type Registry as MetricsRegistry } from 'prom-client';
import {
  AbortError,
  LinkClosedError,
  NodeStoppedError,
  QueueFullError,
  RequestTimeoutError,
} from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import { LimitLog } from '../limit-log.ts';
import type { Logger } from '../log.ts';
import {
  type InboundMessage,
  type InboundPeerRequest,
  LANE_NAMES,
  lengthDelimitedPrefix,
  type ResponseBody,
  type Transport,
  type TransportEvent,
} from '../transport/index.ts';
import { encodeManifest, manifestId, rechunk, sha256 } from './chunks/manifest.ts';
import type { ChunkStore } from './chunks/store.ts';
import { BroadcastCore, type CoreOptions, type HeldUse } from './core/core.ts';
import {
  COUNTER_LABELS,
  COUNTER_NAMES,
  type CoreObserver,
  type CounterName,
  TIMING_NAMES,
  type TimingName,
} from './core/observer.ts';
import { FetchResponse } from './proto/broadcast.ts';
import type {
  Artifact,
  ArtifactId,
  ChannelConfig,
  ChannelStats,
  ChunkProgress,
  ChunkRead,
  CoreAction,
  DeliveredArtifact,
  FetchResult,
  HeldArtifactInfo,
  RemovalReason,
  SlotNumber,
  Validation,
} from './types.ts';

/** The default clock: wall-clock milliseconds that never go backwards within a process. */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

const COUNTER_HELP: Record<CounterName, string> = {
  adverts:
    'Slot updates received that name an artifact, by outcome (accepted, duplicate, stale, later, dropped, malformed, oversized, over_limit)',
  downloads: 'Artifact downloads by outcome (started, succeeded, retried, faulty, cancelled)',
  peer_faults:
    'Peers caught misbehaving (bad_hash, oversized, missing_body, bad_manifest; chunk_missing, chunk_timeout: a chunk the peer claims answered missing, or not in time) or whose artifacts the validation hook rejected',
  validations: 'Verdicts of the validation hook',
  delivered: 'Artifacts accepted and handed to the application',
  relayed: 'Accepted artifacts advertised on to peers',
  relay_skipped:
    'Accepted artifacts not relayed because no slot was free (retention keeps a slot for every artifact held: a bug to report)',
  relay_suppressed:
    'Delayed relayed adverts of pushed artifacts not sent: the peer advertised the artifact meanwhile',
  duplicate_downloads: 'Downloads of an artifact that was already held when they finished',
  updates_sent: 'Slot updates queued to peers, by kind (advert, inline, withdrawn)',
  messages_dropped: 'Slot-update messages ignored as a whole, by reason',
  pool_full: 'Accepted artifacts that did not fit in the pool',
  chunks:
    'Chunks of chunked artifacts, by outcome (fetched, retried, faulty, written, write_failed), and chunked downloads that lost their place to a waiting one (evicted: dormant, nobody offers it; stalled: no verified chunk for chunkStallMs, or only faulty sources; preempted: its one advertiser held more than half the places of the channel)',
  removed:
    'Held artifacts that left their channel, by reason (expired, purged, evicted, aborted, rejected)',
  evicted:
    'Artifacts evicted to make room, by the owner charged (the peer over its share or holding the most, or self)',
  wants_removed: 'Advertised artifacts no longer wanted, by reason (expired, purged)',
};

const TIMING_HELP: Record<TimingName, string> = {
  delivery_latency:
    'From the origin broadcast to the delivery here, seconds: receipt time minus the age the last relayer sent (its last hop left out), by channel',
  download_duration:
    'From the first fetch request for an artifact (the manifest of a chunked one) to all of it here and verified, seconds, by channel',
  validation_duration:
    'From handing an artifact to the validation hook to its verdict, seconds, by channel',
};

/** Histogram buckets of each timing, seconds. */
const TIMING_BUCKETS: Record<TimingName, number[]> = {
  delivery_latency: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  download_duration: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  validation_duration: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
};

/** Core counters that mean a limit was reached: the limit's name in the `limit reached` log. */
function limitOf(name: CounterName, labels: Record<string, string>): string | undefined {
  switch (name) {
    case 'pool_full':
      return 'pool';
    case 'relay_skipped':
      return 'slots';
    case 'evicted':
      return 'channel_full';
    case 'adverts':
      return labels.outcome === 'over_limit' ? 'peer_slots' : undefined;
    default:
      return undefined;
  }
}

type HistogramChild = ReturnType<Histogram<'channel'>['labels']>;

/**
 * The broadcast layer's prom-client metrics (`subnet_p2p_broadcast_*`): one counter per core
 * decision (see {@link COUNTER_NAMES}), one histogram per core timing (see
 * {@link TIMING_NAMES}; per channel, each channel's series bound once), gauges sampled from
 * `core.stats()` at scrape time, and the deliveries dropped by full `received()` buffers. With
 * a {@link LimitLog}, the counters that mean a limit was reached (pool full, slots full,
 * eviction from a full channel, a peer's slot past `maxSlots`) are logged there too.
 */
export class BroadcastMetrics implements CoreObserver {
  readonly #counters: Record<CounterName, Counter<string>>;
  readonly #dropped: Counter<'channel'>;
  readonly #fetchFailures: Counter<'peer' | 'reason'>;
  /** Per timing, per channel: the bound histogram series. */
  readonly #timings: Record<TimingName, Map<string, HistogramChild>>;
  readonly #limits: LimitLog | undefined;

  constructor(
    registry: MetricsRegistry,
    stats: () => ReturnType<BroadcastCore['stats']>,
    opts: { channels?: Iterable<string>; limits?: LimitLog } = {},
  ) {
    const registers = [registry];
    this.#limits = opts.limits;
    const channels = [...(opts.channels ?? [])];
    const timings = {} as Record<TimingName, Map<string, HistogramChild>>;
    for (const name of TIMING_NAMES) {
      const histogram = new Histogram({
        name: `subnet_p2p_broadcast_${name}_seconds`,
        help: TIMING_HELP[name],
        labelNames: ['channel'],
        buckets: TIMING_BUCKETS[name],
        registers,
      });
      const byChannel = new Map<string, HistogramChild>();
      for (const channel of channels) {
        histogram.zero({ channel });
        byChannel.set(channel, histogram.labels(channel));
      }
      timings[name] = byChannel;
    }
    this.#timings = timings;
    const counters = {} as Record<CounterName, Counter<string>>;
    for (const name of COUNTER_NAMES) {
      counters[name] = new Counter({
        name: `subnet_p2p_broadcast_${name}_total`,
        help: COUNTER_HELP[name],
        labelNames: [...COUNTER_LABELS[name]],
        registers,
      });
    }
    this.#counters = counters;
    this.#dropped = new Counter({
      name: 'subnet_p2p_broadcast_deliveries_dropped_total',
      help: 'Delivered artifacts dropped from a full received() buffer (the oldest goes), by channel',
      labelNames: ['channel'],
      registers,
    });
    this.#fetchFailures = new Counter({
      name: 'subnet_p2p_broadcast_fetch_failures_total',
      help: 'Fetches a peer did not answer in time (timeout) or answered with an error (error), by peer',
      labelNames: ['peer', 'reason'],
      registers,
    });
    const gauge = (name: string, help: string, pick: (s: ReturnType<typeof stats>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(pick(stats()));
        },
      });
    gauge('subnet_p2p_broadcast_wants', 'Advertised artifacts not held yet', (s) => s.wants);
    gauge('subnet_p2p_broadcast_downloading', 'Downloads in flight', (s) => s.downloading);
    gauge('subnet_p2p_broadcast_validating', 'Artifacts in validation', (s) => s.validating);
    gauge('subnet_p2p_broadcast_peers_up', 'Peers the broadcast layer sees up', (s) => s.peersUp);
    const heldGauge = (name: string, help: string, pick: (h: HeldUse) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['channel'],
        registers,
        collect() {
          for (const [channel, h] of Object.entries(stats().held))
            this.labels(channel).set(pick(h));
        },
      });
    heldGauge(
      'subnet_p2p_broadcast_held_artifacts',
      'Artifacts a channel holds, whole or in part (own and received), by channel',
      (h) => h.artifacts,
    );
    heldGauge(
      'subnet_p2p_broadcast_held_artifacts_limit',
      'The most artifacts a channel holds (maxSlots), by channel',
      (h) => h.maxArtifacts,
    );
    heldGauge(
      'subnet_p2p_broadcast_held_bytes',
      'Bytes of the artifacts a channel holds (pool and chunk store), by channel',
      (h) => h.bytes,
    );
    heldGauge(
      'subnet_p2p_broadcast_held_bytes_limit',
      'The most bytes a channel holds (maxBytes), by channel',
      (h) => h.maxBytes,
    );
    new Gauge({
      name: 'subnet_p2p_broadcast_slots',
      help: 'Slots in use by our own and relayed artifacts, by channel',
      labelNames: ['channel'],
      registers,
      collect() {
        for (const [channel, n] of Object.entries(stats().slots)) this.labels(channel).set(n);
      },
    });
  }

  /** {@inheritDoc CoreObserver.count} */
  count(name: CounterName, labels: Record<string, string>, n = 1): void {
    this.#counters[name].inc(labels, n);
    if (this.#limits === undefined) return;
    const limit = limitOf(name, labels);
    if (limit !== undefined) this.#limits.reached(limit, labels.channel ?? '', labels);
  }

  /** {@inheritDoc CoreObserver.timing} */
  timing(name: TimingName, channel: string, ms: number): void {
    this.#timings[name].get(channel)?.observe(ms / 1000);
  }

  /** A fetch from `peer` timed out or failed (counted against that peer). */
  fetchFailed(peer: NodeId, reason: 'timeout' | 'error'): void {
    this.#fetchFailures.inc({ peer, reason });
  }

  /** One delivery dropped from a full received() buffer of `channel`. */
  deliveryDropped(channel: string): void {
    this.#dropped.inc({ channel });
    this.#limits?.reached('received_buffer', channel, { channel });
  }

  /** A slot-update message to `peer` did not fit in its send queue (ERR_QUEUE_FULL). */
  sendQueueFull(peer: NodeId, lane: string): void {
    this.#limits?.reached('send_queue', lane, { lane, peer });
  }
}
/** Options of {@link BroadcastDriver}: those of the core (its observer is the driver's metrics), and: */
export interface BroadcastDriverOptions extends Omit<CoreOptions, 'observer'> {
  /** The node's logger; the driver logs through a child with `component: 'broadcast'`. */
  logger: Logger;
  /** prom-client registry (the node's, shared with the transport). */
  metrics: MetricsRegistry;
  /** Accepted artifacts, for the application (the node routes them to its channels). */
  deliver: (artifact: DeliveredArtifact) => void;
  /** Clock, ms. Default {@link monotonicNow}. */
  now?: () => number;
  /** The chunk store of each channel with chunking (required for those). */
  chunkStores?: ReadonlyMap<string, ChunkStore>;
  /** Progress of chunked downloads. */
  onProgress?: (progress: ChunkProgress) => void;
  /** Held artifacts that left their channel (expired, purged, evicted, aborted, rejected). */
  onRemoved?: (channel: string, id: ArtifactId, reason: RemovalReason) => void;
}

/** Backoff of `core.resend` after a full send queue: base doubling to max, ms. */
const RESEND_BASE_MS = 250;
const RESEND_MAX_MS = 5000;

/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs a {@link BroadcastCore} over a {@link Transport}. The core is a state machine without
 * I/O; the driver feeds it link events, slot-update messages, fetch requests, fetch results and
 * validation verdicts, each with the current time, and carries out its actions: sends, fetches
 * (transport requests, cancelled through an AbortSignal), validation hooks, deliveries, and one
 * wake-up timer.
 *
 * Actions are collected once per burst of events: every event only marks the driver as due, and
 * one microtask then calls `core.takeActions()`. So many synchronous `broadcast()` calls are
 * flushed into few messages.
 *
 * Wiring: the transport takes its message and request handlers at creation, so create the
 * driver first, pass {@link BroadcastDriver.transportHandlers} to `createTransport`, then
 * {@link BroadcastDriver.attach} the transport before starting it.
 *
 * @example
 * const driver = new BroadcastDriver({ self, channels, pools, downloads, logger, metrics, deliver });
 * const transport = createTransport({ identity, registry, subnet, metrics, ...driver.transportHandlers });
 * driver.attach(transport);
 * await transport.start();
 */
export class BroadcastDriver {
  readonly core: BroadcastCore;
  readonly metrics: BroadcastMetrics;
  readonly #channels: ReadonlyMap<string, ChannelConfig>;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #deliver: (artifact: DeliveredArtifact) => void;
  readonly #stores: ReadonlyMap<string, ChunkStore>;
  readonly #onProgress: ((progress: ChunkProgress) => void) | undefined;
  readonly #onRemoved: BroadcastDriverOptions['onRemoved'];
  /** Per chunked artifact, the tail of its chain of store operations (kept in order). */
  readonly #storeOps = new Map<string, Promise<void>>();
  readonly #fetches = new Map<number, AbortController>();
  /** Per peer, after a full send queue: the retry timer and the slots to send again. */
  readonly #resends = new Map<NodeId, NodeJS.Timeout>();
  readonly #unsent = new Map<NodeId, Map<string, SlotNumber[]>>();
  readonly #resendAttempts = new Map<NodeId, { attempt: number; at: number }>();
  #transport: Transport | undefined;
  #unsubscribe: (() => void) | undefined;
  #due = false;
  #wake: { at: number; timer: NodeJS.Timeout } | undefined;
  #stopped = false;

  constructor(opts: BroadcastDriverOptions) {
    this.#channels = opts.channels;
    this.#log = opts.logger.child({ component: 'broadcast' });
    this.#now = opts.now ?? monotonicNow;
    this.#deliver = opts.deliver;
    this.#stores = opts.chunkStores ?? new Map();
    this.#onProgress = opts.onProgress;
    this.#onRemoved = opts.onRemoved;
    for (const [name, cfg] of opts.channels) {
      if (cfg.chunking && !this.#stores.has(name)) {
        throw new Error(`channel '${name}' has chunking but no chunk store`);
      }
    }
    let core: BroadcastCore | undefined;
    this.metrics = new BroadcastMetrics(opts.metrics, () => core!.stats(), {
      channels: opts.channels.keys(),
      limits: new LimitLog(this.#log),
    });
    core = new BroadcastCore({
      self: opts.self,
      channels: opts.channels,
      pools: opts.pools,
      downloads: opts.downloads,
      messages: opts.messages,
      observer: this.metrics,
      linked: opts.linked,
      ...(opts.neighbors ? { neighbors: opts.neighbors } : {}),
    });
    this.core = core;
  }

  /** The `onMessage` and `onRequest` options to create the transport with. */
  readonly transportHandlers: {
    onMessage: (msg: InboundMessage) => void;
    onRequest: (req: InboundPeerRequest) => ResponseBody | Promise<ResponseBody>;
  } = {
    onMessage: (msg) =>
      this.#feed('updates', (now) =>
        this.core.onUpdates(msg.peer, msg.connId, msg.lane, msg.body, now),
      ),
    onRequest: (req) => {
      const r = this.core.serveRequest(req.lane, req.body);
      return 'type' in r ? this.#readChunk(r) : r;
    },
  };

  async #readChunk(r: ChunkRead): Promise<ResponseBody> {
    const bytes = await this.#stores
      .get(r.channel)
      ?.get(r.id, r.index)
      .catch((err: unknown) => {
        this.#log.warn({ err, id: r.id, index: r.index }, 'chunk store read failed');
        return undefined;
      });
    if (!bytes) return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
    return [lengthDelimitedPrefix(1, bytes.length), bytes];
  }

  /**
   * Finds the artifacts left in the chunk stores (a restart): whole ones are served again,
   * partial ones resume without fetching the chunks already held. Call before the transport
   * starts.
   */
  async resume(): Promise<number> {
    let n = 0;
    for (const [channel, store] of this.#stores) {
      const stored = await store.list();
      n += this.core.resume(channel, stored, this.#now());
    }
    this.#schedule();
    return n;
  }

  /**
   * Broadcasts a chunked artifact read from `source` (any size up to the channel's
   * `maxArtifactBytes`), holding one chunk in memory at a time. Resolves with its id once it is
   * stored and advertised.
   */
  async addStream(
    channel: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts: { attributes?: Uint8Array; ageMs?: number } = {},
  ): Promise<ArtifactId> {
    this.#checkRunning();
    const cfg = this.#channels.get(channel);
    const store = this.#stores.get(channel);
    if (!cfg?.chunking || !store) {
      throw new Error(`channel '${channel}' has no chunking`);
    }
    const { id, manifest } = await store.import(source, cfg.chunking.chunkBytes);
    this.#checkRunning();
    this.core.addChunked(
      channel,
      id,
      manifest,
      opts.attributes ?? new Uint8Array(0),
      this.#now(),
      opts.ageMs ?? 0,
    );
    this.#schedule();
    return id;
  }

  /**
   * The bytes of a chunked artifact held (or the chunks held so far, in order, up to the first
   * missing one), read from the chunk store one chunk at a time.
   */
  async *stream(channel: string, id: ArtifactId): AsyncGenerator<Uint8Array> {
    const info = this.core.chunkedInfo(channel, id);
    const store = this.#stores.get(channel);
    if (!info || !store) return;
    for (let i = 0; i < info.info.chunks; i++) {
      const chunk = await store.get(id, i);
      if (!chunk) return;
      yield chunk;
    }
  }

  /** {@inheritDoc BroadcastCore.chunkedInfo} */
  chunkedInfo(channel: string, id: ArtifactId): ReturnType<BroadcastCore['chunkedInfo']> {
    return this.core.chunkedInfo(channel, id);
  }

  #storeOp(
    channel: string,
    id: ArtifactId,
    op: (store: ChunkStore) => Promise<void>,
  ): Promise<void> {
    const key = `${channel}:${id}`;
    const store = this.#stores.get(channel)!;
    const next = (this.#storeOps.get(key) ?? Promise.resolve()).then(() => op(store));
    const tail = next.catch(() => undefined);
    this.#storeOps.set(key, tail);
    void tail.then(() => {
      if (this.#storeOps.get(key) === tail) this.#storeOps.delete(key);
    });
    return next;
  }

  /**
   * Starts following `transport`'s link events (links already up are reported to the core at
   * once). The transport must have been created with {@link transportHandlers}.
   */
  attach(transport: Transport): void {
    if (this.#transport) throw new Error('broadcast driver already attached to a transport');
    if (this.#stopped) throw new Error('broadcast driver is stopped');
    this.#transport = transport;
    this.#unsubscribe = transport.subscribe((e) => this.#onTransportEvent(e));
    for (const p of transport.peers()) {
      if (p.connId !== undefined) {
        const connId = p.connId;
        this.#feed('peer-up', (now) => this.core.peerUp(p.nodeId, connId, now));
      }
    }
  }

  #onTransportEvent(e: TransportEvent): void {
    if (e.type === 'peer-up') {
      // A new link starts with the whole table: no resend due on the old one.
      this.#cancelResend(e.peer);
      this.#feed('peer-up', (now) => this.core.peerUp(e.peer, e.connId, now));
    } else if (e.type === 'peer-down') {
      this.#feed('peer-down', (now) => this.core.peerDown(e.peer, e.connId, now));
    }
  }

  // -------------------------------------------------------------------------------------------
  // The application's calls (errors propagate: they are the caller's)

  /** {@inheritDoc BroadcastCore.add} */
  add(
    channel: string,
    bytes: Uint8Array,
    opts: { attributes?: Uint8Array; urgent?: boolean; ageMs?: number } = {},
  ): ArtifactId {
    this.#checkRunning();
    const chunking = this.#channels.get(channel)?.chunking;
    if (chunking && bytes.length > chunking.thresholdBytes)
      return this.#addChunked(channel, bytes, opts);
    const id = this.core.add(channel, bytes, opts, this.#now());
    this.#schedule();
    return id;
  }

  /** A large artifact given whole: its id now, stored and advertised once in the chunk store. */
  #addChunked(
    channel: string,
    bytes: Uint8Array,
    opts: { attributes?: Uint8Array; ageMs?: number },
  ): ArtifactId {
    const cfg = this.#channels.get(channel)!;
    if (bytes.length > cfg.maxArtifactBytes) {
      this.core.add(channel, bytes, opts, this.#now()); // throws ERR_ARTIFACT_TOO_LARGE
    }
    const chunkBytes = cfg.chunking!.chunkBytes;
    const hashes: Uint8Array[] = [];
    for (let at = 0; at < bytes.length || hashes.length === 0; at += chunkBytes) {
      hashes.push(sha256(bytes.subarray(at, at + chunkBytes)));
    }
    const id = manifestId(encodeManifest({ chunkBytes, totalBytes: bytes.length, hashes }));
    this.addStream(channel, rechunk([bytes], chunkBytes), opts).catch((err: unknown) =>
      this.#log.warn({ err, channel, id }, 'chunked broadcast failed'),
    );
    return id;
  }

  /** {@inheritDoc BroadcastCore.abort} */
  abort(channel: string, id: ArtifactId): boolean {
    this.#checkRunning();
    const had = this.core.abort(channel, id, this.#now());
    this.#schedule();
    return had;
  }

  /** The artifact, if this node holds it. */
  get(channel: string, id: ArtifactId): Artifact | undefined {
    return this.core.get(channel, id);
  }

  /** {@inheritDoc BroadcastCore.purge} */
  purge(channel: string, predicate: (a: HeldArtifactInfo) => boolean): number {
    this.#checkRunning();
    const n = this.core.purge(channel, predicate, this.#now());
    this.#schedule();
    return n;
  }

  /** {@inheritDoc BroadcastCore.purgeBelow} */
  purgeBelow(channel: string, field: string, value: number): number {
    this.#checkRunning();
    const n = this.core.purgeBelow(channel, field, value, this.#now());
    this.#schedule();
    return n;
  }

  /** {@inheritDoc BroadcastCore.list} */
  list(
    channel: string,
    opts: { after?: number; limit?: number } = {},
  ): { artifacts: HeldArtifactInfo[]; next: number | undefined } {
    return this.core.list(channel, opts);
  }

  /** {@inheritDoc BroadcastCore.channelStats} */
  stats(channel: string): ChannelStats {
    return this.core.channelStats(channel);
  }

  /** Asks the priority function again about every artifact not held (one channel or all). */
  reprioritize(channel?: string): void {
    this.#checkRunning();
    this.core.reprioritize(channel, this.#now());
    this.#schedule();
  }

  #checkRunning(): void {
    if (this.#stopped) throw new NodeStoppedError();
  }

  // -------------------------------------------------------------------------------------------
  // Events in, actions out

  /** Feeds one event to the core (a core bug is logged, not thrown into the transport). */
  #feed(what: string, event: (now: number) => void): void {
    if (this.#stopped) return;
    try {
      event(this.#now());
    } catch (err) {
      this.#log.error({ err, event: what }, 'broadcast core failed on an event');
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#due || this.#stopped) return;
    this.#due = true;
    queueMicrotask(() => this.#pump());
  }

  #pump(): void {
    this.#due = false;
    if (this.#stopped) return;
    let actions: CoreAction[];
    try {
      actions = this.core.takeActions();
    } catch (err) {
      this.#log.error({ err }, 'broadcast core failed to produce its actions');
      return;
    }
    for (const action of actions) {
      try {
        this.#execute(action);
      } catch (err) {
        this.#log.error({ err, action: action.type }, 'broadcast action failed');
      }
    }
  }

  #execute(action: CoreAction): void {
    switch (action.type) {
      case 'send': {
        this.#transport!.send(action.peer, action.lane, action.body).catch((err: Error) =>
          this.#sendFailed(action, err),
        );
        return;
      }
      case 'fetch':
        this.#fetch(action);
        return;
      case 'cancel-fetch': {
        const controller = this.#fetches.get(action.token);
        this.#fetches.delete(action.token);
        controller?.abort();
        return;
      }
      case 'validate':
        this.#validate(action.token, action.artifact);
        return;
      case 'deliver':
        this.#deliver(action.artifact);
        return;
      case 'wake':
        this.#arm(action.at);
        return;
      case 'chunk-open':
        this.#storeOp(action.channel, action.id, (st) => st.open(action.id, action.manifest)).catch(
          (err: unknown) => this.#log.warn({ err, id: action.id }, 'chunk store open failed'),
        );
        return;
      case 'chunk-write': {
        const { channel, id, index, bytes } = action;
        this.#storeOp(channel, id, (st) => st.put(id, index, bytes)).then(
          () =>
            this.#feed('chunk-written', (now) =>
              this.core.onChunkWritten(channel, id, index, true, now),
            ),
          (err: unknown) => {
            this.#log.warn({ err, id, index }, 'chunk store write failed');
            this.#feed('chunk-written', (now) =>
              this.core.onChunkWritten(channel, id, index, false, now),
            );
          },
        );
        return;
      }
      case 'chunk-delete':
        this.#storeOp(action.channel, action.id, (st) => st.delete(action.id)).catch(
          (err: unknown) => this.#log.warn({ err, id: action.id }, 'chunk store delete failed'),
        );
        return;
      case 'progress':
        this.#onProgress?.(action.progress);
        return;
      case 'removed':
        this.#onRemoved?.(action.channel, action.id, action.reason);
        return;
    }
  }

  /**
   * A slot-update message was not sent. Without a link, nothing to do: the core sends the whole
   * table when the link comes back. With a full send queue, its slots are handed back to the
   * core (`onSendFailed`) after a backoff, by which time the queue has drained some (a message
   * into an empty queue is always accepted); the core queues them again as they are then.
   */
  #sendFailed(action: Extract<CoreAction, { type: 'send' }>, err: Error): void {
    const peer = action.peer;
    if (err instanceof LinkClosedError) {
      this.#log.debug({ peer, err: err.message }, 'slot updates not sent: no link');
      return;
    }
    if (!(err instanceof QueueFullError)) {
      this.#log.warn({ peer, err: err.message }, 'slot updates not sent');
      return;
    }
    if (this.#stopped) return;
    this.metrics.sendQueueFull(peer, LANE_NAMES[action.lane]);
    let byChannel = this.#unsent.get(peer);
    if (!byChannel) {
      byChannel = new Map();
      this.#unsent.set(peer, byChannel);
    }
    byChannel.set(action.channel, [...(byChannel.get(action.channel) ?? []), ...action.slots]);
    if (this.#resends.has(peer)) return;
    // The backoff grows while sends keep failing, and starts over after a quiet spell.
    const now = this.#now();
    const last = this.#resendAttempts.get(peer);
    const attempt = last && now - last.at <= 2 * RESEND_MAX_MS ? last.attempt + 1 : 0;
    this.#resendAttempts.set(peer, { attempt, at: now });
    const delay = Math.min(RESEND_MAX_MS, RESEND_BASE_MS * 2 ** Math.min(attempt, 20));
    this.#log.debug({ peer, delay }, 'send queue full: slot updates will be sent again');
    const timer = setTimeout(() => {
      this.#resends.delete(peer);
      const unsent = this.#unsent.get(peer);
      this.#unsent.delete(peer);
      this.#feed('send-failed', (now) => {
        for (const [channel, slots] of unsent ?? [])
          this.core.onSendFailed(peer, channel, slots, now);
      });
    }, delay);
    timer.unref();
    this.#resends.set(peer, timer);
  }

  #cancelResend(peer: NodeId): void {
    clearTimeout(this.#resends.get(peer));
    this.#resends.delete(peer);
    this.#unsent.delete(peer);
    this.#resendAttempts.delete(peer);
  }

  #fetch(action: Extract<CoreAction, { type: 'fetch' }>): void {
    const controller = new AbortController();
    this.#fetches.set(action.token, controller);
    const done = (result: FetchResult) => {
      // A cancelled fetch is no longer the core's business.
      if (this.#fetches.get(action.token) !== controller) return;
      this.#fetches.delete(action.token);
      this.#feed('fetched', (now) => this.core.onFetched(action.token, result, now));
    };
    this.#transport!.request(action.peer, action.lane, action.body, {
      timeoutMs: action.timeoutMs,
      signal: controller.signal,
    }).then(
      (body) => done({ ok: true, body }),
      (err: unknown) => {
        const reason =
          err instanceof RequestTimeoutError
            ? 'timeout'
            : err instanceof LinkClosedError
              ? 'link_closed'
              : err instanceof AbortError
                ? 'cancelled'
                : 'error';
        if (reason === 'error') {
          this.#log.debug({ peer: action.peer, err: (err as Error)?.message }, 'fetch failed');
        }
        if (reason === 'timeout' || reason === 'error') {
          this.metrics.fetchFailed(action.peer, reason);
        }
        done({ ok: false, reason });
      },
    );
  }

  #validate(token: number, artifact: DeliveredArtifact): void {
    const hook = this.#channels.get(artifact.channel)?.validate;
    const verdict = (v: unknown) => {
      let checked: Validation = 'ignore';
      if (v === 'accept' || v === 'reject' || v === 'ignore') checked = v;
      else {
        this.#log.warn(
          { channel: artifact.channel, verdict: String(v) },
          'validation hook returned no verdict; ignoring the artifact',
        );
      }
      this.#feed('validated', (now) => this.core.onValidated(token, checked, now));
    };
    const failed = (err: unknown) => {
      this.#log.warn(
        { err, channel: artifact.channel, id: artifact.id },
        'validation hook threw; ignoring the artifact',
      );
      this.#feed('validated', (now) => this.core.onValidated(token, 'ignore', now));
    };
    if (!hook) {
      verdict('accept');
      return;
    }
    let result: Validation | Promise<Validation>;
    try {
      result = hook(artifact);
    } catch (err) {
      failed(err);
      return;
    }
    if (typeof result === 'string') verdict(result);
    else Promise.resolve(result).then(verdict, failed);
  }

  #arm(at: number): void {
    if (this.#wake) clearTimeout(this.#wake.timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - this.#now())));
    const timer = setTimeout(() => {
      this.#wake = undefined;
      // Timers may fire a fraction of a millisecond early by our clock: wait the rest.
      if (this.#now() < at) this.#arm(at);
      else this.#feed('tick', (now) => this.core.tick(now));
    }, delay);
    timer.unref();
    this.#wake = { at, timer };
  }

  /**
   * Stops for good: no more events reach the core, in-flight fetches are aborted, the timer is
   * cleared, and link events are no longer followed. Does not stop the transport.
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#wake) clearTimeout(this.#wake.timer);
    this.#wake = undefined;
    for (const peer of [...this.#resends.keys()]) this.#cancelResend(peer);
    const fetches = [...this.#fetches.values()];
    this.#fetches.clear();
    for (const c of fetches) c.abort();
  }
}
