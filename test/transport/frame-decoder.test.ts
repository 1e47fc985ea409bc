import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/errors.ts';
import {
  FLAG_END,
  FLAG_START,
  FRAME_HEADER_BYTES,
  FrameDecoder,
} from '../../src/transport/frame.ts';
import { Lane } from '../../src/transport/lanes.ts';

const limits = { maxFrameBytes: 1024, maxMessageBytes: 4096, maxControlMessageBytes: 256 };

function frame(lane: number, flags: number, payload: Uint8Array | number, length?: number): Buffer {
  const body = typeof payload === 'number' ? Buffer.alloc(payload, 7) : Buffer.from(payload);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length ?? body.length, 0);
  header[4] = lane;
  header[5] = flags;
  return Buffer.concat([header, body]);
}

function decoder() {
  const out: { lane: number; message: Buffer }[] = [];
  const d = new FrameDecoder(limits, (lane, message) => out.push({ lane, message }));
  return { d, out };
}

function protocolReason(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `expected ProtocolError, got ${err}`);
    return err.reason;
  }
  assert.fail('expected a ProtocolError');
}

describe('frame decoder', () => {
  it('reassembles a message split across frames and arbitrary chunk boundaries', () => {
    const { d, out } = decoder();
    const msg = Buffer.from(Array.from({ length: 2500 }, (_, i) => i % 251));
    const wire = Buffer.concat([
      frame(Lane.bulk, FLAG_START, msg.subarray(0, 1024)),
      frame(Lane.high, FLAG_START | FLAG_END, Buffer.from('urgent')),
      frame(Lane.bulk, 0, msg.subarray(1024, 2048)),
      frame(Lane.bulk, FLAG_END, msg.subarray(2048)),
    ]);
    for (let i = 0; i < wire.length; i += 7) d.push(wire.subarray(i, i + 7));
    assert.equal(out.length, 2);
    assert.equal(out[0]!.lane, Lane.high);
    assert.equal(out[0]!.message.toString(), 'urgent');
    assert.equal(out[1]!.lane, Lane.bulk);
    assert.ok(out[1]!.message.equals(msg));
    assert.ok(d.atBoundary);
  });

  it('delivers an empty message', () => {
    const { d, out } = decoder();
    d.push(frame(Lane.high, FLAG_START | FLAG_END, 0));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.message.length, 0);
  });

  it('refuses an oversized length prefix before reading its payload', () => {
    const { d } = decoder();
    assert.equal(
      protocolReason(() => d.push(frame(Lane.bulk, 3, 0, 0xffffffff))),
      'frame_too_large',
    );
  });

  it('refuses a message over the message limit at the frame that crosses it', () => {
    const { d } = decoder();
    for (let i = 0; i < 4; i++) d.push(frame(Lane.bulk, i === 0 ? FLAG_START : 0, 1024));
    assert.equal(
      protocolReason(() => d.push(frame(Lane.bulk, 0, 1))),
      'message_too_large',
    );
    assert.equal(d.partialBytes, 4096);
  });

  it('holds control messages to their own, smaller limit', () => {
    const { d } = decoder();
    assert.equal(
      protocolReason(() => d.push(frame(Lane.control, 3, 257))),
      'message_too_large',
    );
  });

  it('refuses unknown lanes, unknown flags, orphan continuations and interleaving in a lane', () => {
    assert.equal(
      protocolReason(() => decoder().d.push(frame(3, 3, 1))),
      'bad_lane',
    );
    assert.equal(
      protocolReason(() => decoder().d.push(frame(1, 0x83, 1))),
      'bad_flags',
    );
    assert.equal(
      protocolReason(() => decoder().d.push(frame(1, FLAG_END, 1))),
      'orphan_frame',
    );
    const { d } = decoder();
    d.push(frame(1, FLAG_START, 1));
    assert.equal(
      protocolReason(() => d.push(frame(1, FLAG_START, 1))),
      'message_interleaved',
    );
  });

  it('stays failed after an error', () => {
    const { d } = decoder();
    protocolReason(() => d.push(frame(9, 3, 1)));
    assert.equal(
      protocolReason(() => d.push(frame(1, 3, 1))),
      'bad_lane',
    );
  });

  it('reports a truncated frame as not at a boundary', () => {
    const { d } = decoder();
    d.push(frame(Lane.high, 3, 100).subarray(0, 50));
    assert.equal(d.atBoundary, false);
  });

  it('reassembles a 64 MiB message from 1024 frames', () => {
    const big = {
      maxFrameBytes: 64 * 1024,
      maxMessageBytes: 64 * 1024 * 1024,
      maxControlMessageBytes: 1024,
    };
    let got: Buffer | undefined;
    const d = new FrameDecoder(big, (_lane, m) => {
      got = m;
    });
    const payload = Buffer.alloc(64 * 1024, 1);
    const frames = 1024; // 64 MiB
    for (let i = 0; i < frames; i++) {
      const flags = (i === 0 ? FLAG_START : 0) | (i === frames - 1 ? FLAG_END : 0);
      d.push(frame(Lane.bulk, flags, payload));
    }
    assert.equal(got?.length, 64 * 1024 * 1024);
  });
});
