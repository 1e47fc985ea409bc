import { LinkClosedError, MessageTooLargeError, QueueFullError } from '../errors.ts';
import { Fifo } from '../util/fifo.ts';
import { encodeFrameHeaderInto, FLAG_END, FLAG_START, FRAME_HEADER_BYTES } from './frame.ts';
import { LANE_NAMES, LANES, type Lane } from './lanes.ts';

/** Where the scheduler puts bytes: a socket, or the simulator's model of one. */
export interface FrameSink {
  /** Bytes handed over and not yet flushed. */
  readonly writableLength: number;
  /**
   * Hands over a batch of chunks, in order (a socket writes them corked, as one writev).
   * Returns false when the sink wants a `drain` before more.
   */
  write(chunks: readonly Uint8Array[]): boolean;
}

const NOOP = () => {};

/**
 * The links' {@link SendSchedulerOptions.defer}: the pump runs once the event loop has run this
 * turn's socket reads and timers (`setImmediate`), so every message they produce for one peer
 * leaves in one write. A microtask would pump after each callback, and after each `await` of an
 * application that broadcasts in a loop: one write per message in a burst.
 */
export function afterThisTurn(pump: () => void): void {
  setImmediate(pump);
}

/** The smallest frame cut to fit a flow-control window (unless the message ends sooner). */
const MIN_WINDOW_FRAME = 1024;

/** Payload slices at least this large are handed to the sink by reference; smaller ones are coalesced. */
const COALESCE_BELOW = 16 * 1024;

export interface SendSchedulerOptions {
  maxFrameBytes: number;
  /** Per lane: the largest message accepted. */
  maxMessageBytes: readonly [number, number, number];
  /** Per lane: bytes that may wait in the queue. */
  maxQueuedBytes: readonly [number, number, number];
  /** Stop handing bytes to the sink while it holds this many. */
  maxSinkBufferedBytes: number;
  /** Per lane: the minimum share of bytes it gets while backlogged (0 = none). */
  minShare: readonly [number, number, number];
  /** Called after each frame is handed to the sink (metrics). */
  onFrame?: (lane: Lane, bytes: number) => void;
  /**
   * Runs the pump later (the link passes `setImmediate`: after the socket reads and timers of
   * this turn of the event loop): the messages queued meanwhile then go to the socket in one
   * corked write, one TLS record and one system call, instead of one each. Absent: every
   * message is pumped at once.
   */
  defer?: (pump: () => void) => void;
  /**
   * Delay-based control of flow-controlled lanes: with a clock, the scheduler measures how
   * long credits take to come back and keeps its window only as large as that delay allows.
   * Without one, a lane's window is just what the peer announced.
   */
  delayControl?: {
    /** Monotonic clock, ms. */
    now: () => number;
    /** Credit delay the controller aims at, ms (default 20). */
    targetDelayMs: number;
    /** The window never shrinks below this many bytes (default 64 KiB). */
    minWindowBytes: number;
  };
}

/** A point of a flow-controlled lane: `offset` bytes had been sent at time `at`. */
interface Checkpoint {
  offset: number;
  at: number;
}

interface Outgoing {
  parts: readonly Uint8Array[];
  length: number;
  /** Bytes already cut into frames. */
  sent: number;
  /** Cursor: the part and the offset in it where the next frame starts. */
  part: number;
  partOffset: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Takes the next `n` bytes of `msg` as views (no copy), advancing its cursor. */
function takeBytes(msg: Outgoing, n: number, out: Uint8Array[]): void {
  while (n > 0) {
    const part = msg.parts[msg.part]!;
    const take = Math.min(n, part.length - msg.partOffset);
    out.push(take === part.length ? part : part.subarray(msg.partOffset, msg.partOffset + take));
    msg.partOffset += take;
    n -= take;
    if (msg.partOffset === part.length) {
      msg.part++;
      msg.partOffset = 0;
    }
  }
  while (msg.part < msg.parts.length && msg.parts[msg.part]!.length === 0) msg.part++;
}

/**
 * The send side of a link: one FIFO queue per lane, cut into frames of at most
 * `maxFrameBytes`, interleaved by priority. Only `maxSinkBufferedBytes` are ever handed to the
 * socket ahead of time, so a high-lane frame waits behind at most that much bulk data.
 *
 * Priority is strict (control > high > bulk) except for minimum shares: each frame sent from a
 * higher lane credits a backlogged lower lane with a share of its bytes (share / (1 - share));
 * a lane holding positive credit is served first, and pays its frame out of the credit.
 */
export class SendScheduler {
  readonly #opts: SendSchedulerOptions;
  readonly #sink: FrameSink;
  readonly #queues = LANES.map(() => new Fifo<Outgoing>());
  readonly #queuedBytes = [0, 0, 0];
  readonly #credit = [0, 0, 0];
  /** Flow-control windows per lane (Infinity = none) and frame bytes sent but not credited. */
  readonly #window = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  readonly #inFlight = [0, 0, 0];
  /** Delay control, per lane: the congestion window, bytes sent and credited in all, checkpoints. */
  readonly #cwnd = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  readonly #sentTotal = [0, 0, 0];
  readonly #creditedTotal = [0, 0, 0];
  readonly #checkpoints = LANES.map(() => new Fifo<Checkpoint>());
  readonly #lastDecrease = [0, 0, 0];
  /** The smallest credit delay seen per lane: the link's base delay (round trip, no queue). */
  readonly #baseDelay = [
    Number.POSITIVE_INFINITY,
    Number.POSITIVE_INFINITY,
    Number.POSITIVE_INFINITY,
  ];
  /** The latest queueing delay measured per lane (credit delay less the base), ms. */
  readonly creditDelayMs = [0, 0, 0];
  #closed: Error | undefined;
  #waitingForDrain = false;
  /** A deferred pump is due (see `SendSchedulerOptions.defer`). */
  #pumpDue = false;

  constructor(sink: FrameSink, opts: SendSchedulerOptions) {
    this.#sink = sink;
    this.#opts = opts;
  }

  /** Bytes waiting in the queue of `lane` (not yet handed to the sink). */
  queuedBytes(lane: Lane): number {
    return this.#queuedBytes[lane]!;
  }

  /**
   * Sets the flow-control window of `lane`: frame bytes (headers included) that may be sent
   * and not yet credited back by the peer. Infinity (or 0, as a peer announces it) = none.
   * A frame may always go when nothing is in flight, so a tiny window slows a lane but never
   * stops it for good.
   */
  setWindow(lane: Lane, bytes: number): void {
    this.#window[lane] = bytes > 0 ? bytes : Number.POSITIVE_INFINITY;
    const dc = this.#opts.delayControl;
    // Delay control starts small and grows by the bytes credited (doubling per round trip)
    // while no queueing appears, like TCP's slow start: a link that starts sending bulk does
    // not put a whole window of it ahead of urgent frames before it knows the path has room.
    if (dc && bytes > 0) this.#cwnd[lane] = Math.min(bytes, dc.minWindowBytes);
    this.#wake();
  }

  /** The peer consumed `bytes` of `lane`: they leave the window. */
  credit(lane: Lane, bytes: number): void {
    this.#inFlight[lane] = Math.max(0, this.#inFlight[lane]! - bytes);
    const dc = this.#opts.delayControl;
    if (dc && this.#window[lane]! < Number.POSITIVE_INFINITY) this.#control(lane, bytes, dc);
    // At once, not deferred: the window just opened, and the frames it lets go are large (no
    // batching to gain); waiting for the end of the turn would stretch every credit round trip.
    this.pump();
  }

  /** Pumps now, or once later in this turn if the pump is deferred. */
  #wake(): void {
    const defer = this.#opts.defer;
    if (defer === undefined) {
      this.pump();
      return;
    }
    if (this.#pumpDue) return;
    this.#pumpDue = true;
    defer(() => {
      if (this.#pumpDue) this.pump();
    });
  }

  /**
   * Delay-based window (after LEDBAT): the time from sending a byte to its credit, less the
   * smallest such time seen on this link (its round trip), is the queueing and processing
   * delay ahead of any frame. Above the target the window shrinks by a fifth (at most once per
   * target interval); below it, it grows by the bytes credited, up to the peer's window.
   */
  #control(lane: Lane, bytes: number, dc: NonNullable<SendSchedulerOptions['delayControl']>): void {
    this.#creditedTotal[lane]! += bytes;
    const credited = this.#creditedTotal[lane]!;
    const cps = this.#checkpoints[lane]!;
    let sample: Checkpoint | undefined;
    while (cps.length > 0 && cps.peek()!.offset <= credited) sample = cps.shift();
    if (!sample) return;
    const now = dc.now();
    const delay = now - sample.at;
    this.#baseDelay[lane] = Math.min(this.#baseDelay[lane]!, delay);
    const queueing = delay - this.#baseDelay[lane]!;
    this.creditDelayMs[lane] = queueing;
    const max = this.#window[lane]!;
    if (queueing > dc.targetDelayMs) {
      if (now - this.#lastDecrease[lane]! >= dc.targetDelayMs) {
        this.#lastDecrease[lane] = now;
        this.#cwnd[lane] = Math.max(dc.minWindowBytes, Math.floor(this.#cwnd[lane]! * 0.8));
      }
    } else {
      this.#cwnd[lane] = Math.min(max, this.#cwnd[lane]! + bytes);
    }
  }

  /** The window of `lane` in force: the peer's, or less under delay control. */
  window(lane: Lane): number {
    return Math.min(this.#window[lane]!, this.#cwnd[lane]!);
  }

  /** Frame bytes of `lane` sent and not yet credited. */
  inFlight(lane: Lane): number {
    return this.#inFlight[lane]!;
  }

  /** Messages waiting in the queue of `lane`. */
  queuedMessages(lane: Lane): number {
    return this.#queues[lane]!.length;
  }

  /**
   * Queues `data` (one buffer, or parts to be sent back to back) as one message on `lane`.
   * The bytes are not copied: they must not change until the promise settles. Resolves when
   * the last frame has been handed to the socket; rejects with {@link QueueFullError} at once
   * if the lane's queue is full, or with {@link LinkClosedError} if the link closes first.
   */
  enqueue(lane: Lane, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const err = this.#add(lane, data, resolve, reject);
      if (err) reject(err);
    });
  }

  /**
   * Like {@link enqueue}, without a promise (the transport's own small control messages, sent
   * many times a second). Returns the error instead of rejecting; the message is dropped then.
   */
  push(lane: Lane, data: Uint8Array | readonly Uint8Array[]): Error | undefined {
    return this.#add(lane, data, NOOP, NOOP);
  }

  #add(
    lane: Lane,
    data: Uint8Array | readonly Uint8Array[],
    resolve: () => void,
    reject: (err: Error) => void,
  ): Error | undefined {
    if (this.#closed) return this.#closed;
    const parts = data instanceof Uint8Array ? [data] : data;
    let length = 0;
    for (const p of parts) length += p.length;
    const max = this.#opts.maxMessageBytes[lane]!;
    if (length > max) return new MessageTooLargeError(length, max);
    let queued = this.#queuedBytes[lane]!;
    if (queued > 0 && queued + length > this.#opts.maxQueuedBytes[lane]! && this.#pumpDue) {
      // A deferred pump would have freed room by now: pump first, then judge.
      this.pump();
      queued = this.#queuedBytes[lane]!;
    }
    if (queued > 0 && queued + length > this.#opts.maxQueuedBytes[lane]!) {
      return new QueueFullError(
        `${LANE_NAMES[lane]} lane queue holds ${queued} bytes; ` +
          `${length} more would exceed its limit of ${this.#opts.maxQueuedBytes[lane]}`,
      );
    }
    this.#queues[lane]!.push({ parts, length, sent: 0, part: 0, partOffset: 0, resolve, reject });
    this.#queuedBytes[lane]! += length;
    this.#wake();
    return undefined;
  }

  /** Hands frames to the sink while it has room. Call it again on the sink's `drain`. */
  pump(): void {
    this.#pumpDue = false;
    if (this.#closed) return;
    this.#waitingForDrain = false;
    for (;;) {
      const room = this.#opts.maxSinkBufferedBytes - this.#sink.writableLength;
      if (room <= 0) {
        this.#waitingForDrain = true;
        return;
      }
      const batch = this.#takeBatch(room);
      if (batch === undefined) return;
      if (!this.#sink.write(batch)) {
        this.#waitingForDrain = true;
        return;
      }
    }
  }

  /**
   * Runs a deferred pump now if one is due: a link closing with Goodbye first hands the sink
   * what was queued in this turn, as an immediate pump would have.
   */
  flushDue(): void {
    if (this.#pumpDue) this.pump();
  }

  /** Whether the scheduler is waiting for the sink to drain. */
  get waitingForDrain(): boolean {
    return this.#waitingForDrain;
  }

  /** Fails every queued message with `err`; later enqueues fail too. */
  close(err: Error = new LinkClosedError('link closed')): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const q of this.#queues) for (const m of q.drain()) m.reject(err);
    this.#queuedBytes.fill(0);
  }

  /**
   * Room in the window of `lane` for its next frame, in payload bytes: a frame is cut to fit
   * (at least {@link MIN_WINDOW_FRAME} bytes, or what is left of the message), so a blocked
   * sender always has nearly its whole window in flight and the receiver, crediting every so
   * many bytes, is sure to credit. With nothing in flight a full frame may always go.
   */
  #room(lane: Lane): number {
    const msg = this.#queues[lane]!.peek()!;
    const full = Math.min(this.#opts.maxFrameBytes, msg.length - msg.sent);
    const inFlight = this.#inFlight[lane]!;
    if (inFlight === 0) return full;
    const room = Math.floor(Math.min(full, this.window(lane) - inFlight - FRAME_HEADER_BYTES));
    return room > 0 && room >= Math.min(full, MIN_WINDOW_FRAME) ? room : 0;
  }

  #open(lane: Lane): boolean {
    return this.#room(lane) > 0 || this.#queues[lane]!.peek()!.length === 0;
  }

  #pick(): Lane | -1 {
    let natural: Lane | -1 = -1;
    for (const lane of LANES) {
      if (this.#queues[lane]!.length === 0 || !this.#open(lane)) continue;
      if (natural < 0) natural = lane;
      else if (this.#credit[lane]! > 0) return lane;
    }
    return natural;
  }

  /**
   * Cuts frames (at least one, up to `room` bytes) into a batch of chunks: headers and small
   * payload slices are coalesced into one buffer, large payload slices are passed by reference.
   */
  #takeBatch(room: number): Uint8Array[] | undefined {
    const chunks: Uint8Array[] = [];
    let small: Uint8Array[] = [];
    let smallBytes = 0;
    const flushSmall = () => {
      if (smallBytes > 0)
        chunks.push(small.length === 1 ? small[0]! : Buffer.concat(small, smallBytes));
      small = [];
      smallBytes = 0;
    };
    const views: Uint8Array[] = [];
    const finished: Outgoing[] = [];
    let total = 0;
    while (total < room) {
      const lane = this.#pick();
      if (lane === -1) break;
      const q = this.#queues[lane]!;
      const msg = q.peek()!;
      const length = this.#room(lane);
      const first = msg.sent === 0;
      msg.sent += length;
      const last = msg.sent === msg.length;
      const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      encodeFrameHeaderInto(
        header,
        0,
        length,
        lane,
        (first ? FLAG_START : 0) | (last ? FLAG_END : 0),
      );
      small.push(header);
      smallBytes += FRAME_HEADER_BYTES;
      views.length = 0;
      takeBytes(msg, length, views);
      for (const v of views) {
        if (v.length >= COALESCE_BELOW) {
          flushSmall();
          chunks.push(v);
        } else {
          small.push(v);
          smallBytes += v.length;
        }
      }
      this.#queuedBytes[lane]! -= length;
      if (this.#window[lane]! < Number.POSITIVE_INFINITY) {
        this.#inFlight[lane]! += FRAME_HEADER_BYTES + length;
        this.#sentTotal[lane]! += FRAME_HEADER_BYTES + length;
        const dc = this.#opts.delayControl;
        if (dc) this.#checkpoints[lane]!.push({ offset: this.#sentTotal[lane]!, at: dc.now() });
      }
      if (last) {
        q.shift();
        finished.push(msg);
      }
      total += FRAME_HEADER_BYTES + length;
      this.#account(lane, FRAME_HEADER_BYTES + length);
      this.#opts.onFrame?.(lane, FRAME_HEADER_BYTES + length);
    }
    if (total === 0) return undefined;
    flushSmall();
    for (const m of finished) m.resolve();
    return chunks;
  }

  /** Updates the minimum-share credits after `bytes` were taken from `lane`. */
  #account(lane: Lane, bytes: number): void {
    if (this.#credit[lane]! > 0) {
      this.#credit[lane]! -= bytes;
      return;
    }
    const higherBacklogged = LANES.some((l) => l < lane && this.#queues[l]!.length > 0);
    if (!higherBacklogged) this.#credit[lane] = 0;
    for (const lower of LANES) {
      const share = this.#opts.minShare[lower]!;
      if (lower <= lane || share <= 0 || this.#queues[lower]!.length === 0) continue;
      this.#credit[lower] = Math.min(
        this.#opts.maxFrameBytes,
        this.#credit[lower]! + (bytes * share) / (1 - share),
      );
    }
  }
}
