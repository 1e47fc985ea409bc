import { ProtocolError } from '../errors.ts';
import { isLane, LANES, type Lane } from './lanes.ts';

/**
 * Frame format (all integers big-endian):
 *
 *   offset  size  field
 *   0       4     length   payload bytes in this frame, 0..maxFrameBytes
 *   4       1     lane     0 control, 1 high, 2 bulk
 *   5       1     flags    bit 0 START (first frame of a message), bit 1 END (last frame);
 *                          other bits must be zero
 *   6       n     payload
 *
 * A message is the concatenation of the payloads of its frames, from a START frame to an END
 * frame on the same lane (a one-frame message has both). Frames of different lanes interleave;
 * within a lane, messages do not: each lane has at most one message in progress.
 */
export const FRAME_HEADER_BYTES = 6;
export const FLAG_START = 0b01;
export const FLAG_END = 0b10;
const KNOWN_FLAGS = FLAG_START | FLAG_END;

/** Writes a frame header for `length` payload bytes into `out` at `pos`. */
export function encodeFrameHeaderInto(
  out: Buffer,
  pos: number,
  length: number,
  lane: Lane,
  flags: number,
): void {
  out.writeUInt32BE(length, pos);
  out[pos + 4] = lane;
  out[pos + 5] = flags;
}

/** Limits the decoder enforces. */
export interface FrameDecoderLimits {
  maxFrameBytes: number;
  maxMessageBytes: number;
  maxControlMessageBytes: number;
}

/** What the decoder reports for each complete message. */
export type MessageSink = (lane: Lane, message: Buffer) => void;

interface Reassembly {
  pieces: Buffer[];
  bytes: number;
  /** A message is in progress on this lane (a START frame was seen, no END yet). */
  open: boolean;
}

/**
 * Incremental frame parser. Feed it socket chunks in order; it calls `sink` once per complete
 * message. Payload bytes are never copied until a message is complete, and then once (a
 * one-piece message not at all), so reassembly is linear in the message size.
 *
 * Any violation throws a {@link ProtocolError} whose `reason` names it; the decoder is then
 * unusable and the link must be closed.
 */
export class FrameDecoder {
  readonly #limits: FrameDecoderLimits;
  readonly #sink: MessageSink;
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** Payload bytes still expected for the current frame; -1 while reading a header. */
  #remaining = -1;
  #lane: Lane = 0;
  #flags = 0;
  readonly #lanes: Reassembly[] = LANES.map(() => ({ pieces: [], bytes: 0, open: false }));
  #failed: ProtocolError | undefined;
  readonly #onFrame: ((lane: Lane, bytes: number) => void) | undefined;

  /** `onFrame` is told of each frame header parsed (metrics). */
  constructor(
    limits: FrameDecoderLimits,
    sink: MessageSink,
    onFrame?: (lane: Lane, bytes: number) => void,
  ) {
    this.#limits = limits;
    this.#sink = sink;
    this.#onFrame = onFrame;
  }

  /** Bytes held in partly reassembled messages. */
  get partialBytes(): number {
    let sum = 0;
    for (const r of this.#lanes) sum += r.bytes;
    return sum;
  }

  /** Whether the stream ended cleanly (not inside a frame or a message). */
  get atBoundary(): boolean {
    return this.#headerFill === 0 && this.#remaining < 0 && this.#lanes.every((r) => !r.open);
  }

  /** Consumes one chunk from the socket. */
  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#consume(chunk);
    } catch (err) {
      if (err instanceof ProtocolError) this.#failed = err;
      throw err;
    }
  }

  #consume(chunk: Buffer): void {
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      if (this.#remaining < 0) {
        const n = Math.min(FRAME_HEADER_BYTES - this.#headerFill, end - off);
        chunk.copy(this.#header, this.#headerFill, off, off + n);
        this.#headerFill += n;
        off += n;
        if (this.#headerFill === FRAME_HEADER_BYTES) {
          this.#headerFill = 0;
          this.#startFrame();
          if (this.#remaining === 0) this.#endFrame();
        }
      } else {
        const n = Math.min(this.#remaining, end - off);
        const r = this.#lanes[this.#lane]!;
        r.pieces.push(n === end && off === 0 ? chunk : chunk.subarray(off, off + n));
        r.bytes += n;
        this.#remaining -= n;
        off += n;
        if (this.#remaining === 0) this.#endFrame();
      }
    }
  }

  #startFrame(): void {
    const length = this.#header.readUInt32BE(0);
    const lane = this.#header[4]!;
    const flags = this.#header[5]!;
    if (!isLane(lane)) throw new ProtocolError('bad_lane', `frame on unknown lane ${lane}`);
    if ((flags & ~KNOWN_FLAGS) !== 0) {
      throw new ProtocolError('bad_flags', `frame has unknown flag bits 0x${flags.toString(16)}`);
    }
    if (length > this.#limits.maxFrameBytes) {
      throw new ProtocolError(
        'frame_too_large',
        `frame of ${length} bytes exceeds the limit of ${this.#limits.maxFrameBytes}`,
      );
    }
    const r = this.#lanes[lane]!;
    if (flags & FLAG_START) {
      if (r.open) {
        throw new ProtocolError('message_interleaved', `new message on lane ${lane} before END`);
      }
      r.open = true;
    } else if (!r.open) {
      throw new ProtocolError('orphan_frame', `continuation frame on lane ${lane} without START`);
    }
    const max = lane === 0 ? this.#limits.maxControlMessageBytes : this.#limits.maxMessageBytes;
    if (r.bytes + length > max) {
      throw new ProtocolError(
        'message_too_large',
        `message on lane ${lane} exceeds the limit of ${max} bytes`,
      );
    }
    this.#lane = lane;
    this.#flags = flags;
    this.#remaining = length;
    this.#onFrame?.(lane, FRAME_HEADER_BYTES + length);
  }

  #endFrame(): void {
    this.#remaining = -1;
    if ((this.#flags & FLAG_END) === 0) return;
    const lane = this.#lane;
    const r = this.#lanes[lane]!;
    const message = r.pieces.length === 1 ? r.pieces[0]! : Buffer.concat(r.pieces, r.bytes);
    r.pieces = [];
    r.bytes = 0;
    r.open = false;
    this.#sink(lane, message);
  }
}
