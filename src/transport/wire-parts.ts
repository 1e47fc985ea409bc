import type { Request, Response } from './messages.ts';
import { ENVELOPE_FIELD, encodeWire, type WireMessage } from './messages.ts';

/**
 * Zero-copy encoding of the Envelopes that carry application bytes. `encodeWire` copies the
 * body into a fresh buffer; for large bodies that copy (and the garbage it makes) costs a
 * large share of the link's throughput. Here the protobuf bytes *around* the body are written
 * by hand and the body is passed on by reference: the result is a list of parts whose
 * concatenation is exactly what `encodeWire` would produce (property-tested against it).
 */

/** Bodies at least this large are passed by reference; smaller ones are simply copied. */
export const ZERO_COPY_MIN_BYTES = 4096;

const WIRE_LEN = 2;
const WIRE_VARINT = 0;

/** Bytes of `n` as a protobuf varint. */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

class PrefixWriter {
  readonly bytes: Buffer;
  pos = 0;
  constructor(size: number) {
    this.bytes = Buffer.allocUnsafe(size);
  }
  varint(n: number): this {
    while (n >= 0x80) {
      this.bytes[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.bytes[this.pos++] = n;
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
}

/** Length of a varint field (tag + value), or 0 when the value is 0 (proto3 omits it). */
function varintField(field: number, value: number): number {
  return value === 0 ? 0 : varintLength(field * 8) + varintLength(value);
}

/** `id` (field 1) and optionally `timeout_ms` (field 2) of a Request/Response, then `body` (field 2 or 3)'s tag and length. */
function innerPrefix(
  fields: [number, number][],
  bodyField: number,
  bodyLength: number,
): { length: number; write: (w: PrefixWriter) => void } {
  let length = 0;
  for (const [f, v] of fields) length += varintField(f, v);
  const hasBody = bodyLength > 0;
  if (hasBody) length += varintLength(bodyField * 8) + varintLength(bodyLength);
  return {
    length,
    write: (w) => {
      for (const [f, v] of fields) if (v !== 0) w.tag(f, WIRE_VARINT).varint(v);
      if (hasBody) w.tag(bodyField, WIRE_LEN).varint(bodyLength);
    },
  };
}

/** Envelope field `envelopeField` holding a sub-message made of `inner` then the body (in parts). */
function nested(
  envelopeField: number,
  fields: [number, number][],
  bodyField: number,
  body: readonly Uint8Array[],
): Uint8Array[] {
  const bodyLength = partsLength(body);
  const inner = innerPrefix(fields, bodyField, bodyLength);
  const innerLength = inner.length + bodyLength;
  const w = new PrefixWriter(
    varintLength(envelopeField * 8) + varintLength(innerLength) + inner.length,
  );
  w.tag(envelopeField, WIRE_LEN).varint(innerLength);
  inner.write(w);
  return [w.bytes.subarray(0, w.pos), ...body];
}

/** A body in one buffer (parts are concatenated: for tests and the simulator). */
export function concatParts(body: Uint8Array | readonly Uint8Array[]): Uint8Array {
  return body instanceof Uint8Array ? body : Buffer.concat(body);
}

/** Total bytes of `parts`. */
export function partsLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/**
 * The parts of a successful Response envelope whose body is `body`'s parts, sent back to back:
 * a responder can answer with a header it wrote and an artifact it holds, neither copied.
 */
export function encodeResponseParts(id: number, body: readonly Uint8Array[]): Uint8Array[] {
  return nested(ENVELOPE_FIELD.response, [[1, id]], 2, body);
}

/**
 * The bytes of a length-delimited protobuf field `field` whose value is `length` bytes long
 * (its tag and length): written before a value that is passed on by reference.
 */
export function lengthDelimitedPrefix(field: number, length: number): Uint8Array {
  const w = new PrefixWriter(varintLength(field * 8) + varintLength(length));
  w.tag(field, WIRE_LEN).varint(length);
  return w.bytes;
}

/** Encodes `msg` as parts; large application bodies are not copied. */
export function encodeWireParts(msg: WireMessage): Uint8Array[] {
  switch (msg.kind) {
    case 'message': {
      if (msg.body.length < ZERO_COPY_MIN_BYTES) break;
      const w = new PrefixWriter(1 + varintLength(msg.body.length));
      w.tag(ENVELOPE_FIELD.message, WIRE_LEN).varint(msg.body.length);
      return [w.bytes.subarray(0, w.pos), msg.body];
    }
    case 'request': {
      const r: Request = msg.request;
      if (r.body.length < ZERO_COPY_MIN_BYTES) break;
      return nested(
        ENVELOPE_FIELD.request,
        [
          [1, r.id],
          [2, r.timeoutMs],
        ],
        3,
        [r.body],
      );
    }
    case 'response': {
      const r: Response = msg.response;
      if (r.body.length < ZERO_COPY_MIN_BYTES || r.errorCode || r.errorMessage) break;
      return nested(ENVELOPE_FIELD.response, [[1, r.id]], 2, [r.body]);
    }
    default:
      break;
  }
  return [encodeWire(msg)];
}
