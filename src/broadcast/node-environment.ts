/**
 * The node's {@link DriverEnvironment}: the real transport, the channels' chunk stores, Node's
 * timers and microtasks; and the transport handlers that feed the driver.
 * @module
 */
import { InvalidStateError, NodeStoppedError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import {
  type InboundMessage,
  type InboundPeerRequest,
  type Lane,
  lengthDelimitedPrefix,
  type ResponseBody,
  type Transport,
} from '../transport/index.ts';
import type { ChunkStore } from './chunks/store.ts';
import type { BroadcastDriver } from './driver.ts';
import type { Cancel, ChunkOp, DriverEnvironment, RequestOutcome } from './environment.ts';
import { FetchResponse } from './proto/broadcast.ts';
import type { ArtifactId, ChunkRead } from './types.ts';

/** The default clock: wall-clock milliseconds that never go backwards within a process. */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The driver's environment in a node: sends and requests go through the {@link Transport}
 * given to {@link attach} (created after the driver, since it takes the driver's handlers),
 * chunk operations to each channel's {@link ChunkStore}, timers are unref'd setTimeouts.
 *
 * @example
 * const env = new NodeEnvironment({ chunkStores });
 * const driver = new BroadcastDriver({ environment: env, ... });
 * const transport = createTransport({ ..., ...env.handlers(driver) });
 * env.attach(transport, driver);
 */
export class NodeEnvironment implements DriverEnvironment {
  readonly #now: () => number;
  readonly #stores: ReadonlyMap<string, ChunkStore>;
  #transport: Transport | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(opts: { now?: () => number; chunkStores?: ReadonlyMap<string, ChunkStore> }) {
    this.#now = opts.now ?? monotonicNow;
    this.#stores = opts.chunkStores ?? new Map();
  }

  /** {@inheritDoc DriverEnvironment.now} */
  now(): number {
    return this.#now();
  }

  /** {@inheritDoc DriverEnvironment.defer} */
  defer(fn: () => void): void {
    queueMicrotask(fn);
  }

  /** {@inheritDoc DriverEnvironment.setTimer} */
  setTimer(at: number, fn: () => void): Cancel {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - this.#now())));
      timer = setTimeout(() => {
        // Timers may fire a fraction of a millisecond early by our clock: wait the rest.
        if (this.#now() < at) arm();
        else fn();
      }, delay);
      timer.unref();
    };
    arm();
    return () => clearTimeout(timer);
  }

  /** {@inheritDoc DriverEnvironment.send} */
  send(peer: NodeId, lane: Lane, body: Uint8Array, failed: (err: unknown) => void): void {
    this.#link().send(peer, lane, body).catch(failed);
  }

  /** {@inheritDoc DriverEnvironment.request} */
  request(
    peer: NodeId,
    lane: Lane,
    body: Uint8Array,
    timeoutMs: number,
    done: (outcome: RequestOutcome) => void,
  ): Cancel {
    return this.#link().call(peer, lane, body, timeoutMs, (error, response) =>
      done(error ? { ok: false, error } : { ok: true, body: response! }),
    );
  }

  /** {@inheritDoc DriverEnvironment.chunkOp} */
  chunkOp(channel: string, id: ArtifactId, op: ChunkOp, done: (err?: unknown) => void): void {
    const store = this.#stores.get(channel)!;
    const run =
      op.kind === 'open'
        ? store.open(id, op.manifest)
        : op.kind === 'put'
          ? store.put(id, op.index, op.bytes)
          : store.delete(id);
    run.then(() => done(), done);
  }

  /** {@inheritDoc DriverEnvironment.settle} */
  settle<T>(promise: PromiseLike<T>, ok: (value: T) => void, failed: (err: unknown) => void) {
    Promise.resolve(promise).then(ok, failed);
  }

  /** The `onMessage` and `onRequest` options to create the transport with. */
  handlers(
    driver: BroadcastDriver,
    logger: Logger,
  ): {
    onMessage: (msg: InboundMessage) => void;
    onRequest: (req: InboundPeerRequest) => ResponseBody | Promise<ResponseBody>;
  } {
    const readChunk = async (r: ChunkRead): Promise<ResponseBody> => {
      const bytes = await this.#stores
        .get(r.channel)
        ?.get(r.id, r.index)
        .catch((err: unknown) => {
          logger.warn({ err, id: r.id, index: r.index }, 'chunk store read failed');
          return undefined;
        });
      if (!bytes) return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
      return [lengthDelimitedPrefix(1, bytes.length), bytes];
    };
    return {
      onMessage: (msg) => driver.onMessage(msg.peer, msg.connId, msg.lane, msg.body),
      onRequest: (req) => {
        const r = driver.core.serveRequest(req.lane, req.body);
        return 'type' in r ? readChunk(r) : r;
      },
    };
  }

  /**
   * Starts sending through `transport` and following its link events into `driver` (links
   * already up are reported at once). The transport must have been created with
   * {@link handlers}.
   */
  attach(transport: Transport, driver: BroadcastDriver): void {
    if (this.#transport)
      throw new InvalidStateError('broadcast driver already attached to a transport');
    this.#transport = transport;
    this.#unsubscribe = transport.subscribe((e) => {
      if (e.type === 'peer-up') driver.peerUp(e.peer, e.connId);
      else if (e.type === 'peer-down') driver.peerDown(e.peer, e.connId);
    });
    for (const p of transport.peers()) {
      if (p.connId !== undefined) driver.peerUp(p.nodeId, p.connId);
    }
  }

  /** Stops following the transport's link events. */
  detach(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  #link(): Transport {
    if (!this.#transport) throw new NodeStoppedError();
    return this.#transport;
  }
}
