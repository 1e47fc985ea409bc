import type { TLSSocket } from 'node:tls';
import { LinkClosedError, ProtocolError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import {
  encodeFrameHeaderInto,
  FLAG_END,
  FLAG_START,
  FRAME_HEADER_BYTES,
  FrameDecoder,
} from './frame.ts';
import { Lane } from './lanes.ts';
import { creditThreshold, type TransportLimits } from './limits.ts';
import type { CreditHolder, LoadGovernor } from './load-governor.ts';
import {
  decodeWire,
  encodeWire,
  MAX_APP_DIGEST_BYTES,
  PROTOCOL_VERSION,
  type WireMessage,
} from './messages.ts';
import {
  type CancelRequest,
  type RequestDone,
  type RequestHandler,
  type RequestOptions,
  RpcEndpoint,
  type RpcOutcome,
} from './rpc.ts';
import { afterThisTurn, SendScheduler } from './send-scheduler.ts';
import { encodeResponseParts, encodeWireParts } from './wire-parts.ts';

/** Grows with every link this node makes, to any peer (local to this node). */
export type ConnId = number & { readonly __brand: 'ConnId' };

export type LinkDirection = 'inbound' | 'outbound';
export type LinkState = 'handshaking' | 'up' | 'closed';

/** Timers of a link, ms. */
export interface LinkTiming {
  /** The peer's Hello must arrive within this. Default 5000. */
  helloTimeoutMs: number;
  /** A Ping is sent this often. Default 1000. */
  keepaliveIntervalMs: number;
  /** Nothing received for this long (while reading) = dead peer; the link closes. Default 5000. */
  idleTimeoutMs: number;
  /** After a Goodbye, the socket is destroyed if the peer has not closed within this. Default 1000. */
  closeTimeoutMs: number;
}

export const DEFAULT_TIMING: Readonly<LinkTiming> = Object.freeze({
  helloTimeoutMs: 5000,
  keepaliveIntervalMs: 1000,
  idleTimeoutMs: 5000,
  closeTimeoutMs: 1000,
});

/** What the link tells its owner. */
export interface LinkCallbacks {
  onUp(link: Link): void;
  onClosed(link: Link, reason: string, error: Error | undefined): void;
  /** Application message; returning a promise holds its bytes in the receive budget. */
  onMessage(link: Link, lane: Lane, body: Uint8Array): void | Promise<void>;
  onProtocolError(link: Link, err: ProtocolError): void;
  onFrameSent(lane: Lane, bytes: number): void;
  onFrameReceived(lane: Lane, bytes: number): void;
  onPaused(link: Link): void;
  onRpcOutcome(outcome: RpcOutcome): void;
}

export interface LinkOptions {
  socket: TLSSocket;
  peer: NodeId;
  self: NodeId;
  subnet: string;
  registryVersion: number;
  connId: ConnId;
  direction: LinkDirection;
  /** The registry certificate the peer presented (to notice a registry change). */
  certificateDer: Buffer;
  /** The bulk window this side announces (see bulkWindowFor). */
  bulkWindowBytes: number;
  /** The opaque digest this side's Hello carries (`app_digest`; empty: none). */
  appDigest: Uint8Array;
  limits: TransportLimits;
  timing: LinkTiming;
  logger: Logger;
  requestHandler: RequestHandler | undefined;
  /** Holds bulk credits back while the event loop lags (none: credits always go at once). */
  governor: LoadGovernor | undefined;
  callbacks: LinkCallbacks;
}

/**
 * One mutual-TLS connection to a verified peer. Sends Hello at once; counts as up when the
 * peer's Hello arrives. Frames in both directions go through the lane scheduler and the
 * incremental decoder; the receive side holds at most `maxReceiveBufferBytes` (it pauses the
 * socket at the bound).
 */
export class Link implements CreditHolder {
  readonly peer: NodeId;
  readonly connId: ConnId;
  readonly direction: LinkDirection;
  readonly certificateDer: Buffer;
  /** When the hello exchange completed (ms since epoch), if it did. */
  upAt: number | undefined;
  /** The `app_digest` of the peer's Hello, once it arrived; undefined if it carried none. */
  peerAppDigest: Uint8Array | undefined;
  readonly #opts: LinkOptions;
  readonly #socket: TLSSocket;
  readonly #scheduler: SendScheduler;
  readonly #decoder: FrameDecoder;
  readonly #rpc: RpcEndpoint;
  readonly #log: Logger;
  #state: LinkState = 'handshaking';
  #held = 0;
  /** Bulk bytes read and not yet credited back to the peer. */
  #uncredited = 0;
  /** When a frame last arrived on each lane (performance.now()). */
  readonly #laneActivity = [0, 0, 0];
  #paused = false;
  #lastReceived = Date.now();
  /** When the keepalive timer last ran (to tell a stall of this node's event loop). */
  #lastKeepalive = Date.now();
  #pingNonce = 0;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(opts: LinkOptions) {
    this.#opts = opts;
    this.peer = opts.peer;
    this.connId = opts.connId;
    this.direction = opts.direction;
    this.certificateDer = opts.certificateDer;
    this.#socket = opts.socket;
    this.#log = opts.logger.child({ peer: opts.peer, connId: opts.connId });
    const l = opts.limits;
    const socket = this.#socket;
    const sink = {
      get writableLength() {
        return socket.writableLength;
      },
      write(chunks: readonly Uint8Array[]): boolean {
        if (chunks.length === 1) return socket.write(chunks[0]!);
        socket.cork();
        let ok = true;
        for (const c of chunks) ok = socket.write(c);
        socket.uncork();
        return ok;
      },
    };
    this.#scheduler = new SendScheduler(sink, {
      maxFrameBytes: l.maxFrameBytes,
      // Envelope overhead on top of the application message: a few bytes of protobuf.
      maxMessageBytes: [l.maxControlMessageBytes, l.maxMessageBytes, l.maxMessageBytes],
      maxQueuedBytes: [l.maxQueuedBytes.control, l.maxQueuedBytes.high, l.maxQueuedBytes.bulk],
      maxSinkBufferedBytes: Math.max(l.maxSocketBufferedBytes, this.#socket.writableHighWaterMark),
      minShare: [0, 0, l.bulkMinShare],
      onFrame: (lane, bytes) => opts.callbacks.onFrameSent(lane, bytes),
      defer: afterThisTurn,
      delayControl: {
        now: () => performance.now(),
        targetDelayMs: l.bulkTargetDelayMs,
        minWindowBytes: l.minBulkWindowBytes,
      },
    });
    this.#decoder = new FrameDecoder(
      l,
      (lane, message) => this.#onWire(lane, message),
      (lane, bytes) => {
        this.#laneActivity[lane] = performance.now();
        opts.callbacks.onFrameReceived(lane, bytes);
        if (lane === Lane.bulk) this.#consumedBulk(bytes);
      },
    );
    this.#rpc = new RpcEndpoint({
      laneActivity: (lane) => this.#laneActivity[lane]!,
      handler: opts.requestHandler,
      maxPending: l.maxPendingRequests,
      maxInbound: l.maxInboundRequests,
      onOutcome: (o) => opts.callbacks.onRpcOutcome(o),
      wire: {
        sendRequest: (lane, request) => this.#sendWire(lane, { kind: 'request', request }),
        sendResponse: (lane, response) => {
          const { body } = response;
          if (!Array.isArray(body)) {
            return this.#sendWire(lane, {
              kind: 'response',
              response: { ...response, body: body as Uint8Array<ArrayBuffer> },
            });
          }
          return this.#scheduler.enqueue(lane, encodeResponseParts(response.id, body));
        },
        sendCancel: (lane, id) => this.#sendWire(lane, { kind: 'cancel', id }),
      },
    });

    const s = this.#socket;
    s.setNoDelay(true);
    s.setKeepAlive(true, opts.timing.keepaliveIntervalMs);
    s.on('data', (chunk: Buffer) => this.#onData(chunk));
    s.on('drain', () => this.#scheduler.pump());
    s.on('end', () => this.#onEnd());
    s.on('error', (err) => this.close('socket_error', { goodbye: false, error: err }));
    s.on('close', () => this.close('socket_closed', { goodbye: false }));

    this.#timers.push(
      setTimeout(() => {
        if (this.#state === 'handshaking') this.close('hello_timeout', { goodbye: false });
      }, opts.timing.helloTimeoutMs),
      setInterval(() => this.#keepalive(), opts.timing.keepaliveIntervalMs),
    );
    for (const t of this.#timers) t.unref();

    void this.#sendWire(Lane.control, {
      kind: 'hello',
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        nodeId: opts.self,
        subnet: opts.subnet,
        registryVersion: opts.registryVersion,
        bulkWindow: opts.bulkWindowBytes,
        appDigest: opts.appDigest as Uint8Array<ArrayBuffer>,
      },
    }).catch(() => {});
  }

  get state(): LinkState {
    return this.#state;
  }

  /** Bytes queued to send on `lane`. */
  queuedBytes(lane: Lane): number {
    return this.#scheduler.queuedBytes(lane);
  }

  /** Bytes held by the receive side (partial messages and messages being handled). */
  get receiveBufferedBytes(): number {
    return this.#held + this.#decoder.partialBytes;
  }

  /** Whether reading is paused because the receive budget is used up. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Queues an application message; resolves when handed to the socket. */
  send(lane: Lane, body: Uint8Array): Promise<void> {
    if (this.#state !== 'up') {
      return Promise.reject(new LinkClosedError(`link ${this.connId} to ${this.peer} is not up`));
    }
    return this.#sendWire(lane, { kind: 'message', body });
  }

  /** Sends a request on `lane`; resolves with the peer's response body. */
  request(lane: Lane, body: Uint8Array, opts?: RequestOptions): Promise<Uint8Array> {
    if (this.#state !== 'up') {
      return Promise.reject(new LinkClosedError(`link ${this.connId} to ${this.peer} is not up`));
    }
    return this.#rpc.request(lane, body, opts);
  }

  /** Sends a request on `lane` without a promise: see {@link RpcEndpoint.call}. */
  call(lane: Lane, body: Uint8Array, timeoutMs: number, done: RequestDone): CancelRequest {
    if (this.#state !== 'up') {
      const err = new LinkClosedError(`link ${this.connId} to ${this.peer} is not up`);
      queueMicrotask(() => done(err));
      return () => {};
    }
    return this.#rpc.call(lane, body, timeoutMs, done);
  }

  #sendWire(lane: Lane, msg: WireMessage): Promise<void> {
    return this.#scheduler.enqueue(lane, encodeWireParts(msg));
  }

  #onData(chunk: Buffer): void {
    // After a close with Goodbye the socket stays readable until the peer ends it: whatever
    // still arrives is discarded, not decoded (a failed decoder would count its error again).
    if (this.#state === 'closed') return;
    this.#lastReceived = Date.now();
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    this.#checkBudget();
  }

  /**
   * Credits bulk bytes back every `creditThreshold` bytes (see limits.ts), unless the governor
   * holds the credit back for a while because the event loop is overloaded.
   */
  #consumedBulk(bytes: number): void {
    this.#uncredited += bytes;
    if (this.#uncredited < creditThreshold(this.#opts.bulkWindowBytes)) return;
    if (this.#opts.governor?.hold(this)) return;
    this.releaseCredit();
  }

  /** Bulk bytes read and not yet credited back. */
  owedCredit(): number {
    return this.#uncredited;
  }

  /** Sends the bulk credit owed to the peer now (see {@link LoadGovernor}). */
  releaseCredit(): void {
    if (this.#uncredited === 0 || this.#state === 'closed') return;
    const credit = this.#uncredited;
    this.#uncredited = 0;
    this.#scheduler.push(Lane.control, encodeWire({ kind: 'credit', bytes: credit }));
  }

  #protocolError(err: unknown): void {
    if (!(err instanceof ProtocolError)) throw err;
    this.#log.warn({ reason: err.reason, err: err.message }, 'protocol error; closing link');
    this.#opts.callbacks.onProtocolError(this, err);
    this.close(`protocol_error:${err.reason}`, { goodbye: true, error: err });
  }

  #checkBudget(): void {
    const max = this.#opts.limits.maxReceiveBufferBytes;
    const buffered = this.#held + this.#decoder.partialBytes;
    if (!this.#paused && this.#held > 0 && buffered >= max) {
      this.#paused = true;
      this.#socket.pause();
      this.#opts.callbacks.onPaused(this);
    } else if (this.#paused && buffered < max) {
      this.#paused = false;
      this.#lastReceived = Date.now();
      if (this.#state !== 'closed') this.#socket.resume();
    }
  }

  #onWire(lane: Lane, bytes: Buffer): void {
    if (this.#state === 'closed') return;
    const msg = decodeWire(bytes);
    if (this.#state === 'handshaking') {
      if (msg.kind !== 'hello') {
        throw new ProtocolError('no_hello', `first message was '${msg.kind}', expected hello`);
      }
      this.#onHello(msg.hello);
      return;
    }
    switch (msg.kind) {
      case 'hello':
        throw new ProtocolError('bad_hello', 'second hello on an established link');
      case 'ping':
        this.#scheduler.push(Lane.control, encodeWire({ kind: 'pong', nonce: msg.nonce }));
        return;
      case 'pong':
        return;
      case 'credit':
        this.#scheduler.credit(Lane.bulk, msg.bytes);
        return;
      case 'goodbye':
        this.#log.debug({ reason: msg.reason }, 'peer said goodbye');
        this.close('goodbye_received', { goodbye: false });
        return;
      case 'request':
        this.#rpc.onRequest(lane, msg.request);
        return;
      case 'response':
        this.#rpc.onResponse(msg.response);
        return;
      case 'cancel':
        this.#rpc.onCancel(msg.id);
        return;
      case 'message':
        this.#deliver(lane, msg.body);
        return;
    }
  }

  #onHello(hello: Extract<WireMessage, { kind: 'hello' }>['hello']): void {
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        'bad_hello',
        `peer speaks protocol version ${hello.protocolVersion}, we speak ${PROTOCOL_VERSION}`,
      );
    }
    if (hello.nodeId !== this.peer) {
      throw new ProtocolError(
        'bad_hello',
        `hello names node ${hello.nodeId}, TLS proved ${this.peer}`,
      );
    }
    if (hello.subnet !== this.#opts.subnet) {
      throw new ProtocolError(
        'bad_hello',
        `hello names subnet '${hello.subnet}', ours is '${this.#opts.subnet}'`,
      );
    }
    if (hello.appDigest.length > MAX_APP_DIGEST_BYTES) {
      throw new ProtocolError(
        'bad_hello',
        `hello carries a digest of ${hello.appDigest.length} bytes, more than ${MAX_APP_DIGEST_BYTES}`,
      );
    }
    this.peerAppDigest = hello.appDigest.length > 0 ? hello.appDigest : undefined;
    this.#scheduler.setWindow(Lane.bulk, hello.bulkWindow);
    this.#state = 'up';
    this.upAt = Date.now();
    this.#log.debug({ direction: this.direction }, 'link up');
    this.#opts.callbacks.onUp(this);
  }

  #deliver(lane: Lane, body: Uint8Array): void {
    let result: void | Promise<void>;
    try {
      result = this.#opts.callbacks.onMessage(this, lane, body);
    } catch (err) {
      this.#log.error({ err }, 'message handler threw');
      return;
    }
    if (result && typeof result.then === 'function') {
      const n = body.length;
      this.#held += n;
      result
        .catch((err: unknown) => this.#log.error({ err }, 'message handler failed'))
        .finally(() => {
          this.#held -= n;
          this.#checkBudget();
        });
    }
  }

  #keepalive(): void {
    if (this.#state === 'closed') return;
    const now = Date.now();
    const late = now - this.#lastKeepalive - this.#opts.timing.keepaliveIntervalMs;
    this.#lastKeepalive = now;
    if (late > this.#opts.timing.keepaliveIntervalMs) {
      // This node's event loop was stalled (`late` ms): the silence that counts against the
      // peer is only the time the loop ran. Without this, the first timer after a stall longer
      // than the idle timeout ran before the data that waited in the socket was read (timers
      // come first in a loop turn), and a peer that kept sending was taken for silent.
      this.#lastReceived = Math.min(now, this.#lastReceived + late);
    }
    const idle = now - this.#lastReceived;
    if (!this.#paused && idle > this.#opts.timing.idleTimeoutMs) {
      if (!this.#decoder.atBoundary) {
        this.#opts.callbacks.onProtocolError(
          this,
          new ProtocolError('stalled_frame', `peer stopped inside a frame for ${idle} ms`),
        );
      }
      this.close('idle_timeout', { goodbye: true });
      return;
    }
    if (this.#state === 'up' && this.#scheduler.queuedMessages(Lane.control) === 0) {
      void this.#sendWire(Lane.control, { kind: 'ping', nonce: ++this.#pingNonce }).catch(() => {});
    }
  }

  #onEnd(): void {
    if (this.#state !== 'closed' && !this.#decoder.atBoundary) {
      this.#opts.callbacks.onProtocolError(
        this,
        new ProtocolError('truncated', 'connection ended inside a frame or message'),
      );
      this.close('protocol_error:truncated', { goodbye: false });
      return;
    }
    this.close('peer_ended', { goodbye: false });
  }

  /**
   * Closes the link once: fails queued sends and pending requests, optionally says Goodbye
   * first (on the control lane, ahead of queued data), then ends the socket.
   */
  close(reason: string, opts: { goodbye: boolean; error?: Error }): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#opts.governor?.forget(this);
    for (const t of this.#timers) clearTimeout(t);
    const err = new LinkClosedError(`link ${this.connId} to ${this.peer} closed: ${reason}`, {
      cause: opts.error,
    });
    this.#rpc.close(err);
    const s = this.#socket;
    if (opts.goodbye && !s.destroyed && s.writable) {
      // What was queued in this turn goes first, as far as the socket takes it (the pump is
      // deferred to the end of the turn); the rest is failed, and the Goodbye said directly.
      this.#scheduler.flushDue();
      const bye = encodeWire({ kind: 'goodbye', reason });
      this.#scheduler.close(err);
      const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bye.length);
      encodeFrameHeaderInto(frame, 0, bye.length, Lane.control, FLAG_START | FLAG_END);
      frame.set(bye, FRAME_HEADER_BYTES);
      s.end(frame);
      setTimeout(() => s.destroy(), this.#opts.timing.closeTimeoutMs).unref();
    } else {
      this.#scheduler.close(err);
      s.destroy();
    }
    if (opts.error && !(opts.error instanceof ProtocolError)) {
      this.#log.debug({ reason, err: opts.error.message }, 'link closed');
    }
    this.#opts.callbacks.onClosed(this, reason, opts.error);
  }
}
