/**
 * The simulator's model of bandwidth: what happens to a message between a sender's
 * `transport.send` and the receiver's handler when nodes have finite upload and download rates.
 *
 * Each direction of each link is a {@link Pipe}: the production `SendScheduler` (lanes, frames,
 * strict priority with the bulk minimum share, the bulk flow-control window) writing into a sink
 * that stands for the socket's buffer (at most `maxSocketBufferedBytes` ahead, as in production).
 * Each node's {@link Nic} drains the sinks of all its links round-robin, a quantum of whole frames
 * per turn, at the node's upload rate. A batch then travels the link's one-way latency and
 * joins the receiver's {@link Downlink}, a FIFO at the node's download rate. A message is
 * delivered when its last frame has left the receiver's downlink. Bulk bytes read there are
 * credited back to the sender (a Credit message on the control lane, every quarter window), so
 * the bulk window bounds how much bulk data queues at a receiver, as it does in production.
 *
 * Events: one per batch at the sender (NIC turn), one at arrival, one when a batch that ends a
 * message or owes credit leaves the downlink. Bytes are never copied: the scheduler is fed
 * views of one zero buffer of the message's length; the message itself travels in a closure.
 * @module
 */
import {
  DEFAULT_LIMITS,
  FRAME_HEADER_BYTES,
  type FrameSink,
  Lane,
  SendScheduler,
  type TransportLimits,
  varintLength,
} from '../transport/index.ts';
import { Fifo } from '../util/fifo.ts';

/** A node's access link, bytes per second each way (Infinity = unlimited). */
export interface Bandwidth {
  uploadBytesPerSec: number;
  downloadBytesPerSec: number;
}

/** The transport settings the model uses (production defaults). */
export type SimTransportLimits = Pick<
  TransportLimits,
  | 'maxFrameBytes'
  | 'maxMessageBytes'
  | 'maxControlMessageBytes'
  | 'maxQueuedBytes'
  | 'maxSocketBufferedBytes'
  | 'bulkMinShare'
  | 'bulkWindowBytes'
  | 'bulkReceiveBudgetBytes'
  | 'minBulkWindowBytes'
  | 'bulkTargetDelayMs'
>;

export function resolveSimTransport(partial: Partial<SimTransportLimits> = {}): SimTransportLimits {
  return {
    maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes,
    maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes,
    maxControlMessageBytes: DEFAULT_LIMITS.maxControlMessageBytes,
    maxQueuedBytes: { ...DEFAULT_LIMITS.maxQueuedBytes },
    maxSocketBufferedBytes: DEFAULT_LIMITS.maxSocketBufferedBytes,
    bulkMinShare: DEFAULT_LIMITS.bulkMinShare,
    bulkWindowBytes: DEFAULT_LIMITS.bulkWindowBytes,
    bulkReceiveBudgetBytes: DEFAULT_LIMITS.bulkReceiveBudgetBytes,
    minBulkWindowBytes: DEFAULT_LIMITS.minBulkWindowBytes,
    bulkTargetDelayMs: DEFAULT_LIMITS.bulkTargetDelayMs,
    ...partial,
  };
}

// ---------------------------------------------------------------------------------------------
// Wire sizes (protobuf Envelope around the application bytes; see transport/proto/wire.proto)

/** A length-delimited field of `n` bytes: tag, length, bytes (proto3 omits it when empty). */
function bytesField(n: number): number {
  return n === 0 ? 0 : 1 + varintLength(n) + n;
}

/** A varint field (omitted when 0). */
function varintField(v: number): number {
  return v === 0 ? 0 : 1 + varintLength(v);
}

/** Envelope{message: body}: a slot-update message. */
export function messageEnvelopeBytes(body: number): number {
  return 1 + varintLength(body) + body;
}

/** Envelope{request: {id, timeout_ms, body}}. */
export function requestEnvelopeBytes(id: number, timeoutMs: number, body: number): number {
  const inner = varintField(id) + varintField(timeoutMs) + bytesField(body);
  return 1 + varintLength(inner) + inner;
}

/** Envelope{response: {id, body}}. */
export function responseEnvelopeBytes(id: number, body: number): number {
  const inner = varintField(id) + bytesField(body);
  return 1 + varintLength(inner) + inner;
}

/** Envelope{credit: {bytes}}. */
export function creditEnvelopeBytes(bytes: number): number {
  const inner = varintField(bytes);
  return 1 + varintLength(inner) + inner;
}

/** Frame bytes of a message of `length` bytes: its frames' headers plus the bytes. */
export function framedBytes(length: number, maxFrameBytes: number): number {
  return Math.max(1, Math.ceil(length / maxFrameBytes)) * FRAME_HEADER_BYTES + length;
}

// ---------------------------------------------------------------------------------------------

/** Views of this buffer stand for message bytes (the scheduler never reads them). */
let zeros = new Uint8Array(1 << 20);
function placeholder(length: number): Uint8Array {
  if (length > zeros.length) zeros = new Uint8Array(length);
  return zeros.subarray(0, length);
}

/** One message in a pipe: delivered (if still wanted) when its last frame left the downlink. */
interface WireMessage {
  remaining: number;
  deliver: () => void;
}

interface Frame {
  lane: Lane;
  bytes: number;
  /** The message this frame ends. */
  ends: WireMessage | undefined;
}

/** Frames that crossed the wire together. */
export interface Batch {
  bytes: number;
  /** Bytes per lane (control, high, bulk), frame headers included. */
  laneBytes: [number, number, number];
  ends: WireMessage[];
}

/** What a pipe needs from the simulation. */
export interface PipeHost {
  /** The batch left the sender's NIC at `at`; carry it over the link. */
  depart(pipe: Pipe, batch: Batch, at: number): void;
}

/**
 * One direction of one link for the lifetime of that link: the production scheduler and the
 * socket buffer it writes into. A link that goes down is dropped whole (`dead`); the next one
 * gets new pipes.
 */
export class Pipe implements FrameSink {
  writableLength = 0;
  readonly scheduler: SendScheduler;
  readonly #frames = new Fifo<Frame>();
  readonly #pending = [new Fifo<WireMessage>(), new Fifo<WireMessage>(), new Fifo<WireMessage>()];
  readonly #limits: SimTransportLimits;
  readonly nic: Nic;
  readonly host: PipeHost;
  /** Whether the pipe waits in its NIC's round-robin ring. */
  inRing = false;
  dead = false;
  /** Receiver side: bulk bytes read and not yet credited back. */
  uncredited = 0;
  /** The window the receiver announced. */
  readonly window: number;
  /** Request ids on this link (their varint length is part of the wire size). */
  nextRequestId = 1;

  constructor(
    nic: Nic,
    host: PipeHost,
    limits: SimTransportLimits,
    window: number,
    now: () => number,
  ) {
    this.nic = nic;
    this.host = host;
    this.#limits = limits;
    this.window = window;
    this.scheduler = new SendScheduler(this, {
      maxFrameBytes: limits.maxFrameBytes,
      maxMessageBytes: [
        limits.maxControlMessageBytes,
        limits.maxMessageBytes,
        limits.maxMessageBytes,
      ],
      maxQueuedBytes: [
        limits.maxQueuedBytes.control,
        limits.maxQueuedBytes.high,
        limits.maxQueuedBytes.bulk,
      ],
      maxSinkBufferedBytes: limits.maxSocketBufferedBytes,
      minShare: [0, 0, limits.bulkMinShare],
      onFrame: (lane, bytes) => this.#onFrame(lane, bytes),
      // The production delay control, on virtual time.
      delayControl: {
        now,
        targetDelayMs: limits.bulkTargetDelayMs,
        minWindowBytes: limits.minBulkWindowBytes,
      },
    });
    this.scheduler.setWindow(Lane.bulk, window);
  }

  /**
   * Queues a message of `length` wire bytes on `lane`; `deliver` runs when it has fully
   * arrived. Returns false, as the transport would reject it, when the lane's queue is full.
   */
  send(lane: Lane, length: number, deliver: () => void): boolean {
    const max =
      lane === Lane.control ? this.#limits.maxControlMessageBytes : this.#limits.maxMessageBytes;
    const queued = this.scheduler.queuedBytes(lane);
    const cap = [
      this.#limits.maxQueuedBytes.control,
      this.#limits.maxQueuedBytes.high,
      this.#limits.maxQueuedBytes.bulk,
    ][lane]!;
    if (length > max || (queued > 0 && queued + length > cap)) return false;
    this.#pending[lane]!.push({ remaining: length, deliver });
    // The promise resolves unobserved (no handler: no microtask); the pipe never closes, so it
    // never rejects: a dead pipe is simply dropped.
    void this.scheduler.enqueue(lane, placeholder(length));
    return true;
  }

  #onFrame(lane: Lane, bytes: number): void {
    const queue = this.#pending[lane]!;
    const msg = queue.peek()!;
    msg.remaining -= bytes - FRAME_HEADER_BYTES;
    let ends: WireMessage | undefined;
    if (msg.remaining <= 0) {
      queue.shift();
      ends = msg;
    }
    this.#frames.push({ lane, bytes, ends });
    this.writableLength += bytes;
  }

  /** FrameSink: the scheduler handed frames over (already recorded by onFrame). */
  write(_chunks: readonly Uint8Array[]): boolean {
    this.nic.wake(this);
    return true;
  }

  get hasFrames(): boolean {
    return this.#frames.length > 0;
  }

  /** Takes whole frames, at least one, up to `quantum` bytes. */
  takeBatch(quantum: number): Batch {
    const batch: Batch = { bytes: 0, laneBytes: [0, 0, 0], ends: [] };
    for (;;) {
      const f = this.#frames.peek();
      if (!f || (batch.bytes > 0 && batch.bytes + f.bytes > quantum)) break;
      this.#frames.shift();
      batch.bytes += f.bytes;
      batch.laneBytes[f.lane] += f.bytes;
      if (f.ends) batch.ends.push(f.ends);
    }
    return batch;
  }

  /** The NIC finished sending `bytes` of this pipe: room in the socket buffer again. */
  sent(bytes: number): void {
    this.writableLength -= bytes;
    if (!this.dead) this.scheduler.pump();
  }
}

/** What a NIC needs from the simulation. */
export interface Clock {
  readonly now: number;
  at(at: number, run: () => void): void;
}

/**
 * A node's upload: serves the pipes that have frames round-robin, one quantum of whole frames
 * per turn, at `bytesPerSec`. A pipe's frames leave when its turn's transmission ends; its
 * socket buffer frees then (and its scheduler refills it).
 */
export class Nic {
  readonly #ring = new Fifo<Pipe>();
  readonly #clock: Clock;
  readonly #bytesPerMs: number;
  readonly #quantum: number;
  #busy = false;
  #current: { pipe: Pipe; bytes: number } | undefined;
  /** Set when the node crashes: nothing more leaves. */
  stopped = false;

  constructor(clock: Clock, bytesPerSec: number, quantum: number) {
    this.#clock = clock;
    this.#bytesPerMs = bytesPerSec / 1000;
    this.#quantum = quantum;
  }

  wake(pipe: Pipe): void {
    if (this.stopped) return;
    if (!pipe.inRing) {
      pipe.inRing = true;
      this.#ring.push(pipe);
    }
    if (!this.#busy) {
      this.#busy = true;
      this.#clock.at(this.#clock.now, () => this.#step());
    }
  }

  #step(): void {
    if (this.stopped) return;
    const done = this.#current;
    this.#current = undefined;
    if (done) done.pipe.sent(done.bytes);
    let pipe = this.#ring.shift();
    while (pipe && (pipe.dead || !pipe.hasFrames)) {
      pipe.inRing = false;
      pipe = this.#ring.shift();
    }
    if (!pipe) {
      this.#busy = false;
      return;
    }
    const batch = pipe.takeBatch(this.#quantum);
    if (pipe.hasFrames) this.#ring.push(pipe);
    else pipe.inRing = false;
    this.#current = { pipe, bytes: batch.bytes };
    const end = this.#clock.now + batch.bytes / this.#bytesPerMs;
    pipe.host.depart(pipe, batch, end);
    this.#clock.at(end, () => this.#step());
  }
}

/** A node's download: a FIFO at `bytesPerSec` that every arriving batch crosses in order. */
export class Downlink {
  #busyUntil = 0;
  readonly #bytesPerMs: number;

  constructor(bytesPerSec: number) {
    this.#bytesPerMs = bytesPerSec / 1000;
  }

  /** A batch of `bytes` arrives at `now`: when has it been read? */
  arrive(now: number, bytes: number): number {
    const done = Math.max(now, this.#busyUntil) + bytes / this.#bytesPerMs;
    this.#busyUntil = done;
    return done;
  }

  /** The node restarted: its old backlog is gone. */
  reset(now: number): void {
    this.#busyUntil = now;
  }
}
