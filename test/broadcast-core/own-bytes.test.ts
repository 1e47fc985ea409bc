import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ownBytes } from '../../src/broadcast/core/whole.ts';

describe('ownBytes (what an accepted artifact keeps of the message it came in)', () => {
  it('keeps a view that is nearly all of its buffer: a fetched artifact is not copied', () => {
    const message = new Uint8Array(1024 * 1024 + 24);
    const artifact = message.subarray(24);
    const kept = ownBytes(artifact);
    assert.equal(kept, artifact);
    assert.equal(kept.buffer, message.buffer);
  });

  it('copies a small view of a large buffer: inline artifacts do not pin their message', () => {
    const message = new Uint8Array(256 * 1024);
    message.fill(7);
    const artifact = message.subarray(1000, 2024);
    const kept = ownBytes(artifact);
    assert.notEqual(kept.buffer, message.buffer);
    assert.equal(kept.buffer.byteLength, 1024);
    assert.deepEqual(kept, artifact);
  });

  it('pins at most 4 KiB, or an eighth of the artifact, beyond it', () => {
    const small = new Uint8Array(5000);
    assert.equal(ownBytes(small.subarray(0, 904)).buffer, small.buffer, '4096 extra: kept');
    assert.notEqual(ownBytes(small.subarray(0, 903)).buffer, small.buffer, '4097 extra: copied');
    const large = new Uint8Array(90_000);
    assert.equal(ownBytes(large.subarray(0, 80_000)).buffer, large.buffer, '10 000 = 1/8: kept');
    assert.notEqual(ownBytes(large.subarray(0, 79_000)).buffer, large.buffer, 'over 1/8: copied');
  });
});
