/**
 * Runs the broadcast protocol core over a {@link DriverEnvironment}: feeds it link events,
 * messages, fetch results, chunk-store completions and validation verdicts, each with the
 * current time, and carries out the actions it asks for. The node runs it over its transport
 * (node-environment.ts), the simulator over its virtual network (src/sim/environment.ts): the
 * same code in both.
 * @module
 */
import { ChunkingOffError, LinkClosedError, NodeStoppedError, QueueFullError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import { LANE_NAMES, type Lane } from '../transport/lanes.ts';
import type { ConnId } from '../transport/link.ts';
import { ChunkOpQueue } from './chunk-ops.ts';
import { manifestOf, rechunk } from './chunks/manifest.ts';
import type { ChunkStore } from './chunks/store.ts';
import { BroadcastCore, type CoreOptions } from './core/core.ts';
import type { Cancel, DriverEnvironment, DriverObserver, RequestOutcome } from './environment.ts';
import { fetchResult } from './fetch-outcome.ts';
import { Resends } from './resend.ts';
import type {
  Artifact,
  ArtifactId,
  ChannelConfig,
  ChannelStats,
  ChunkProgress,
  CoreAction,
  DeliveredArtifact,
  HeldArtifactInfo,
  RemovalReason,
} from './types.ts';
import { runValidation } from './validation.ts';

/** Options of {@link BroadcastDriver}: those of the core, and: */
export interface BroadcastDriverOptions extends Omit<CoreOptions, 'observer'> {
  /** What the driver runs over (the node's transport, or the simulator's network). */
  environment: DriverEnvironment;
  /** Counts the core's decisions and the driver's failures (the node's metrics). */
  observer: DriverObserver;
  /** The node's logger; the driver logs through a child with `component: 'broadcast'`. */
  logger: Logger;
  /** Accepted artifacts, for the application (the node routes them to its channels). */
  deliver: (artifact: DeliveredArtifact) => void;
  /**
   * The chunk store of each channel with chunking (required for those): the application's
   * streams read and write it directly; the core's operations go through the environment.
   */
  chunkStores?: ReadonlyMap<string, ChunkStore>;
  /**
   * Called with an error the core threw on an event or an action (a bug: logged at error
   * first). The simulator rethrows it, so that a run stops at a core bug.
   */
  onFault?: (err: unknown) => void;
  /** Progress of chunked downloads. */
  onProgress?: (progress: ChunkProgress) => void;
  /** Held artifacts that left their channel (expired, purged, evicted, aborted, rejected). */
  onRemoved?: (channel: string, id: ArtifactId, reason: RemovalReason) => void;
}

/**
 * Runs a {@link BroadcastCore} over a {@link DriverEnvironment}. The core is a state machine
 * without I/O; the driver feeds it events, each with the environment's time, and carries out
 * its actions: sends (a send the queue refused is handed back after a backoff), fetches
 * (cancellable requests), chunk-store operations (kept in order per artifact), validation hooks
 * (synchronous or not), deliveries, and one wake-up timer.
 *
 * Actions are collected once per burst of events: every event only marks the driver as due, and
 * the environment's `defer` then calls `core.takeActions()`. So many synchronous `broadcast()`
 * calls are flushed into few messages.
 *
 * @example
 * const env = new NodeEnvironment({ chunkStores });
 * const driver = new BroadcastDriver({ environment: env, observer, self, channels, pools, downloads, logger, deliver });
 * const transport = createTransport({ identity, registry, subnet, metrics, ...env.handlers(driver, logger) });
 * env.attach(transport, driver);
 * await transport.start();
 */
export class BroadcastDriver {
  readonly core: BroadcastCore;
  readonly #env: DriverEnvironment;
  readonly #observer: DriverObserver;
  readonly #channels: ReadonlyMap<string, ChannelConfig>;
  readonly #log: Logger;
  readonly #deliver: (artifact: DeliveredArtifact) => void;
  readonly #stores: ReadonlyMap<string, ChunkStore>;
  readonly #onProgress: ((progress: ChunkProgress) => void) | undefined;
  readonly #onRemoved: BroadcastDriverOptions['onRemoved'];
  readonly #onFault: BroadcastDriverOptions['onFault'];
  readonly #storeOps: ChunkOpQueue;
  readonly #fetches = new Map<number, Cancel>();
  readonly #resends: Resends;
  #due = false;
  #wake: Cancel | undefined;
  #stopped = false;

  constructor(opts: BroadcastDriverOptions) {
    this.#env = opts.environment;
    this.#observer = opts.observer;
    this.#channels = opts.channels;
    this.#log = opts.logger.child({ component: 'broadcast' });
    this.#deliver = opts.deliver;
    this.#stores = opts.chunkStores ?? new Map();
    this.#onProgress = opts.onProgress;
    this.#onRemoved = opts.onRemoved;
    this.#onFault = opts.onFault;
    this.core = new BroadcastCore({
      self: opts.self,
      channels: opts.channels,
      pools: opts.pools,
      downloads: opts.downloads,
      messages: opts.messages,
      observer: opts.observer,
      linked: opts.linked,
      ...(opts.neighbors ? { neighbors: opts.neighbors } : {}),
    });
    this.#storeOps = new ChunkOpQueue(this.#env);
    this.#resends = new Resends(this.#env, (peer, unsent) =>
      this.#feed('send-failed', (now) => {
        for (const [channel, slots] of unsent) this.core.onSendFailed(peer, channel, slots, now);
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // The environment's events

  /** A link to `peer` came up (connection `connId`). */
  peerUp(peer: NodeId, connId: ConnId): void {
    // A new link starts with the whole table: no resend due on the old one.
    this.#resends.cancel(peer);
    this.#feed('peer-up', (now) => this.core.peerUp(peer, connId, now));
  }

  /** The link `connId` to `peer` went down. */
  peerDown(peer: NodeId, connId: ConnId): void {
    this.#feed('peer-down', (now) => this.core.peerDown(peer, connId, now));
  }

  /** A slot-update message from `peer` over connection `connId`. */
  onMessage(peer: NodeId, connId: ConnId, lane: Lane, body: Uint8Array): void {
    this.#feed('updates', (now) => this.core.onUpdates(peer, connId, lane, body, now));
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
      n += this.core.resume(channel, stored, this.#env.now());
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
      throw new ChunkingOffError(channel);
    }
    const { id, manifest } = await store.import(source, cfg.chunking.chunkBytes);
    this.#checkRunning();
    this.core.addChunked(
      channel,
      id,
      manifest,
      opts.attributes ?? new Uint8Array(0),
      this.#env.now(),
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
    const id = this.core.add(channel, bytes, opts, this.#env.now());
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
      this.core.add(channel, bytes, opts, this.#env.now()); // throws ERR_ARTIFACT_TOO_LARGE
    }
    const chunkBytes = cfg.chunking!.chunkBytes;
    const { id } = manifestOf(bytes, chunkBytes);
    this.addStream(channel, rechunk([bytes], chunkBytes), opts).catch((err: unknown) =>
      this.#log.warn({ err, channel, id }, 'chunked broadcast failed'),
    );
    return id;
  }

  /** {@inheritDoc BroadcastCore.abort} */
  abort(channel: string, id: ArtifactId): boolean {
    this.#checkRunning();
    const had = this.core.abort(channel, id, this.#env.now());
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
    const n = this.core.purge(channel, predicate, this.#env.now());
    this.#schedule();
    return n;
  }

  /** {@inheritDoc BroadcastCore.purgeBelow} */
  purgeBelow(channel: string, field: string, value: number): number {
    this.#checkRunning();
    const n = this.core.purgeBelow(channel, field, value, this.#env.now());
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
    this.core.reprioritize(channel, this.#env.now());
    this.#schedule();
  }

  /**
   * Runs `call` on the core with the current time, then carries out the actions it produced
   * (unless stopped); its errors are the caller's. For the simulator's direct calls.
   */
  apply<T>(call: (core: BroadcastCore, now: number) => T): T {
    const result = call(this.core, this.#env.now());
    this.#schedule();
    return result;
  }

  #checkRunning(): void {
    if (this.#stopped) throw new NodeStoppedError();
  }
  // -------------------------------------------------------------------------------------------
  // Events in, actions out

  /** Feeds one event to the core (a core bug is logged, not thrown into the environment). */
  #feed(what: string, event: (now: number) => void): void {
    if (this.#stopped) return;
    try {
      event(this.#env.now());
    } catch (err) {
      this.#log.error({ err, event: what }, 'broadcast core failed on an event');
      this.#onFault?.(err);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#due || this.#stopped) return;
    this.#due = true;
    this.#env.defer(() => this.#pump());
  }

  #pump(): void {
    this.#due = false;
    if (this.#stopped) return;
    let actions: CoreAction[];
    try {
      actions = this.core.takeActions();
    } catch (err) {
      this.#log.error({ err }, 'broadcast core failed to produce its actions');
      this.#onFault?.(err);
      return;
    }
    for (const action of actions) {
      try {
        this.#execute(action);
      } catch (err) {
        this.#log.error({ err, action: action.type }, 'broadcast action failed');
        this.#onFault?.(err);
      }
    }
  }

  #execute(action: CoreAction): void {
    switch (action.type) {
      case 'send':
        this.#env.send(action.peer, action.lane, action.body, (err) =>
          this.#sendFailed(action, err),
        );
        return;
      case 'fetch':
        this.#fetch(action);
        return;
      case 'cancel-fetch': {
        const cancel = this.#fetches.get(action.token);
        this.#fetches.delete(action.token);
        cancel?.();
        return;
      }
      case 'validate': {
        const { token, artifact } = action;
        const hook = this.#channels.get(artifact.channel)?.validate;
        runValidation(hook, artifact, this.#env, this.#log, (verdict) =>
          this.#feed('validated', (now) => this.core.onValidated(token, verdict, now)),
        );
        return;
      }
      case 'deliver':
        this.#deliver(action.artifact);
        return;
      case 'wake':
        this.#wake?.();
        this.#wake = this.#env.setTimer(action.at, () => {
          this.#wake = undefined;
          this.#feed('tick', (now) => this.core.tick(now));
        });
        return;
      case 'chunk-open':
        this.#storeOps.run(
          action.channel,
          action.id,
          { kind: 'open', manifest: action.manifest },
          (err) => {
            if (err) this.#log.warn({ err, id: action.id }, 'chunk store open failed');
          },
        );
        return;
      case 'chunk-write': {
        const { channel, id, index, bytes } = action;
        this.#storeOps.run(channel, id, { kind: 'put', index, bytes }, (err) => {
          if (err) this.#log.warn({ err, id, index }, 'chunk store write failed');
          this.#feed('chunk-written', (now) =>
            this.core.onChunkWritten(channel, id, index, err === undefined, now),
          );
        });
        return;
      }
      case 'chunk-delete':
        this.#storeOps.run(action.channel, action.id, { kind: 'delete' }, (err) => {
          if (err) this.#log.warn({ err, id: action.id }, 'chunk store delete failed');
        });
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
  #sendFailed(action: Extract<CoreAction, { type: 'send' }>, err: unknown): void {
    const peer = action.peer;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof LinkClosedError) {
      this.#log.debug({ peer, err: message }, 'slot updates not sent: no link');
      return;
    }
    if (!(err instanceof QueueFullError)) {
      this.#log.warn({ peer, err: message }, 'slot updates not sent');
      return;
    }
    if (this.#stopped) return;
    this.#observer.sendQueueFull?.(peer, LANE_NAMES[action.lane]);
    const delay = this.#resends.add(peer, action.channel, action.slots);
    if (delay !== undefined)
      this.#log.debug({ peer, delay }, 'send queue full: slot updates will be sent again');
  }

  #fetch(action: Extract<CoreAction, { type: 'fetch' }>): void {
    const { token, peer } = action;
    const done = (outcome: RequestOutcome) => {
      this.#fetches.delete(token);
      const result = fetchResult(outcome, peer, this.#log, this.#observer);
      this.#feed('fetched', (now) => this.core.onFetched(token, result, now));
    };
    this.#fetches.set(token, () => undefined);
    const cancel = this.#env.request(peer, action.lane, action.body, action.timeoutMs, done);
    // A request may end at once (no link): only a pending one can be cancelled.
    if (this.#fetches.has(token)) this.#fetches.set(token, cancel);
  }

  /**
   * Stops for good: no more events reach the core, in-flight fetches are cancelled, the timers
   * are cleared. Does not stop the environment (the transport).
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake?.();
    this.#wake = undefined;
    this.#resends.clear();
    const fetches = [...this.#fetches.values()];
    this.#fetches.clear();
    for (const cancel of fetches) cancel();
  }
}
