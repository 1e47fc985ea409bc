/**
 * Fuzzing every message decoder a peer's bytes reach: the transport Envelope (and each message
 * in it), and the broadcast messages at the core's entry points (slot updates, fetch requests,
 * fetch responses). Arbitrary bytes and mutated valid encodings: the transport throws nothing
 * but a ProtocolError('undecodable'); the broadcast core throws nothing at all (it drops and
 * counts); and decoded byte fields are views into the input, never new allocations, so a
 * length prefix larger than the message is refused rather than allocated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LINK_SALT_BYTES, RECEIPT_BYTES } from '../../src/broadcast/core/receipts.ts';
import {
  BroadcastCore,
  CountingObserver,
  channelNumber,
  FetchRequest,
  FetchResponse,
  InMemoryPool,
  resolveChannel,
  resolveDownloadLimits,
  SlotUpdates,
} from '../../src/broadcast/index.ts';
import { ProtocolError } from '../../src/errors.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { type ConnId, concatParts, Lane } from '../../src/transport/index.ts';
import { decodeWire, encodeWire, type WireMessage } from '../../src/transport/messages.ts';
import {
  Cancel,
  Credit,
  Envelope,
  Goodbye,
  Hello,
  Ping,
  Pong,
  Request,
  Response,
} from '../../src/transport/proto/wire.ts';
import { encodeWireParts } from '../../src/transport/wire-parts.ts';

const SEED = 0x5eed_0a11;

const u64 = fc.maxSafeNat();
const u32 = fc.nat({ max: 0xffff_ffff });
const bytes = fc.uint8Array({ maxLength: 300 });
const text = fc.string({ maxLength: 40 });

const wireMessage: fc.Arbitrary<WireMessage> = fc.oneof(
  fc
    .record({
      protocolVersion: u32,
      nodeId: text,
      subnet: text,
      registryVersion: u64,
      bulkWindow: u64,
      appDigest: fc.uint8Array({ maxLength: 64 }),
    })
    .map((hello) => ({ kind: 'hello' as const, hello: { ...hello } })),
  u64.map((nonce) => ({ kind: 'ping' as const, nonce })),
  u64.map((nonce) => ({ kind: 'pong' as const, nonce })),
  text.map((reason) => ({ kind: 'goodbye' as const, reason })),
  fc
    .record({ id: u64, timeoutMs: u32, body: bytes })
    .map((r) => ({ kind: 'request' as const, request: { ...r } as Request })),
  fc
    .record({ id: u64, body: bytes, errorCode: text, errorMessage: text })
    .map((r) => ({ kind: 'response' as const, response: { ...r } as Response })),
  u64.map((id) => ({ kind: 'cancel' as const, id })),
  bytes.map((body) => ({ kind: 'message' as const, body })),
  u64.map((n) => ({ kind: 'credit' as const, bytes: n })),
);

/** Mutates `input`: flipped bytes, cut ranges, spliced junk, and huge length prefixes. */
const mutated = (valid: fc.Arbitrary<Uint8Array>) =>
  fc
    .tuple(
      valid,
      fc.array(
        fc.oneof(
          fc.record({ k: fc.constant(0), at: fc.nat(), v: fc.integer({ min: 1, max: 255 }) }),
          fc.record({ k: fc.constant(1), at: fc.nat(), v: fc.nat({ max: 16 }) }),
          fc.record({ k: fc.constant(2), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
          // A length prefix (varint) claiming up to 2^35 bytes.
          fc.record({ k: fc.constant(3), at: fc.nat(), v: fc.integer({ min: 1, max: 0x7f }) }),
        ),
        { minLength: 1, maxLength: 5 },
      ),
    )
    .map(([input, ms]) => {
      let b = Buffer.from(input);
      for (const m of ms) {
        const at = b.length === 0 ? 0 : m.at % b.length;
        if (m.k === 0 && b.length > 0) b[at] = b[at]! ^ m.v;
        else if (m.k === 1) b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.v)]);
        else if (m.k === 2)
          b = Buffer.concat([b.subarray(0, at), Buffer.from([m.v]), b.subarray(at)]);
        else {
          const varint = Buffer.from([0xff, 0xff, 0xff, 0xff, m.v]);
          b = Buffer.concat([b.subarray(0, at), varint, b.subarray(at)]);
        }
      }
      return new Uint8Array(b);
    });

const anyBytes = fc.uint8Array({ maxLength: 2048 });

/** Every Uint8Array reachable in `value` (decoded messages are plain objects). */
function byteFields(value: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (value instanceof Uint8Array) out.push(value);
  else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) byteFields(v, out);
  }
  return out;
}

/** Each non-empty byte field is a view into `input`'s memory: nothing was allocated for it. */
function viewsInto(input: Uint8Array, decoded: unknown): void {
  for (const f of byteFields(decoded)) {
    if (f.length === 0) continue;
    assert.equal(f.buffer, input.buffer, 'a decoded byte field was copied');
    assert.ok(f.byteOffset >= input.byteOffset);
    assert.ok(f.byteOffset + f.length <= input.byteOffset + input.length);
  }
}

function onlyUndecodable(input: Uint8Array): void {
  let decoded: WireMessage | undefined;
  try {
    decoded = decodeWire(input);
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `escaped: ${String(err)}`);
    assert.equal(err.reason, 'undecodable');
    return;
  }
  viewsInto(input, decoded);
}

describe('fuzz: transport messages', () => {
  it('every message round-trips (whole and as zero-copy parts)', () => {
    fc.assert(
      fc.property(wireMessage, (msg) => {
        assert.deepEqual(decodeWire(encodeWire(msg)), msg);
        const parts = Buffer.concat(encodeWireParts(msg));
        assert.deepEqual(decodeWire(new Uint8Array(parts)), msg);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('arbitrary bytes: the Envelope decoder throws only ProtocolError(undecodable)', () => {
    fc.assert(fc.property(anyBytes, onlyUndecodable), { seed: SEED, numRuns: 3000 });
  });

  it('mutated Envelopes: only ProtocolError(undecodable), byte fields are views', () => {
    fc.assert(fc.property(mutated(wireMessage.map((m) => encodeWire(m))), onlyUndecodable), {
      seed: SEED,
      numRuns: 3000,
    });
  });

  it('each transport message decoder, on arbitrary and mutated bytes, throws only Errors and copies nothing', () => {
    const decoders: [string, (b: Uint8Array) => unknown, fc.Arbitrary<Uint8Array>][] = [
      [
        'Hello',
        Hello.decode,
        wireMessage.map(() =>
          Hello.encode({
            protocolVersion: 1,
            nodeId: 'x',
            subnet: 's',
            registryVersion: 3,
            bulkWindow: 65_536,
          }),
        ),
      ],
      ['Ping', Ping.decode, u64.map((nonce) => Ping.encode({ nonce }))],
      ['Pong', Pong.decode, u64.map((nonce) => Pong.encode({ nonce }))],
      ['Goodbye', Goodbye.decode, text.map((reason) => Goodbye.encode({ reason }))],
      [
        'Request',
        Request.decode,
        fc
          .record({ id: u64, timeoutMs: u32, body: bytes })
          .map((r) => Request.encode(r as Request)),
      ],
      [
        'Response',
        Response.decode,
        fc
          .record({ id: u64, body: bytes, errorCode: text, errorMessage: text })
          .map((r) => Response.encode(r as Response)),
      ],
      ['Cancel', Cancel.decode, u64.map((id) => Cancel.encode({ id }))],
      ['Credit', Credit.decode, u64.map((n) => Credit.encode({ bytes: n }))],
      ['Envelope', Envelope.decode, wireMessage.map((m) => encodeWire(m))],
    ];
    for (const [name, decode, valid] of decoders) {
      fc.assert(
        fc.property(fc.oneof(anyBytes, mutated(valid)), (input) => {
          let decoded: unknown;
          try {
            decoded = decode(input);
          } catch (err) {
            assert.ok(err instanceof Error, `${name}: threw a non-Error ${String(err)}`);
            return;
          }
          viewsInto(input, decoded);
          // Numbers are safe integers: out-of-range uint64s are refused, not rounded.
          for (const v of Object.values(decoded as object)) {
            if (typeof v === 'number') assert.ok(Number.isSafeInteger(v), `${name}: ${v}`);
          }
        }),
        { seed: SEED, numRuns: 600 },
      );
    }
  });

  it('refuses a uint64 above 2^53 instead of rounding it (a credit of 2^64-1 bytes)', () => {
    const credit = Buffer.from([0x4a, 11, 0x08, ...Array(9).fill(0xff), 0x01]);
    assert.throws(
      () => decodeWire(credit),
      (err) => err instanceof ProtocolError && err.reason === 'undecodable',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Broadcast messages, through the core's entry points

const PEER = 'peer-under-test' as NodeId;
const CONN = 1 as ConnId;
const MAX_SLOTS = 64;
const MAX_UPDATES = 50;

function core() {
  const observer = new CountingObserver();
  const channels = new Map([
    [
      'consensus',
      resolveChannel('consensus', { lane: Lane.high, maxSlots: MAX_SLOTS, maxArtifactBytes: 4096 }),
    ],
    [
      'ingress',
      resolveChannel('ingress', { lane: Lane.bulk, maxSlots: MAX_SLOTS, maxArtifactBytes: 4096 }),
    ],
  ]);
  const c = new BroadcastCore({
    self: 'self' as NodeId,
    channels,
    pools: new Map([...channels.keys()].map((k) => [k, new InMemoryPool()])),
    downloads: resolveDownloadLimits({ maxPendingValidations: 8 }),
    messages: { maxUpdatesPerMessage: MAX_UPDATES },
    observer,
  });
  c.peerUp(PEER, CONN, 0);
  c.takeActions();
  return { c, observer };
}

const channelNo = fc.oneof(
  fc.constantFrom(channelNumber('consensus'), channelNumber('ingress')),
  u32,
);
const slotUpdate = fc.record(
  {
    slot: fc.oneof(fc.nat({ max: MAX_SLOTS + 5 }), u32),
    commit: u64,
    advert: fc.record({
      id: fc.oneof(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 40 }),
      ),
      size: fc.oneof(fc.nat({ max: 5000 }), u64),
      attributes: fc.uint8Array({ maxLength: 300 }),
      pushed: fc.boolean(),
    }),
    inline: fc.record({
      artifact: fc.uint8Array({ maxLength: 200 }),
      attributes: fc.uint8Array({ maxLength: 300 }),
    }),
    withdrawn: fc.boolean(),
  },
  { requiredKeys: ['slot', 'commit', 'withdrawn'] },
);
const slotUpdates = fc
  .record({
    channel: channelNo,
    updates: fc.array(slotUpdate, { maxLength: MAX_UPDATES + 5 }),
  })
  .map((m) => SlotUpdates.encode(m as unknown as SlotUpdates));

describe('fuzz: broadcast messages at the core', () => {
  it('slot updates (arbitrary, generated, mutated): the core never throws, every message is accounted for, its tables stay bounded', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(anyBytes, slotUpdates, mutated(slotUpdates)),
            fc.constantFrom(Lane.high, Lane.bulk),
          ),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        (messages) => {
          const { c, observer } = core();
          for (const [body, lane] of messages) {
            const dropped = observer.get('messages_dropped');
            const adverts = observer.get('adverts');
            let batch: SlotUpdates | undefined;
            try {
              batch = SlotUpdates.decode(body, { limits: { updates: MAX_UPDATES } });
            } catch {}
            c.onUpdates(PEER, CONN, lane, body, 1);
            // On the channel's lane only, whatever the message carries.
            const onLane =
              batch !== undefined &&
              ((batch.channel === channelNumber('consensus') && lane === Lane.high) ||
                (batch.channel === channelNumber('ingress') && lane === Lane.bulk));
            const badExtras =
              batch !== undefined &&
              (batch.receipts.length % RECEIPT_BYTES !== 0 ||
                batch.receipts.length / RECEIPT_BYTES > MAX_UPDATES ||
                (batch.linkSalt.length > 0 && batch.linkSalt.length !== LINK_SALT_BYTES));
            const known = onLane && !badExtras;
            if (!known) {
              // Undecodable, unknown channel, wrong lane, or malformed receipts or key half:
              // dropped whole, and counted once.
              assert.equal(observer.get('messages_dropped'), dropped + 1);
              assert.equal(observer.get('adverts'), adverts);
            } else {
              // Every update is counted with one outcome, except withdrawals that applied.
              const updates = batch!.updates;
              const withdrawals = updates.filter((u) => u.withdrawn && !u.advert && !u.inline);
              const counted = observer.get('adverts') - adverts;
              assert.ok(counted >= updates.length - withdrawals.length, `${counted} counted`);
              assert.ok(counted <= updates.length);
              assert.equal(observer.get('messages_dropped'), dropped);
            }
            const actions = c.takeActions();
            for (const a of actions) {
              if (a.type === 'validate') c.onValidated(a.token, 'accept', 2);
            }
            c.takeActions();
          }
          const stats = c.stats();
          // One peer: at most one advert kept per slot and channel.
          assert.ok(stats.wants <= 2 * MAX_SLOTS, `wants ${stats.wants}`);
          assert.ok(stats.validating <= 8);
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('a message with more updates than the limit is dropped whole, before decoding the rest', () => {
    const { c, observer } = core();
    const updates = Array.from({ length: MAX_UPDATES + 1 }, (_, i) => ({
      slot: i % MAX_SLOTS,
      commit: i + 1,
      withdrawn: true,
    }));
    c.onUpdates(
      PEER,
      CONN,
      Lane.high,
      SlotUpdates.encode({ channel: channelNumber('consensus'), updates }),
      1,
    );
    assert.equal(observer.get('messages_dropped', { reason: 'malformed' }), 1);
    assert.equal(observer.get('adverts'), 0);
  });

  it('fetch requests: serve() never throws and always answers a decodable FetchResponse', () => {
    const valid = fc
      .record({ channel: channelNo, id: fc.uint8Array({ maxLength: 40 }) })
      .map((r) => FetchRequest.encode(r));
    fc.assert(
      fc.property(
        fc.oneof(anyBytes, valid, mutated(valid)),
        fc.constantFrom(Lane.high, Lane.bulk, Lane.control),
        (body, lane) => {
          const { c } = core();
          const answer = FetchResponse.decode(concatParts(c.serve(lane, body)));
          assert.equal(answer.missing, true);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('fetch responses: onFetched() never throws; a bad body is a fault of that peer, never a delivery', () => {
    const valid = fc
      .record({ artifact: fc.uint8Array({ maxLength: 300 }), missing: fc.boolean() })
      .map((r) => FetchResponse.encode(r));
    const id = new Uint8Array(32).fill(7); // no body hashes to this
    fc.assert(
      fc.property(fc.oneof(anyBytes, valid, mutated(valid)), (body) => {
        const { c, observer } = core();
        c.onUpdates(
          PEER,
          CONN,
          Lane.bulk,
          SlotUpdates.encode({
            channel: channelNumber('ingress'),
            updates: [
              {
                slot: 0,
                commit: 1,
                advert: { id, size: 300, attributes: new Uint8Array(0), pushed: false },
                withdrawn: false,
              },
            ],
          }),
          1,
        );
        const fetch = c.takeActions().find((a) => a.type === 'fetch');
        assert.ok(fetch && fetch.type === 'fetch');
        c.onFetched(fetch.token, { ok: true, body }, 2);
        const after = c.takeActions();
        assert.ok(after.every((a) => a.type !== 'validate' && a.type !== 'deliver'));
        const faults = observer.get('peer_faults', { peer: PEER });
        const retried = observer.get('downloads', { outcome: 'retried' });
        assert.equal(faults + retried, 1, 'the response was neither a fault nor a retry');
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
