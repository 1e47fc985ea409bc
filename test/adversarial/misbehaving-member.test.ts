/**
 * Adversarial peers: a registered member (valid identity and certificate, lowest NodeId, so it
 * dials everyone) that speaks the wire protocol and misbehaves. For each misbehaviour:
 *
 * - the honest nodes still deliver every honest artifact (a round of consensus and ingress
 *   artifacts broadcast during the attack reaches every honest node, byte for byte);
 * - their memory stays under a stated bound (see `checkBounds`: adverts kept, downloads in
 *   flight, receive and send buffers, and the heap after a full GC);
 * - the misbehaviour is counted in a metric labelled with the adversary's NodeId.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type ArtifactId,
  channelNumber,
  type DeliveredArtifact,
  FetchResponse,
  SlotUpdates,
} from '../../src/broadcast/index.ts';
import type { SlotUpdate } from '../../src/broadcast/proto/broadcast.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { FLAG_START } from '../../src/transport/frame.ts';
import { Lane } from '../../src/transport/index.ts';
import { encodeWire } from '../../src/transport/messages.ts';
import { honestNodesAndAdversary, memoryAfterGc } from '../helpers/adversary.ts';
import {
  metricValue,
  NodeGroup,
  randomBytes,
  readUntil,
  SUBNET,
  sameBytes,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';
import { frame } from '../helpers/raw-peer.ts';
import { slow } from '../helpers/slowdown.ts';
import { linkUp, nextEvent } from '../helpers/subnet.ts';
import { advert, frames, WirePeer, withdrawal } from '../helpers/wire-peer.ts';

const HONEST = 3;
/** Slots per channel: also the most adverts a node keeps per peer and channel. */
const MAX_SLOTS = 500;
const MAX_CONCURRENT_DOWNLOADS = 32;
const MAX_RECEIVE_BUFFER = 24 * 1024 * 1024;
/** The heap may grow this much over the whole attack, after a full GC. Generous on purpose. */
const HEAP_GROWTH_BOUND = 128 * 1024 * 1024;

const heapUsed = () => memoryAfterGc().heapUsed;

const CHANNELS = {
  consensus: { lane: Lane.high, pushThresholdBytes: 1024, maxSlots: MAX_SLOTS },
  ingress: { lane: Lane.bulk, maxSlots: MAX_SLOTS },
};

const group = new NodeGroup();
let honest: TestBroadcastNode[];
let adversary: NodeIdentity;
let heapBefore: number;

before(async () => {
  ({ adversary, honest } = await honestNodesAndAdversary(group, HONEST, {
    channels: CHANNELS,
    downloads: {
      downloadTimeoutMs: 300,
      retryBaseMs: 50,
      retryMaxMs: 400,
      maxConcurrentDownloads: MAX_CONCURRENT_DOWNLOADS,
    },
  }));
  heapBefore = heapUsed();
});
after(() => group.stop());

/** Connects the adversary to every honest node; waits until each sees the link up. */
async function connectAll(): Promise<WirePeer[]> {
  return Promise.all(
    honest.map(async (h) => {
      const up = linkUp(h.node.transport, adversary.nodeId);
      const peer = await WirePeer.connect(h.address, adversary, SUBNET);
      await up;
      return peer;
    }),
  );
}

async function disconnectAll(peers: WirePeer[]): Promise<void> {
  await Promise.all(
    peers.map(async (p, i) => {
      const h = honest[i]!;
      const down =
        h.node.transport.connId(adversary.nodeId) === undefined
          ? undefined
          : nextEvent(
              h.node.transport,
              (e) => e.type === 'peer-down' && e.peer === adversary.nodeId,
            );
      p.close();
      await down;
    }),
  );
}

/**
 * An honest round: honest node `origin` broadcasts consensus (inline) and ingress (advertised,
 * fetched) artifacts; resolves when every other honest node delivered them all, byte for byte.
 */
async function honestRound(origin = 0, count = 4): Promise<void> {
  const receivers = honest.filter((_, i) => i !== origin);
  const streams = receivers.map((h) => ({
    consensus: h.node.channel('consensus').received(),
    ingress: h.node.channel('ingress').received(),
  }));
  const sent = new Map<ArtifactId, Uint8Array>();
  const o = honest[origin]!.node;
  for (let i = 0; i < count; i++) {
    const c = randomBytes(200);
    sent.set(o.channel('consensus').broadcast(c), c);
    const g = randomBytes(40_000);
    sent.set(o.channel('ingress').broadcast(g), g);
  }
  const ids = [...sent.keys()];
  const has = (seen: DeliveredArtifact[], id: ArtifactId) => seen.some((a) => a.id === id);
  await Promise.all(
    streams.map(async (s) => {
      const [c, g] = await Promise.all([
        readUntil(s.consensus, (seen) => ids.filter((id) => has(seen, id)).length >= count),
        readUntil(s.ingress, (seen) => ids.filter((id) => has(seen, id)).length >= count),
      ]);
      for (const a of [...c, ...g]) {
        const bytes = sent.get(a.id);
        if (bytes) assert.ok(sameBytes(a.bytes, bytes), `artifact ${a.id} differs`);
      }
      await s.consensus.return?.();
      await s.ingress.return?.();
    }),
  );
}

/** The stated memory bounds of every honest node, checked now. */
async function checkBounds(): Promise<void> {
  for (const h of honest) {
    const m = h.node.metrics;
    const wants = await metricValue(m, 'subnet_p2p_broadcast_wants');
    // Per peer and channel at most MAX_SLOTS adverts are kept; the adversary is one peer of
    // three, in two channels. Honest wants are few at any time.
    assert.ok(wants <= 2 * MAX_SLOTS + 100, `wants ${wants}`);
    const downloading = await metricValue(m, 'subnet_p2p_broadcast_downloading');
    assert.ok(downloading <= MAX_CONCURRENT_DOWNLOADS, `downloading ${downloading}`);
    const links = HONEST; // the other honest nodes and the adversary
    const received = await metricValue(m, 'subnet_p2p_transport_receive_buffered_bytes');
    assert.ok(received <= links * MAX_RECEIVE_BUFFER, `receive buffered ${received}`);
    const queued = await metricValue(m, 'subnet_p2p_transport_send_queue_bytes');
    assert.ok(queued <= links * (1 + 32 + 64) * 1024 * 1024, `send queues ${queued}`);
  }
  const growth = heapUsed() - heapBefore;
  assert.ok(growth <= HEAP_GROWTH_BOUND, `heap grew by ${growth} bytes`);
}

/** A counter at honest node `i`, for the adversary. */
function counted(i: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(honest[i]!.node.metrics, name, { ...labels, peer: adversary.nodeId });
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

describe('a member that misbehaves', () => {
  it('serves wrong bytes for its adverts: bad_hash against it, honest artifacts delivered', {
    timeout: slow(60_000),
  }, async () => {
    const peers = await connectAll();
    // Its own artifacts: advertised with the id of one content, served with another.
    const real = Array.from({ length: 5 }, () => cryptoRandomBytes(20_000));
    for (const p of peers) {
      p.onRequest = () => {
        // FetchResponse { artifact: 20 000 random bytes }
        const junk = cryptoRandomBytes(20_000);
        return Buffer.concat([Buffer.from([0x0a, 0xa0, 0x9c, 0x01]), junk]);
      };
      // Every honest artifact it hears of, it advertises too (and serves wrongly).
      let slot = 100;
      p.onUpdates = (batch) => {
        const ads = batch.updates.flatMap((u) =>
          u.advert ? [advert(slot, 1000 + slot++, u.advert.id, u.advert.size)] : [],
        );
        const lane = batch.channel === channelNumber('consensus') ? Lane.high : Lane.bulk;
        if (ads.length > 0) {
          p.send(lane, { kind: 'message', body: encodeBatch(batch.channel, ads) });
        }
      };
      p.sendUpdates(
        'ingress',
        Lane.bulk,
        real.map((r, i) => advert(i, i + 1, sha256(r), r.length)),
      );
    }
    await honestRound();
    for (let i = 0; i < HONEST; i++) {
      await nextCount(i, 'subnet_p2p_broadcast_peer_faults_total', { reason: 'bad_hash' }, 5);
    }
    // None of its wrong bytes was delivered.
    for (const h of honest) {
      for (const r of real) {
        const id = sha256(r).toString('hex') as ArtifactId;
        assert.equal(h.node.channel('ingress').get(id), undefined);
      }
    }
    await checkBounds();
    await disconnectAll(peers);
  });

  it('advertises endlessly (fresh ids, slots beyond the table): adverts kept stay bounded, over_limit against it', {
    timeout: slow(60_000),
  }, async () => {
    const peers = await connectAll();
    const target = peers[0]!;
    target.onRequest = () => Buffer.from([0x10, 0x01]); // FetchResponse { missing: true }
    let commit = 1;
    for (let round = 0; round < 20; round++) {
      const updates = Array.from({ length: 1000 }, (_, i) =>
        advert((round * 1000 + i) % (MAX_SLOTS + 50), commit++, cryptoRandomBytes(32), 10_000),
      );
      target.sendUpdates('ingress', Lane.bulk, updates);
      await target.drained();
    }
    await target.roundTrip();
    await checkBounds();
    const wants = await metricValue(honest[0]!.node.metrics, 'subnet_p2p_broadcast_wants');
    assert.ok(wants <= MAX_SLOTS + 100, `wants ${wants}`);
    assert.ok(
      (await counted(0, 'subnet_p2p_broadcast_adverts_total', { outcome: 'over_limit' })) >=
        20 * 50,
    );
    await honestRound();
    await disconnectAll(peers);
  });

  it('advertises artifacts of enormous size: refused as oversized against it, nothing fetched', {
    timeout: slow(60_000),
  }, async () => {
    const peers = await connectAll();
    const target = peers[0]!;
    const sizes = [4 * 1024 * 1024 + 1, 2 ** 40, Number.MAX_SAFE_INTEGER];
    target.sendUpdates(
      'ingress',
      Lane.bulk,
      sizes.map((size, i) => advert(i, i + 1, cryptoRandomBytes(32), size)),
    );
    await target.roundTrip();
    assert.equal(
      await counted(0, 'subnet_p2p_broadcast_adverts_total', { outcome: 'oversized' }),
      3,
    );
    assert.equal(target.requests.length, 0);
    await honestRound();
    await checkBounds();
    await disconnectAll(peers);
  });

  it('never answers a fetch, or answers a byte at a time: timeouts against it, delivery unaffected', {
    timeout: slow(60_000),
  }, async () => {
    const peers = await connectAll();
    const [silent, trickle] = [peers[0]!, peers[1]!];
    const artifact = cryptoRandomBytes(5000);
    const id = sha256(artifact);
    silent.onRequest = () => undefined;
    let trickling: NodeJS.Timeout | undefined;
    // One byte every 400 ms: inside the 1 s idle timeout of these tests, as a byte per second is
    // inside the default 5 s. Nothing else may be written meanwhile (it would break the frame).
    trickle.onRequest = (lane, req) => {
      if (trickling) return undefined;
      trickle.muted = true;
      const response = frames(lane, encodeResponse(req.id, artifact));
      let at = 0;
      trickling = setInterval(() => {
        if (at >= response.length || trickle.closed) clearInterval(trickling);
        else trickle.write(response.subarray(at, ++at));
      }, 400);
      trickling.unref();
      return undefined;
    };
    for (const p of [silent, trickle])
      p.sendUpdates('ingress', Lane.bulk, [advert(0, 1, id, artifact.length)]);
    await honestRound();
    // Each gave up on its fetch (a Cancel came back) and counted the timeout against the peer.
    for (const [i, p] of [
      [0, silent],
      [1, trickle],
    ] as const) {
      await nextCount(i, 'subnet_p2p_broadcast_fetch_failures_total', { reason: 'timeout' }, 1);
      assert.ok(p.requests.length >= 1);
    }
    // The byte-per-second peer keeps its link (bytes keep coming) but holds at most one frame.
    await checkBounds();
    clearInterval(trickling);
    await disconnectAll(peers);
  });

  it('replays old slot updates: ignored as stale against it; a withdrawn advert stays withdrawn', {
    timeout: slow(60_000),
  }, async () => {
    const peers = await connectAll();
    const target = peers[0]!;
    target.onRequest = () => undefined;
    const id = cryptoRandomBytes(32);
    target.sendUpdates('ingress', Lane.bulk, [advert(3, 10, id, 1000)]);
    target.sendUpdates('ingress', Lane.bulk, [withdrawal(3, 11)]);
    await target.roundTrip();
    const stale = await counted(0, 'subnet_p2p_broadcast_adverts_total', { outcome: 'stale' });
    const wants = await metricValue(honest[0]!.node.metrics, 'subnet_p2p_broadcast_wants');
    for (let i = 0; i < 5; i++) target.sendUpdates('ingress', Lane.bulk, [advert(3, 10, id, 1000)]);
    await target.roundTrip();
    assert.equal(
      await counted(0, 'subnet_p2p_broadcast_adverts_total', { outcome: 'stale' }),
      stale + 5,
    );
    assert.equal(await metricValue(honest[0]!.node.metrics, 'subnet_p2p_broadcast_wants'), wants);
    await honestRound();
    await checkBounds();
    await disconnectAll(peers);
  });

  it('sends maximum-size frames in a loop: 8 MiB junk messages dropped as malformed against it, then message_too_large closes it', {
    timeout: slow(60_000),
  }, async () => {
    const peers = await connectAll();
    const target = peers[0]!;
    const junk = cryptoRandomBytes(8 * 1024 * 1024 - 16);
    junk[0] = 0xff; // not a SlotUpdates
    const rounds = 4;
    const traffic = honestRound();
    for (let i = 0; i < rounds; i++) {
      target.send(Lane.bulk, { kind: 'message', body: junk });
      await target.drained();
    }
    await target.roundTrip();
    assert.equal(
      await counted(0, 'subnet_p2p_broadcast_messages_dropped_total', { reason: 'malformed' }),
      rounds,
    );
    await checkBounds();
    // Then one message that grows past the message limit: a protocol error against it.
    const closed = target.whenClosed();
    const chunk = Buffer.alloc(64 * 1024);
    target.write(frame(Lane.bulk, FLAG_START, chunk));
    for (let i = 0; i < 130 && !target.closed; i++) target.write(frame(Lane.bulk, 0, chunk));
    await closed;
    assert.equal(
      await counted(0, 'subnet_p2p_transport_protocol_errors_total', {
        reason: 'message_too_large',
      }),
      1,
    );
    await traffic;
    await checkBounds();
    await disconnectAll(peers);
  });

  it('sends undecodable or out-of-range fields: each counted against it; the link survives broadcast-level ones', {
    timeout: slow(60_000),
  }, async () => {
    const peers = await connectAll();
    const target = peers[0]!;
    const dropped = (reason: string) =>
      counted(0, 'subnet_p2p_broadcast_messages_dropped_total', { reason });
    const adverts = (outcome: string) =>
      counted(0, 'subnet_p2p_broadcast_adverts_total', { outcome });
    const before = {
      malformedMsg: await dropped('malformed'),
      unknown: await dropped('unknown_channel'),
      wrongLane: await dropped('wrong_lane'),
      malformed: await adverts('malformed'),
      overLimit: await adverts('over_limit'),
    };
    target.send(Lane.bulk, { kind: 'message', body: Buffer.from([0x12, 0xff, 0xff, 0xff]) });
    target.send(Lane.bulk, {
      kind: 'message',
      body: encodeBatch(12345, [withdrawal(0, 1)]),
    });
    target.sendUpdates('ingress', Lane.high, [withdrawal(0, 1)]); // ingress is a bulk channel
    target.sendUpdates('ingress', Lane.bulk, [
      advert(1, 2, cryptoRandomBytes(31), 100), // id not 32 bytes
      advert(2, 3, cryptoRandomBytes(32), 100, new Uint8Array(300)), // attributes > 256
      { slot: 4, commit: 4, withdrawn: false }, // no kind
      advert(2 ** 32 - 1, 5, cryptoRandomBytes(32), 100), // slot beyond the table
    ]);
    await target.roundTrip();
    assert.equal(await dropped('malformed'), before.malformedMsg + 1);
    assert.equal(await dropped('unknown_channel'), before.unknown + 1);
    assert.equal(await dropped('wrong_lane'), before.wrongLane + 1);
    assert.equal(await adverts('malformed'), before.malformed + 3);
    assert.equal(await adverts('over_limit'), before.overLimit + 1);
    assert.ok(!target.closed);
    // Transport-level: an undecodable envelope, and a uint64 beyond 2^53, close the link.
    for (const [peer, bytes] of [
      [peers[1]!, Buffer.from([0xff, 0xff, 0xff])],
      [peers[2]!, Buffer.from([0x4a, 11, 0x08, ...Array(9).fill(0xff), 0x01])],
    ] as const) {
      const closed = peer.whenClosed();
      peer.write(frame(Lane.control, 3, bytes));
      await closed;
    }
    for (const i of [1, 2]) {
      assert.equal(
        await counted(i, 'subnet_p2p_transport_protocol_errors_total', { reason: 'undecodable' }),
        1,
      );
    }
    await honestRound();
    await checkBounds();
    await disconnectAll(peers);
  });

  it('connects and disconnects in a tight loop: churn counted against it, nothing leaks', {
    timeout: slow(60_000),
  }, async () => {
    const target = honest[0]!;
    const closedBefore = await counted(0, 'subnet_p2p_transport_links_closed_total');
    const traffic = honestRound();
    const LOOPS = 60;
    for (let i = 0; i < LOOPS; i++) {
      const up = linkUp(target.node.transport, adversary.nodeId);
      const p = await WirePeer.connect(target.address, adversary, SUBNET);
      await up;
      const down = nextEvent(
        target.node.transport,
        (e) => e.type === 'peer-down' && e.peer === adversary.nodeId,
      );
      p.close();
      await down;
    }
    await traffic;
    assert.equal(await counted(0, 'subnet_p2p_transport_links_closed_total'), closedBefore + LOOPS);
    // Nothing of the adversary is left behind: no link, no adverts, no downloads.
    assert.equal(target.node.transport.connId(adversary.nodeId), undefined);
    assert.equal(
      await metricValue(target.node.metrics, 'subnet_p2p_broadcast_peers_up'),
      HONEST - 1,
    );
    await checkBounds();
  });
});

// ---------------------------------------------------------------------------------------------

function encodeBatch(channel: number, updates: SlotUpdate[]): Uint8Array {
  return SlotUpdates.encode({ channel, updates });
}

/** A whole Response envelope answering request `id` with `artifact`. */
function encodeResponse(id: number, artifact: Uint8Array): Uint8Array {
  const body = FetchResponse.encode({
    artifact: artifact as Uint8Array<ArrayBuffer>,
    missing: false,
  });
  return encodeWire({ kind: 'response', response: { id, body, errorCode: '', errorMessage: '' } });
}

/** Resolves once the counter (for the adversary) at honest node `i` reaches `atLeast`. */
async function nextCount(
  i: number,
  name: string,
  labels: Record<string, string>,
  atLeast: number,
): Promise<void> {
  // Counters have no events: re-read every 10 ms until the condition holds, with a deadline so
  // that a failure is reported rather than hanging.
  const deadline = performance.now() + slow(20_000);
  while ((await counted(i, name, labels)) < atLeast) {
    if (performance.now() > deadline) {
      assert.fail(`${name} ${JSON.stringify(labels)} stayed below ${atLeast} at node ${i}`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}
