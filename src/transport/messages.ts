import { ProtocolError } from '../errors.ts';
import { Envelope } from './proto/wire.ts';

export type {
  Cancel,
  Credit,
  Goodbye,
  Hello,
  Ping,
  Pong,
  Request,
  Response,
} from './proto/wire.ts';

/** Version of the transport protocol spoken by this code, carried in Hello. */
export const PROTOCOL_VERSION = 1;

/**
 * Longest `app_digest` in a Hello, bytes: one a transport is given to send, and one a peer's
 * Hello may carry (a longer one is `bad_hello`).
 */
export const MAX_APP_DIGEST_BYTES = 64;

/** A decoded envelope: exactly one kind is set. */
export type WireMessage =
  | { kind: 'hello'; hello: NonNullable<Envelope['hello']> }
  | { kind: 'ping'; nonce: number }
  | { kind: 'pong'; nonce: number }
  | { kind: 'goodbye'; reason: string }
  | { kind: 'request'; request: NonNullable<Envelope['request']> }
  | { kind: 'response'; response: NonNullable<Envelope['response']> }
  | { kind: 'cancel'; id: number }
  | { kind: 'message'; body: Uint8Array }
  | { kind: 'credit'; bytes: number };

/** Encodes one wire message as an Envelope. */
export function encodeWire(msg: WireMessage): Uint8Array {
  switch (msg.kind) {
    case 'hello':
      return Envelope.encode({ hello: msg.hello });
    case 'ping':
      return Envelope.encode({ ping: { nonce: msg.nonce } });
    case 'pong':
      return Envelope.encode({ pong: { nonce: msg.nonce } });
    case 'goodbye':
      return Envelope.encode({ goodbye: { reason: msg.reason } });
    case 'request':
      return Envelope.encode({ request: msg.request });
    case 'response':
      return Envelope.encode({ response: msg.response });
    case 'cancel':
      return Envelope.encode({ cancel: { id: msg.id } });
    case 'message':
      return Envelope.encode({ message: msg.body as Uint8Array<ArrayBuffer> });
    case 'credit':
      return Envelope.encode({ credit: { bytes: msg.bytes } });
  }
}

/**
 * Decodes an Envelope. Anything that is not exactly one known kind, or does not parse, is a
 * {@link ProtocolError} with reason `undecodable`.
 */
export function decodeWire(bytes: Uint8Array): WireMessage {
  let env: Envelope;
  try {
    env = Envelope.decode(bytes);
  } catch (cause) {
    throw new ProtocolError(
      'undecodable',
      `undecodable transport message (${bytes.length} bytes)`,
      {
        cause,
      },
    );
  }
  const set: WireMessage[] = [];
  if (env.hello) set.push({ kind: 'hello', hello: env.hello });
  if (env.ping) set.push({ kind: 'ping', nonce: env.ping.nonce });
  if (env.pong) set.push({ kind: 'pong', nonce: env.pong.nonce });
  if (env.goodbye) set.push({ kind: 'goodbye', reason: env.goodbye.reason });
  if (env.request) set.push({ kind: 'request', request: env.request });
  if (env.response) set.push({ kind: 'response', response: env.response });
  if (env.cancel) set.push({ kind: 'cancel', id: env.cancel.id });
  if (env.message) set.push({ kind: 'message', body: env.message });
  if (env.credit) set.push({ kind: 'credit', bytes: env.credit.bytes });
  if (set.length !== 1) {
    throw new ProtocolError(
      'undecodable',
      `transport message must carry exactly one kind, found ${set.length}`,
    );
  }
  return set[0]!;
}
