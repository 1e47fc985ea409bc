import {
  AbortError,
  LinkClosedError,
  QueueFullError,
  RemoteError,
  RequestTimeoutError,
  SubnetP2pError,
  throwIfAborted,
} from '../errors.ts';
import type { Lane } from './lanes.ts';
import type { Request, Response } from './messages.ts';

/** Options of an outgoing request. */
export interface RequestOptions {
  signal?: AbortSignal;
  /** Deadline, ms; sent to the responder so it can give up too. Default 30 000. */
  timeoutMs?: number;
}

/** What a request handler gets. */
export interface InboundRequest {
  lane: Lane;
  body: Uint8Array;
  /** Aborted when the requester cancels, its deadline passes, or the link closes. */
  signal: AbortSignal;
}

/**
 * A response body: one buffer, or parts that go on the wire back to back without being
 * copied together (e.g. a small header and a large artifact the responder holds).
 */
export type ResponseBody = Uint8Array | readonly Uint8Array[];

export type RequestHandler = (req: InboundRequest) => Promise<ResponseBody> | ResponseBody;

/** A Response whose body may be in parts. */
export type OutgoingResponse = Omit<Response, 'body'> & { body: ResponseBody };

/** How the endpoint sends its messages (the link's scheduler). */
export interface RpcWire {
  sendRequest(lane: Lane, req: Request): Promise<void>;
  sendResponse(lane: Lane, res: OutgoingResponse): Promise<void>;
  sendCancel(lane: Lane, id: number): Promise<void>;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How many times a request's deadline may be pushed back while its lane keeps receiving. */
export const MAX_DEADLINE_EXTENSIONS = 8;
/** Largest deadline a peer may ask for; longer ones are clamped. */
const MAX_INBOUND_TIMEOUT_MS = 10 * 60_000;

interface Pending {
  lane: Lane;
  resolve: (body: Uint8Array) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
}

/** Outcome labels for metrics. */
export type RpcOutcome = 'ok' | 'timeout' | 'aborted' | 'remote_error' | 'link_closed' | 'busy';

/**
 * Request/response over one link: ids, deadlines and cancellation, both directions. Both
 * tables are bounded: `maxPending` outgoing, `maxInbound` being handled (more get ERR_BUSY).
 */
export class RpcEndpoint {
  readonly #wire: RpcWire;
  readonly #handler: RequestHandler | undefined;
  readonly #maxPending: number;
  readonly #maxInbound: number;
  readonly #onOutcome: (outcome: RpcOutcome) => void;
  #nextId = 1;
  readonly #laneActivity: ((lane: Lane) => number) | undefined;
  readonly #now: () => number;
  readonly #pending = new Map<number, Pending>();
  readonly #inbound = new Map<number, AbortController>();
  #closed: Error | undefined;

  constructor(opts: {
    wire: RpcWire;
    handler: RequestHandler | undefined;
    maxPending: number;
    maxInbound: number;
    onOutcome?: (outcome: RpcOutcome) => void;
    /**
     * When bytes last arrived on a lane (ms, `now`'s clock). A request whose deadline passes
     * while its lane is still receiving gets more time (see {@link MAX_DEADLINE_EXTENSIONS}).
     */
    laneActivity?: (lane: Lane) => number;
    now?: () => number;
  }) {
    this.#laneActivity = opts.laneActivity;
    this.#now = opts.now ?? (() => performance.now());
    this.#wire = opts.wire;
    this.#handler = opts.handler;
    this.#maxPending = opts.maxPending;
    this.#maxInbound = opts.maxInbound;
    this.#onOutcome = opts.onOutcome ?? (() => {});
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  get inboundCount(): number {
    return this.#inbound.size;
  }

  /** Sends a request and resolves with the response body. */
  request(lane: Lane, body: Uint8Array, opts: RequestOptions = {}): Promise<Uint8Array> {
    try {
      throwIfAborted(opts.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(
        new QueueFullError(`${this.#pending.size} requests already pending on this link`),
      );
    }
    const id = this.#nextId++;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<Uint8Array>((resolve, reject) => {
      // The deadline: `timeoutMs`, extended by up to that much at a time (at most
      // MAX_DEADLINE_EXTENSIONS times) while bytes keep arriving on the lane. Responses on a
      // lane come in order, so a busy lane means the peer is answering, and ours is queued
      // behind others: a slow receiver (ours throttles its own bulk intake when its event loop
      // is overloaded) must not give up on a peer that is serving it.
      let extensions = 0;
      const expire = () => {
        const quietMs = this.#laneActivity ? this.#now() - this.#laneActivity(lane) : Infinity;
        if (quietMs < timeoutMs && extensions < MAX_DEADLINE_EXTENSIONS) {
          extensions += 1;
          timer = setTimeout(expire, timeoutMs - quietMs);
          return;
        }
        this.#finish(id, 'timeout', new RequestTimeoutError(`no response within ${timeoutMs} ms`));
        void this.#wire.sendCancel(lane, id).catch(() => {});
      };
      let timer = setTimeout(expire, timeoutMs);
      const onAbort = () => {
        this.#finish(id, 'aborted', new AbortError(undefined, { cause: opts.signal?.reason }));
        void this.#wire.sendCancel(lane, id).catch(() => {});
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      this.#pending.set(id, { lane, resolve, reject, cleanup });
      this.#wire
        .sendRequest(lane, { id, timeoutMs, body: body as Uint8Array<ArrayBuffer> })
        .catch((err: Error) => {
          this.#finish(id, 'link_closed', err);
        });
    });
  }

  #finish(id: number, outcome: RpcOutcome, err: Error | undefined, body?: Uint8Array): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    p.cleanup();
    this.#onOutcome(outcome);
    if (err) p.reject(err);
    else p.resolve(body!);
  }

  /** A response arrived. Unknown ids (late, after cancel) are ignored; returns whether known. */
  onResponse(res: Response): boolean {
    if (!this.#pending.has(res.id)) return false;
    if (res.errorCode) {
      const outcome = res.errorCode === 'ERR_BUSY' ? 'busy' : 'remote_error';
      this.#finish(res.id, outcome, new RemoteError(res.errorCode, res.errorMessage));
    } else {
      this.#finish(res.id, 'ok', undefined, res.body);
    }
    return true;
  }

  /** A request arrived: run the handler (bounded) and answer on the same lane. */
  onRequest(lane: Lane, req: Request): void {
    if (this.#closed) return;
    const reply = (res: Omit<OutgoingResponse, 'id'>) =>
      void this.#wire.sendResponse(lane, { id: req.id, ...res }).catch(() => {});
    if (this.#inbound.has(req.id)) {
      reply({ body: new Uint8Array(0), errorCode: 'ERR_DUPLICATE_ID', errorMessage: 'id in use' });
      return;
    }
    if (!this.#handler) {
      reply({ body: new Uint8Array(0), errorCode: 'ERR_NO_HANDLER', errorMessage: 'no handler' });
      return;
    }
    if (this.#inbound.size >= this.#maxInbound) {
      reply({
        body: new Uint8Array(0),
        errorCode: 'ERR_BUSY',
        errorMessage: `${this.#inbound.size} requests in progress`,
      });
      return;
    }
    const controller = new AbortController();
    const timeoutMs = Math.min(req.timeoutMs || DEFAULT_REQUEST_TIMEOUT_MS, MAX_INBOUND_TIMEOUT_MS);
    const timer = setTimeout(
      () => controller.abort(new RequestTimeoutError('deadline passed')),
      timeoutMs,
    );
    this.#inbound.set(req.id, controller);
    const handler = this.#handler;
    Promise.resolve()
      .then(() => handler({ lane, body: req.body, signal: controller.signal }))
      .then(
        (body) => {
          if (!controller.signal.aborted) reply({ body, errorCode: '', errorMessage: '' });
        },
        (err: unknown) => {
          if (controller.signal.aborted) return;
          const code = err instanceof SubnetP2pError ? err.code : 'ERR_HANDLER';
          const message = err instanceof Error ? err.message : String(err);
          reply({ body: new Uint8Array(0), errorCode: code, errorMessage: message.slice(0, 512) });
        },
      )
      .finally(() => {
        clearTimeout(timer);
        if (this.#inbound.get(req.id) === controller) this.#inbound.delete(req.id);
      });
  }

  /** The requester cancelled: abort its handler. */
  onCancel(id: number): void {
    this.#inbound.get(id)?.abort(new AbortError('cancelled by the requester'));
    this.#inbound.delete(id);
  }

  /** Fails every pending request and aborts every handler. */
  close(err: Error = new LinkClosedError('link closed')): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const id of [...this.#pending.keys()]) this.#finish(id, 'link_closed', err);
    for (const c of this.#inbound.values()) c.abort(err);
    this.#inbound.clear();
  }
}
