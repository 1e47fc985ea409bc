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

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

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

/**
 * Called once with a request's outcome: the response body, or the error (never synchronously
 * from the call that sent the request).
 */
export type RequestDone = (err: Error | undefined, body?: Uint8Array) => void;

/** Cancels a request: the peer is told, and its `done` is not called. */
export type CancelRequest = () => void;

const NOOP = () => {};

interface Pending {
  lane: Lane;
  done: RequestDone;
  timeoutMs: number;
  /** When the request times out, by `now` (pushed back while its lane keeps receiving). */
  deadline: number;
  extensions: number;
}

/**
 * A request being handled. Its `signal` (an AbortController, with its listeners) is made only
 * if the handler reads it: a handler that answers at once, as serving an artifact from memory
 * does, never needs one.
 */
class InboundCall implements InboundRequest {
  readonly lane: Lane;
  readonly body: Uint8Array;
  #controller: AbortController | undefined;
  #reason: Error | undefined;

  constructor(lane: Lane, body: Uint8Array) {
    this.lane = lane;
    this.body = body;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** Outcome labels for metrics. */
export type RpcOutcome = 'ok' | 'timeout' | 'aborted' | 'remote_error' | 'link_closed' | 'busy';

/**
 * Request/response over one link: ids, deadlines and cancellation, both directions. Both
 * tables are bounded: `maxPending` outgoing, `maxInbound` being handled (more get ERR_BUSY).
 * The outgoing deadlines share one timer, armed for the earliest of them.
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
  readonly #inbound = new Map<number, InboundCall>();
  /** The deadline timer, and when (by `now`) it is due; Infinity when none is armed. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  readonly #sweepFn = () => this.#sweep();
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
    const signal = opts.signal;
    try {
      throwIfAborted(signal);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => {
        cancel();
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      const cancel = this.call(lane, body, timeoutMs, (err, response) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(response!);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Sends a request; `done` gets the response body or the error (ERR_QUEUE_FULL at once if
   * `maxPending` requests are pending, ERR_REQUEST_TIMEOUT, ERR_LINK_CLOSED, a RemoteError).
   * The deadline is `timeoutMs`, extended by up to that much at a time (at most
   * {@link MAX_DEADLINE_EXTENSIONS} times) while bytes keep arriving on the lane. Responses on
   * a lane come in order, so a busy lane means the peer is answering, and ours is queued behind
   * others: a slow receiver (ours throttles its own bulk intake when its event loop is
   * overloaded) must not give up on a peer that is serving it. Without promises or an
   * AbortSignal: the broadcast layer sends one request per fetch.
   */
  call(lane: Lane, body: Uint8Array, timeoutMs: number, done: RequestDone): CancelRequest {
    const refused =
      this.#closed ??
      (this.#pending.size >= this.#maxPending
        ? new QueueFullError(`${this.#pending.size} requests already pending on this link`)
        : undefined);
    if (refused) {
      queueMicrotask(() => done(refused));
      return NOOP;
    }
    const id = this.#nextId++;
    const deadline = this.#now() + timeoutMs;
    this.#pending.set(id, { lane, done, timeoutMs, deadline, extensions: 0 });
    this.#armAt(deadline);
    this.#wire
      .sendRequest(lane, { id, timeoutMs, body: body as Uint8Array<ArrayBuffer> })
      .catch((err: Error) => {
        this.#finish(id, 'link_closed', err);
      });
    return () => {
      if (!this.#pending.delete(id)) return;
      this.#disarmIfIdle();
      this.#onOutcome('aborted');
      void this.#wire.sendCancel(lane, id).catch(NOOP);
    };
  }

  /** Arms the deadline timer for `at` unless it is due sooner. */
  #armAt(at: number): void {
    if (at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#sweepFn, Math.max(0, at - this.#now()));
  }

  #disarmIfIdle(): void {
    if (this.#pending.size > 0 || this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** The deadline timer fired: requests past their deadline get more time or time out. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) {
        next = Math.min(next, p.deadline);
        continue;
      }
      const quietMs = this.#laneActivity ? now - this.#laneActivity(p.lane) : Infinity;
      if (quietMs < p.timeoutMs && p.extensions < MAX_DEADLINE_EXTENSIONS) {
        p.extensions += 1;
        p.deadline = now + p.timeoutMs - quietMs;
        next = Math.min(next, p.deadline);
        continue;
      }
      this.#finish(id, 'timeout', new RequestTimeoutError(`no response within ${p.timeoutMs} ms`));
      void this.#wire.sendCancel(p.lane, id).catch(NOOP);
    }
    if (next < Number.POSITIVE_INFINITY) this.#armAt(next);
  }

  #finish(id: number, outcome: RpcOutcome, err: Error | undefined, body?: Uint8Array): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    this.#disarmIfIdle();
    this.#onOutcome(outcome);
    p.done(err, body);
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
    const call = new InboundCall(lane, req.body);
    this.#inbound.set(req.id, call);
    const fail = (err: unknown) => {
      if (call.aborted) return;
      const code = err instanceof SubnetP2pError ? err.code : 'ERR_HANDLER';
      const message = err instanceof Error ? err.message : String(err);
      reply({ body: new Uint8Array(0), errorCode: code, errorMessage: message.slice(0, 512) });
    };
    const settled = () => {
      if (this.#inbound.get(req.id) === call) this.#inbound.delete(req.id);
    };
    let result: ReturnType<RequestHandler>;
    try {
      result = this.#handler(call);
    } catch (err) {
      settled();
      fail(err);
      return;
    }
    if (!isPromiseLike(result)) {
      // Answered at once (an artifact served from memory): no deadline to keep.
      settled();
      reply({ body: result, errorCode: '', errorMessage: '' });
      return;
    }
    const timeoutMs = Math.min(req.timeoutMs || DEFAULT_REQUEST_TIMEOUT_MS, MAX_INBOUND_TIMEOUT_MS);
    const timer = setTimeout(
      () => call.abort(new RequestTimeoutError('deadline passed')),
      timeoutMs,
    );
    Promise.resolve(result)
      .then((body) => {
        if (!call.aborted) reply({ body, errorCode: '', errorMessage: '' });
      }, fail)
      .finally(() => {
        clearTimeout(timer);
        settled();
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
    this.#disarmIfIdle();
    for (const c of this.#inbound.values()) c.abort(err);
    this.#inbound.clear();
  }
}
