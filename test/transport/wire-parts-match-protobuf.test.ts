import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FetchResponse } from '../../src/broadcast/index.ts';
import { decodeWire, encodeWire, type WireMessage } from '../../src/transport/messages.ts';
import { Envelope } from '../../src/transport/proto/wire.ts';
import {
  encodeResponseParts,
  encodeWireParts,
  lengthDelimitedPrefix,
  ZERO_COPY_MIN_BYTES,
} from '../../src/transport/wire-parts.ts';

const body = fc
  .integer({ min: 0, max: 3 * ZERO_COPY_MIN_BYTES })
  .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
const id = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);

const wireMessage: fc.Arbitrary<WireMessage> = fc.oneof(
  body.map((b) => ({ kind: 'message' as const, body: b })),
  fc.record({ id, timeoutMs: fc.integer({ min: 0, max: 2 ** 32 - 1 }), body }).map((request) => ({
    kind: 'request' as const,
    request: request as never,
  })),
  fc
    .record({
      id,
      body,
      errorCode: fc.constantFrom('', 'ERR_X'),
      errorMessage: fc.constantFrom('', 'why'),
    })
    .map((response) => ({ kind: 'response' as const, response: response as never })),
);

const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ maxLength: 40 });
/** Every kind of Envelope, as the generated `Envelope.encode` takes it and as `encodeWire` does. */
const pair = (envelope: Envelope, msg: WireMessage): [Envelope, WireMessage] => [envelope, msg];
const everyKind: fc.Arbitrary<[Envelope, WireMessage]> = fc.oneof(
  fc
    .record({
      protocolVersion: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      nodeId: text,
      subnet: text,
      registryVersion: u64,
      bulkWindow: u64,
      appDigest: fc.uint8Array({ maxLength: 64 }),
    })
    .map((hello) => pair({ hello }, { kind: 'hello', hello })),
  u64.map((nonce) => pair({ ping: { nonce } }, { kind: 'ping', nonce })),
  u64.map((nonce) => pair({ pong: { nonce } }, { kind: 'pong', nonce })),
  text.map((reason) => pair({ goodbye: { reason } }, { kind: 'goodbye', reason })),
  wireMessage.map((msg) => {
    if (msg.kind === 'message') return pair({ message: msg.body as Uint8Array<ArrayBuffer> }, msg);
    if (msg.kind === 'request') return pair({ request: msg.request }, msg);
    if (msg.kind === 'response') return pair({ response: msg.response }, msg);
    throw new Error('unexpected kind');
  }),
  u64.map((id) => pair({ cancel: { id } }, { kind: 'cancel', id })),
  u64.map((bytes) => pair({ credit: { bytes } }, { kind: 'credit', bytes })),
);

describe('encodeWire', () => {
  it('gives exactly the bytes of the generated Envelope codec, for every kind', () => {
    fc.assert(
      fc.property(everyKind, ([envelope, msg]) => {
        const ours = Buffer.from(encodeWire(msg));
        assert.deepEqual(ours, Buffer.from(Envelope.encode(envelope)));
        assert.deepEqual(decodeWire(ours), decodeWire(Buffer.from(Envelope.encode(envelope))));
      }),
      { numRuns: 1000, seed: 20261207 },
    );
  });
});

describe('zero-copy envelope parts', () => {
  it('concatenate to exactly the bytes protobuf encoding gives', () => {
    fc.assert(
      fc.property(wireMessage, (msg) => {
        const parts = encodeWireParts(msg);
        assert.deepEqual(Buffer.concat(parts), Buffer.from(encodeWire(msg)));
        assert.deepEqual(
          decodeWire(Buffer.concat(parts)),
          decodeWire(Buffer.from(encodeWire(msg))),
        );
      }),
      { numRuns: 500, seed: 20261124 },
    );
  });

  it('pass a large body by reference', () => {
    const big = new Uint8Array(1 << 20);
    const parts = encodeWireParts({ kind: 'message', body: big });
    assert.equal(parts.length, 2);
    assert.equal(parts[1], big);
  });

  it('encode a response whose body is in parts as protobuf would encode it whole', () => {
    fc.assert(
      fc.property(id, fc.array(body, { maxLength: 4 }), (rid, parts) => {
        const whole = Buffer.concat(parts);
        const response = { id: rid, body: whole, errorCode: '', errorMessage: '' };
        assert.deepEqual(
          Buffer.concat(encodeResponseParts(rid, parts)),
          Buffer.from(encodeWire({ kind: 'response', response })),
        );
      }),
      { numRuns: 300, seed: 20261124 },
    );
  });

  it('write a field header that, before the value, gives the protobuf encoding (FetchResponse)', () => {
    fc.assert(
      fc.property(body, (artifact) => {
        fc.pre(artifact.length > 0); // proto3 omits an empty field
        const parts = Buffer.concat([lengthDelimitedPrefix(1, artifact.length), artifact]);
        assert.deepEqual(parts, Buffer.from(FetchResponse.encode({ artifact, missing: false })));
      }),
      { numRuns: 300, seed: 20261124 },
    );
  });
});
