/**
 * Retention: what a channel holds stays within maxSlots, maxBytes and maxAgeMs whatever its
 * peers send, a full channel makes room instead of refusing, one peer cannot take more than its
 * share, and what the application purged does not come back. Cores wired by hand, fake time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/broadcast/chunks/manifest.ts';
import { Retention } from '../../src/broadcast/core/retention.ts';
import {
  type ArtifactId,
  artifactId,
  BroadcastCore,
  type ChannelConfig,
  type CoreAction,
  CountingObserver,
  channelNumber,
  type DownloadLimits,
  encodeManifest,
  FetchRequest,
  InMemoryPool,
  manifestId,
  resolveChannel,
  resolveDownloadLimits,
  SlotUpdates,
} from '../../src/broadcast/index.ts';
import type { SlotUpdate } from '../../src/broadcast/proto/broadcast.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { simNodeIds } from '../../src/sim/ids.ts';
import { Rng } from '../../src/sim/rng.ts';
import { type ConnId, Lane } from '../../src/transport/index.ts';

const CH = 'consensus';
const MIN = 60_000;

function core(
  self: NodeId,
  cfg: Partial<ChannelConfig>,
  obs = new CountingObserver(),
  downloads: Partial<DownloadLimits> = {},
) {
  const channel = resolveChannel(CH, { lane: Lane.high, ...cfg });
  return new BroadcastCore({
    self,
    channels: new Map([[CH, channel]]),
    pools: new Map([[CH, new InMemoryPool()]]),
    downloads: resolveDownloadLimits(downloads),
    observer: obs,
  });
}

/** Inline pushes of `artifacts` from `peer` into `c`, in slots from `firstSlot`, validated at once. */
function push(
  c: BroadcastCore,
  peer: NodeId,
  artifacts: Uint8Array[],
  now: number,
  opts: { firstSlot?: number; commit?: number; ageMs?: number; attributes?: Uint8Array } = {},
): CoreAction[] {
  const updates: SlotUpdate[] = artifacts.map((a, i) => ({
    slot: (opts.firstSlot ?? 0) + i,
    commit: (opts.commit ?? 1) + i,
    inline: {
      artifact: a as Uint8Array<ArrayBuffer>,
      attributes: (opts.attributes ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>,
    },
    withdrawn: false,
    ...(opts.ageMs !== undefined ? { ageMs: opts.ageMs } : {}),
  }));
  const body = SlotUpdates.encode({ channel: channelNo(), updates });
  c.onUpdates(peer, 1 as ConnId, Lane.high, body, now);
  const out: CoreAction[] = [];
  for (const a of c.takeActions()) {
    if (a.type === 'validate') c.onValidated(a.token, 'accept', now);
    else out.push(a);
  }
  out.push(...c.takeActions());
  return out;
}

function channelNo(): number {
  return channelNumber(CH);
}

function setup(n: number, seed = 3) {
  const rng = new Rng(seed);
  return { rng, ids: simNodeIds(n, rng) };
}

describe('retention bookkeeping (Retention)', () => {
  const limits = { maxArtifacts: 8, maxBytes: 1000, maxAgeMs: MIN, peerShare: 0.25 };
  const rec = (key: string, owner: NodeId | 'self', size = 1, createdAt = 0) => ({
    key,
    id: key as ArtifactId,
    size,
    attributes: new Uint8Array(0),
    owner,
    createdAt,
  });

  it('a peer over its share loses its own oldest first', () => {
    const r = new Retention(limits);
    r.add(rec('f1', 'F' as NodeId));
    r.add(rec('f2', 'F' as NodeId));
    r.add(rec('h1', 'H' as NodeId));
    // peerShare 0.25 of 8: two artifacts per peer; a third from F evicts F's oldest.
    assert.deepEqual(
      r.victims('F' as NodeId, 1).map((v) => v.record.key),
      ['f1'],
    );
    assert.deepEqual(r.victims('H' as NodeId, 1), []);
  });

  it('when full, the owner holding the most loses its oldest (max-min fair)', () => {
    const r = new Retention({ ...limits, peerShare: 1 });
    for (let i = 0; i < 5; i++) r.add(rec(`a${i}`, 'A' as NodeId));
    for (let i = 0; i < 2; i++) r.add(rec(`b${i}`, 'B' as NodeId));
    r.add(rec('s0', 'self'));
    // Full (8): a ninth from B evicts A's oldest, not B's or this node's.
    assert.deepEqual(
      r.victims('B' as NodeId, 1).map((v) => v.record.key),
      ['a0'],
    );
    // Bytes: a 999-byte artifact of this node makes it the largest owner by bytes: its own
    // oldest goes first, then the largest owner's in turn (A, then B and A as they tie).
    const v = r.victims('self', 999).map((x) => x.record.key);
    assert.deepEqual(v, ['s0', 'a0', 'a1', 'a2', 'a3', 'b0', 'a4']);
  });

  it('expiry is by creation time, whatever the order of admission', () => {
    const r = new Retention(limits);
    r.add(rec('late', 'self', 1, 50_000));
    r.add(rec('early', 'self', 1, 0)); // admitted second, created first
    assert.equal(r.nextExpiry(), MIN);
    assert.deepEqual(
      r.expiredAt(MIN).map((x) => x.key),
      ['early'],
    );
    assert.equal(r.nextExpiry(), 50_000 + MIN);
  });
});

describe('retention in the core', () => {
  it('an artifact expires maxAgeMs after its broadcast: withdrawn, out of the pool, slot free', () => {
    const { rng, ids } = setup(2);
    const [a, b] = ids as [NodeId, NodeId];
    const sender = core(a, { maxAgeMs: MIN });
    sender.peerUp(b, 1 as ConnId, 0);
    sender.takeActions();
    const id = sender.add(CH, rng.bytes(100), {}, 0);
    const first = sender.takeActions();
    assert.ok(first.some((x) => x.type === 'wake' && x.at === MIN));
    sender.tick(MIN - 1);
    assert.ok(sender.get(CH, id));
    sender.tick(MIN);
    const actions = sender.takeActions();
    assert.deepEqual(
      actions.filter((x) => x.type === 'removed'),
      [{ type: 'removed', channel: CH, id, reason: 'expired' }],
    );
    const sent = actions.find((x) => x.type === 'send');
    assert.ok(sent?.type === 'send');
    assert.equal(SlotUpdates.decode(sent.body).updates[0]?.withdrawn, true);
    assert.equal(sender.get(CH, id), undefined);
    assert.equal(sender.channelStats(CH).slots.used, 0);
  });

  it('the age travels: a receiver expires it at the origin broadcast time, refuses one too old', () => {
    const { rng, ids } = setup(2);
    const [a, b] = ids as [NodeId, NodeId];
    const obs = new CountingObserver();
    const receiver = core(b, { maxAgeMs: MIN }, obs);
    receiver.peerUp(a, 1 as ConnId, 0);
    receiver.takeActions();
    const x = rng.bytes(100);
    push(receiver, a, [x], 1000, { ageMs: 40_000 });
    const [held] = receiver.list(CH).artifacts;
    assert.equal(held?.ageMs, 40_000);
    // Created at 1000 - 40 000: expires at MIN - 39 000 by the receiver's clock.
    receiver.tick(MIN - 39_000);
    assert.equal(receiver.list(CH).artifacts.length, 0);
    push(receiver, a, [rng.bytes(100)], 2000, { firstSlot: 5, commit: 10, ageMs: MIN });
    assert.equal(obs.get('adverts', { outcome: 'expired' }), 1);
    assert.equal(receiver.list(CH).artifacts.length, 0);
  });

  it('a sender relays the age it learnt, not zero', () => {
    const { rng, ids } = setup(3);
    const [a, b, c] = ids as [NodeId, NodeId, NodeId];
    const relayer = core(b, { maxAgeMs: MIN });
    relayer.peerUp(a, 1 as ConnId, 0);
    relayer.peerUp(c, 1 as ConnId, 0);
    relayer.takeActions();
    const actions = push(relayer, a, [rng.bytes(100)], 5000, { ageMs: 30_000 });
    // The relayed advert to c waits pushRelayDelayMs; release it.
    relayer.tick(10_000);
    const sends = [...actions, ...relayer.takeActions()].filter(
      (x) => x.type === 'send' && x.peer === c,
    );
    const update = sends
      .flatMap((s) => (s.type === 'send' ? SlotUpdates.decode(s.body).updates : []))
      .find((u) => u.advert);
    assert.equal(update?.ageMs, 35_000);
  });

  it('a full channel makes room: 3 x maxSlots own broadcasts never throw, the oldest go', () => {
    const { rng, ids } = setup(1);
    const c = core(ids[0]!, { maxSlots: 50 });
    const all: ArtifactId[] = [];
    for (let i = 0; i < 150; i++) all.push(c.add(CH, rng.bytes(64), {}, i));
    c.takeActions();
    const stats = c.channelStats(CH);
    assert.equal(stats.slots.used, 50);
    assert.equal(stats.held.artifacts, 50);
    assert.equal(c.get(CH, all[99]!), undefined);
    assert.ok(c.get(CH, all[100]!));
    assert.ok(c.get(CH, all[149]!));
  });

  it('bytes are bounded too: a channel over maxBytes evicts the largest owner first', () => {
    const { rng, ids } = setup(3);
    const [self, f, h] = ids as [NodeId, NodeId, NodeId];
    const obs = new CountingObserver();
    // 64 KiB artifacts pushed inline (urgent-sized threshold): maxBytes 1 MiB, share 256 KiB.
    const c = core(
      self,
      { maxBytes: 1 << 20, maxArtifactBytes: 64 << 10, pushThresholdBytes: 64 << 10 },
      obs,
    );
    c.peerUp(f, 1 as ConnId, 0);
    c.peerUp(h, 1 as ConnId, 0);
    c.takeActions();
    const honest = rng.bytes(64 << 10);
    push(c, h, [honest], 1);
    for (let i = 0; i < 40; i++)
      push(c, f, [rng.bytes(64 << 10)], 2 + i, { firstSlot: i, commit: i + 1 });
    const stats = c.channelStats(CH);
    assert.ok(stats.held.bytes <= 1 << 20);
    const fShare = stats.owners.find((o) => o.origin === f);
    assert.ok(fShare && fShare.bytes <= stats.perPeer.maxBytes);
    assert.ok(c.get(CH, c.list(CH).artifacts.find((x) => x.origin === h)!.id));
    assert.ok(obs.get('evicted', { peer: f }) >= 36);
    assert.equal(obs.get('evicted', { peer: h }), 0);
  });

  it('a flooding peer keeps at most its share of slots; honest peers and this node keep theirs', () => {
    const { rng, ids } = setup(3);
    const [self, f, h] = ids as [NodeId, NodeId, NodeId];
    const obs = new CountingObserver();
    const c = core(self, { maxSlots: 100, peerShare: 0.25 }, obs);
    c.peerUp(f, 1 as ConnId, 0);
    c.peerUp(h, 1 as ConnId, 0);
    c.takeActions();
    const own = Array.from({ length: 20 }, (_, i) => c.add(CH, rng.bytes(50), {}, i));
    push(
      c,
      h,
      Array.from({ length: 20 }, () => rng.bytes(50)),
      30,
    );
    // The flooder pushes 1000 junk artifacts, reusing its 100 slots at higher commits.
    // (50 per message: a message's inline artifacts beyond maxPendingValidations wait.)
    for (let round = 0; round < 20; round++) {
      const junk = Array.from({ length: 50 }, () => rng.bytes(50));
      push(c, f, junk, 40 + round, { firstSlot: (round % 2) * 50, commit: 1 + round * 50 });
    }
    const stats = c.channelStats(CH);
    assert.ok(stats.held.artifacts <= 100 && stats.slots.used <= 100);
    assert.equal(stats.owners.find((o) => o.origin === f)?.artifacts, 25);
    assert.equal(stats.owners.find((o) => o.origin === h)?.artifacts, 20);
    assert.equal(stats.owners.find((o) => o.origin === 'self')?.artifacts, 20);
    for (const id of own) assert.ok(c.get(CH, id));
    assert.equal(obs.get('evicted', { peer: f }), 975);
    // Honest artifacts still get in after the flood.
    assert.ok(c.get(CH, c.add(CH, rng.bytes(50), {}, 100)));
  });

  it('purge(predicate) removes what is held and wanted; purged ids are not fetched again', () => {
    const { rng, ids } = setup(2);
    const [self, p] = ids as [NodeId, NodeId];
    const obs = new CountingObserver();
    const c = core(self, { pushThresholdBytes: 10 }, obs);
    c.peerUp(p, 1 as ConnId, 0);
    c.takeActions();
    const keep = c.add(CH, rng.bytes(20), {}, 1);
    const drop = c.add(CH, rng.bytes(21), {}, 1);
    c.takeActions();
    // An advert (20 bytes > pushThreshold 10): wanted, fetch started.
    const advertised = rng.bytes(22);
    const wantId = artifactId(advertised);
    advertise(c, p, wantId, 22, 2, 1);
    const fetches = c.takeActions().filter((x) => x.type === 'fetch');
    assert.equal(fetches.length, 1);
    const n = c.purge(CH, (a) => a.id === drop || a.id === wantId, 3);
    assert.equal(n, 2);
    const after = c.takeActions();
    assert.ok(after.some((x) => x.type === 'cancel-fetch'));
    assert.ok(after.some((x) => x.type === 'removed' && x.id === drop && x.reason === 'purged'));
    assert.equal(c.get(CH, drop), undefined);
    assert.ok(c.get(CH, keep));
    // Idempotent.
    assert.equal(
      c.purge(CH, (a) => a.id === drop || a.id === wantId, 4),
      0,
    );
    // The peer advertises both again (new slots): neither is fetched.
    advertise(c, p, wantId, 22, 3, 2);
    advertise(c, p, drop, 21, 4, 3);
    c.tick(10_000);
    assert.equal(c.takeActions().filter((x) => x.type === 'fetch').length, 0);
  });

  it('purgeBelow sets a watermark: held artifacts below it go, later adverts below it are refused', () => {
    const { rng, ids } = setup(2);
    const [self, p] = ids as [NodeId, NodeId];
    const obs = new CountingObserver();
    const c = core(self, {}, obs);
    c.peerUp(p, 1 as ConnId, 0);
    c.takeActions();
    const at = (height: number) => new TextEncoder().encode(JSON.stringify({ height }));
    for (let h = 1; h <= 5; h++)
      push(c, p, [rng.bytes(30)], h, { firstSlot: h, commit: h, attributes: at(h) });
    assert.equal(c.list(CH).artifacts.length, 5);
    assert.equal(c.purgeBelow(CH, 'height', 4, 10), 3);
    assert.equal(c.list(CH).artifacts.length, 2);
    // Lower watermark later: nothing changes; it only rises.
    assert.equal(c.purgeBelow(CH, 'height', 2, 11), 0);
    assert.deepEqual(c.channelStats(CH).watermarks, { height: 4 });
    push(c, p, [rng.bytes(30)], 12, { firstSlot: 9, commit: 9, attributes: at(3) });
    assert.equal(obs.get('adverts', { outcome: 'purged' }), 1);
    push(c, p, [rng.bytes(30)], 13, { firstSlot: 10, commit: 10, attributes: at(6) });
    assert.equal(c.list(CH).artifacts.length, 3);
  });

  it('a chunked artifact broadcast with an age keeps it: it expires maxAgeMs after its first broadcast', () => {
    const { ids } = setup(1);
    const c = core(ids[0]!, { maxAgeMs: MIN });
    const chunkBytes = 1 << 20;
    const hashes = [0, 1].map((i) => sha256(new Uint8Array(chunkBytes).fill(i)));
    const manifest = encodeManifest({ chunkBytes, totalBytes: 2 * chunkBytes, hashes });
    const id = c.addChunked(CH, manifestId(manifest), manifest, new Uint8Array(0), 1000, 50_000);
    assert.equal(c.list(CH).artifacts[0]?.ageMs, 50_000);
    c.tick(1000 + MIN - 50_000 - 1);
    assert.ok(c.chunkedInfo(CH, id));
    c.tick(1000 + MIN - 50_000);
    assert.equal(c.chunkedInfo(CH, id), undefined);
    assert.throws(
      () => c.addChunked(CH, manifestId(manifest), manifest, new Uint8Array(0), 2000, MIN),
      { code: 'ERR_ARTIFACT_EXPIRED' },
    );
  });

  it('a flood of dismissals keeps maxDismissedIds: the oldest is forgotten, and a watermark needs no memory', () => {
    const { rng, ids } = setup(3);
    const [self, p, f] = ids as [NodeId, NodeId, NodeId];
    const c = core(self, { maxSlots: 40 }, new CountingObserver(), { maxDismissedIds: 10 });
    c.peerUp(p, 1 as ConnId, 0);
    c.peerUp(f, 1 as ConnId, 0);
    c.takeActions();
    const at = (height: number) => new TextEncoder().encode(JSON.stringify({ height }));
    const a = rng.bytes(30);
    const b = rng.bytes(31);
    push(c, p, [a], 1, { firstSlot: 0, commit: 1, attributes: at(5) });
    push(c, p, [b], 1, { firstSlot: 1, commit: 2, attributes: at(1) });
    assert.equal(
      c.purge(CH, (x) => x.id === artifactId(a), 2),
      1,
    );
    assert.equal(c.purgeBelow(CH, 'height', 2, 2), 1);
    // One member's flood: 50 junk pushes past its share (10 of 40), 40 evictions, 40 ids
    // dismissed: the memory keeps the last 10.
    for (let i = 0; i < 50; i++) push(c, f, [rng.bytes(20)], 3, { firstSlot: i, commit: i + 1 });
    // `p` advertises both again: the predicate-purged one is forgotten and fetched again; the
    // one below the watermark is refused by its attributes.
    for (const [bytes, slot, h] of [
      [a, 5, 5],
      [b, 6, 1],
    ] as const) {
      const body = SlotUpdates.encode({
        channel: channelNo(),
        updates: [
          {
            slot,
            commit: slot + 10,
            advert: {
              id: Buffer.from(artifactId(bytes), 'hex') as Uint8Array<ArrayBuffer>,
              size: bytes.length,
              attributes: at(h) as Uint8Array<ArrayBuffer>,
              pushed: false,
            },
            withdrawn: false,
          },
        ],
      });
      c.onUpdates(p, 1 as ConnId, Lane.high, body, 4);
    }
    const fetched = c
      .takeActions()
      .filter((x) => x.type === 'fetch')
      .map((x) => (x.type === 'fetch' ? FetchRequest.decode(x.body).id : undefined));
    assert.deepEqual(
      fetched.map((id) => Buffer.from(id!).toString('hex')),
      [artifactId(a)],
    );
  });

  it('list pages through everything held, in admission order, without repeats', () => {
    const { rng, ids } = setup(1);
    const c = core(ids[0]!, {});
    const added = Array.from({ length: 25 }, (_, i) => c.add(CH, rng.bytes(40), {}, i));
    const seen: ArtifactId[] = [];
    let after: number | undefined;
    for (;;) {
      const page = c.list(CH, { limit: 7, ...(after !== undefined ? { after } : {}) });
      seen.push(...page.artifacts.map((a) => a.id));
      if (page.next === undefined) break;
      after = page.next;
    }
    assert.deepEqual(seen, added);
  });

  it('an expired advert that is only wanted (not held) is dropped at the next re-evaluation', () => {
    const { rng, ids } = setup(2);
    const [self, p] = ids as [NodeId, NodeId];
    const obs = new CountingObserver();
    const c = core(self, { pushThresholdBytes: 10, maxAgeMs: MIN, priority: () => 'later' }, obs);
    c.peerUp(p, 1 as ConnId, 0);
    c.takeActions();
    advertise(c, p, artifactId(rng.bytes(50)), 50, 1, 1, 30_000);
    c.takeActions();
    assert.equal(c.channelStats(CH).wants, 1);
    c.tick(MIN - 30_000 + 1000);
    c.takeActions();
    assert.equal(c.channelStats(CH).wants, 0);
    assert.equal(obs.get('wants_removed', { reason: 'expired' }), 1);
  });
});

/** `peer` advertises `id` (`size` bytes) to `c` in `slot` at commit `commit`. */
function advertise(
  c: BroadcastCore,
  peer: NodeId,
  id: ArtifactId,
  size: number,
  slot: number,
  commit: number,
  ageMs = 0,
): void {
  const body = SlotUpdates.encode({
    channel: channelNo(),
    updates: [
      {
        slot,
        commit,
        advert: {
          id: Buffer.from(id, 'hex') as Uint8Array<ArrayBuffer>,
          size,
          attributes: new Uint8Array(0),
          pushed: false,
        },
        withdrawn: false,
        ageMs,
      },
    ],
  });
  c.onUpdates(peer, 1 as ConnId, Lane.high, body, 2);
}
