/**
 * Fuzzing the frame decoder: arbitrary bytes and mutated valid streams, cut into arbitrary
 * chunks. Only a ProtocolError may escape; the decoder never holds more than its limits allow,
 * never delivers a message over its lane's limit, and refuses an oversized length before it
 * reads (and so before it holds) any of that frame's payload.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../src/errors.ts';
import {
  FLAG_END,
  FLAG_START,
  FRAME_HEADER_BYTES,
  FrameDecoder,
} from '../../src/transport/frame.ts';
import { Lane } from '../../src/transport/lanes.ts';

const SEED = 0x5eed_f4a3;
const limits = { maxFrameBytes: 512, maxMessageBytes: 2048, maxControlMessageBytes: 256 };
const laneLimit = (lane: number) =>
  lane === Lane.control ? limits.maxControlMessageBytes : limits.maxMessageBytes;
/** The most the decoder may hold: one partial message per lane, each within its lane's limit. */
const MAX_HELD = limits.maxControlMessageBytes + 2 * limits.maxMessageBytes;

function header(length: number, lane: number, flags: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt32BE(length >>> 0, 0);
  h[4] = lane;
  h[5] = flags;
  return h;
}

/** A valid stream: messages on random lanes, each cut into frames, lanes interleaved. */
const validStream = fc
  .array(
    fc.record({
      lane: fc.constantFrom(Lane.control, Lane.high, Lane.bulk),
      size: fc.nat({ max: 1500 }),
      fill: fc.nat({ max: 255 }),
    }),
    { maxLength: 8 },
  )
  .map((messages) => {
    const parts: Buffer[] = [];
    const expected: { lane: number; message: Buffer }[] = [];
    for (const m of messages) {
      const size = Math.min(m.size, laneLimit(m.lane));
      const body = Buffer.alloc(size, m.fill);
      expected.push({ lane: m.lane, message: body });
      if (size === 0) {
        parts.push(header(0, m.lane, FLAG_START | FLAG_END));
        continue;
      }
      for (let off = 0; off < size; off += limits.maxFrameBytes) {
        const piece = body.subarray(off, Math.min(size, off + limits.maxFrameBytes));
        const flags = (off === 0 ? FLAG_START : 0) | (off + piece.length >= size ? FLAG_END : 0);
        parts.push(header(piece.length, m.lane, flags), piece);
      }
    }
    return { wire: Buffer.concat(parts), expected };
  });

/** Cut points: the stream is fed in chunks of these sizes (cycled). */
const chunking = fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 });

interface Run {
  delivered: { lane: number; message: Buffer }[];
  error: unknown;
  maxHeld: number;
}

/** Feeds `wire` in chunks; records what came out, the first error, and the most ever held. */
function feed(wire: Buffer, chunks: number[]): Run {
  const run: Run = { delivered: [], error: undefined, maxHeld: 0 };
  const d = new FrameDecoder(limits, (lane, message) => {
    assert.ok(
      message.length <= laneLimit(lane),
      `lane ${lane} delivered ${message.length} bytes, over its limit`,
    );
    run.delivered.push({ lane, message: Buffer.from(message) });
  });
  let off = 0;
  for (let i = 0; off < wire.length; i++) {
    const n = chunks[i % chunks.length]!;
    const chunk = wire.subarray(off, off + n);
    off += n;
    const held = d.partialBytes;
    try {
      d.push(chunk);
    } catch (err) {
      run.error = err;
      // The error is final: the decoder refuses anything more with the same error.
      assert.throws(
        () => d.push(Buffer.from([0])),
        (again) => again === err,
      );
      // It threw before taking more than the chunk it was given.
      assert.ok(d.partialBytes <= held + chunk.length);
      break;
    }
    run.maxHeld = Math.max(run.maxHeld, d.partialBytes);
  }
  run.maxHeld = Math.max(run.maxHeld, d.partialBytes);
  return run;
}

function onlyProtocolErrors(run: Run): void {
  if (run.error !== undefined) {
    assert.ok(run.error instanceof ProtocolError, `escaped: ${String(run.error)}`);
    assert.match(run.error.reason, /^[a-z_]+$/);
    assert.ok(run.error.message.length > 0);
  }
  assert.ok(run.maxHeld <= MAX_HELD, `held ${run.maxHeld} > ${MAX_HELD}`);
}

describe('fuzz: frame decoder', () => {
  it('decodes every valid stream, however it is chunked', () => {
    fc.assert(
      fc.property(validStream, chunking, ({ wire, expected }, chunks) => {
        const run = feed(wire, chunks);
        assert.equal(run.error, undefined);
        assert.deepEqual(
          run.delivered.map((m) => [m.lane, m.message.length]),
          // Lanes complete in stream order (each message is whole before the next starts).
          expected.map((m) => [m.lane, m.message.length]),
        );
        for (let i = 0; i < expected.length; i++) {
          assert.ok(run.delivered[i]!.message.equals(expected[i]!.message));
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('arbitrary bytes: only ProtocolError escapes, and the bounds hold', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), chunking, (bytes, chunks) => {
        onlyProtocolErrors(feed(Buffer.from(bytes), chunks));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('mutated valid streams (bytes flipped, cut, spliced): only ProtocolError escapes', () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        xor: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), len: fc.nat({ max: 64 }) }),
      fc.record({
        kind: fc.constant('splice' as const),
        at: fc.nat(),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
      }),
    );
    fc.assert(
      fc.property(
        validStream,
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        chunking,
        ({ wire }, mutations, chunks) => {
          let w = Buffer.from(wire);
          for (const m of mutations) {
            if (w.length === 0) break;
            const at = m.at % w.length;
            if (m.kind === 'flip') w[at] = w[at]! ^ m.xor;
            else if (m.kind === 'cut')
              w = Buffer.concat([w.subarray(0, at), w.subarray(at + m.len)]);
            else w = Buffer.concat([w.subarray(0, at), m.bytes, w.subarray(at)]);
          }
          onlyProtocolErrors(feed(w, chunks));
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('refuses any length over maxFrameBytes at the header, holding none of its payload', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: limits.maxFrameBytes + 1, max: 0xffff_ffff }),
        fc.constantFrom(Lane.control, Lane.high, Lane.bulk),
        fc.nat({ max: 2000 }),
        (length, lane, sent) => {
          const d = new FrameDecoder(limits, () => {});
          const wire = Buffer.concat([header(length, lane, FLAG_START), Buffer.alloc(sent, 1)]);
          assert.throws(
            () => d.push(wire),
            (err) => err instanceof ProtocolError && err.reason === 'frame_too_large',
          );
          assert.equal(d.partialBytes, 0);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('refuses a message growing over its lane limit at the header of the frame that would cross it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(Lane.control, Lane.high, Lane.bulk),
        fc.integer({ min: 1, max: limits.maxFrameBytes }),
        (lane, frameBytes) => {
          const d = new FrameDecoder(limits, () => {});
          const max = laneLimit(lane);
          let held = 0;
          let flags = FLAG_START;
          for (;;) {
            const n = Math.min(frameBytes, limits.maxFrameBytes);
            const frame = Buffer.concat([header(n, lane, flags), Buffer.alloc(n)]);
            flags = 0;
            if (held + n > max) {
              assert.throws(
                () => d.push(frame),
                (err) => err instanceof ProtocolError && err.reason === 'message_too_large',
              );
              assert.equal(d.partialBytes, held);
              return;
            }
            d.push(frame);
            held += n;
            assert.equal(d.partialBytes, held);
          }
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });
});
