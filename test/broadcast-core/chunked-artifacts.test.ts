import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  channelNumber,
  encodeManifest,
  FetchResponse,
  manifestId,
  SlotUpdates,
} from '../../src/broadcast/index.ts';
import type { ArtifactId } from '../../src/broadcast/types.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { type ConnId, Lane } from '../../src/transport/index.ts';
import { CHANNEL, ChunkMesh, isChunkFetch } from '../helpers/chunk-mesh.ts';

const CHUNK = 1024;
const CHUNKING = {
  thresholdBytes: CHUNK,
  chunkBytes: CHUNK,
  maxChunkBytes: 4 * CHUNK,
  maxManifestBytes: 17 + 32 * 1024, // 1 MiB of 1 KiB chunks
};

function allDelivered(mesh: ChunkMesh, ids: readonly ArtifactId[], except: NodeId[] = []) {
  return mesh.ids.every(
    (n) =>
      except.includes(n) || ids.every((id) => mesh.node(n).core.chunkedInfo(CHANNEL, id)?.complete),
  );
}

describe('chunked artifacts (core)', () => {
  it('a peer serving wrong chunk bytes is counted faulty, and the chunks come from another', () => {
    for (const seed of [1, 2, 3]) {
      const mesh = new ChunkMesh({
        n: 3,
        seed,
        chunking: CHUNKING,
        downloads: { maxChunksPerPeer: 2 },
      });
      const [origin, liar, victim] = mesh.ids as [NodeId, NodeId, NodeId];
      const bytes = mesh.rng.bytes(40 * CHUNK + 100);
      // Both hold it whole and advertise it; the liar serves every chunk with a byte flipped.
      const id = mesh.broadcast(origin, bytes, CHUNK);
      assert.equal(mesh.broadcast(liar, bytes, CHUNK), id);
      mesh.node(liar).corrupt = true;
      mesh.fullMesh();
      assert.ok(
        mesh.run(() => allDelivered(mesh, [id])),
        `seed ${seed}`,
      );
      const obs = mesh.node(victim).observer;
      const faults = obs.get('peer_faults', { peer: liar, reason: 'bad_hash' });
      assert.ok(faults >= 1 && faults <= 2, `seed ${seed}: ${faults} faults (at most 2 in flight)`);
      assert.equal(obs.get('peer_faults'), faults, 'no fault against the honest origin');
      assert.equal(obs.get('chunks', { outcome: 'faulty' }), faults);
      assert.equal(mesh.node(liar).chunksServed, faults, 'the liar is not asked again');
      assert.ok(mesh.bytesOf(victim, id, 41)!.equals(bytes), 'byte-identical');
      assert.equal(mesh.node(victim).delivered.length, 1);
    }
  });

  it('keeps chunks in flight within maxChunksInFlight and maxChunksPerPeer', () => {
    const limits = { maxChunksInFlight: 5, maxChunksPerPeer: 2 };
    const mesh = new ChunkMesh({ n: 6, seed: 4, chunking: CHUNKING, downloads: limits });
    let maxTotal = 0;
    let maxPerPeer = 0;
    mesh.onStep = () => {
      for (const n of mesh.ids) {
        const { total, perPeer } = mesh.inflight(n);
        maxTotal = Math.max(maxTotal, total);
        maxPerPeer = Math.max(maxPerPeer, ...perPeer.values(), 0);
      }
    };
    const bytes = mesh.rng.bytes(100 * CHUNK);
    const id = mesh.broadcast(mesh.ids[0]!, bytes, CHUNK);
    mesh.fullMesh();
    assert.ok(mesh.run(() => allDelivered(mesh, [id])));
    assert.equal(maxTotal, 5, 'the overall bound is reached, never passed');
    assert.equal(maxPerPeer, 2, 'the per-peer bound is reached, never passed');
    for (const n of mesh.ids) assert.ok(mesh.bytesOf(n, id, 100)!.equals(bytes));
  });

  it('downloads at most maxChunkedDownloads chunked artifacts at once', () => {
    const mesh = new ChunkMesh({
      n: 2,
      seed: 5,
      chunking: CHUNKING,
      downloads: { maxChunkedDownloads: 2 },
    });
    const [origin, receiver] = mesh.ids as [NodeId, NodeId];
    const ids = Array.from({ length: 6 }, () =>
      mesh.broadcast(origin, mesh.rng.bytes(8 * CHUNK), CHUNK),
    );
    let max = 0;
    mesh.onStep = () => {
      const manifests = mesh.fetches.filter((f) => f.from === receiver && !isChunkFetch(f)).length;
      const partial = ids.filter((id) => {
        const info = mesh.node(receiver).core.chunkedInfo(CHANNEL, id);
        return info !== undefined && !info.complete;
      }).length;
      max = Math.max(max, manifests + partial);
    };
    mesh.fullMesh();
    assert.ok(mesh.run(() => allDelivered(mesh, ids)));
    assert.equal(max, 2);
  });

  it('an artifact held in part that nobody offers any more is evicted to make room', () => {
    const mesh = new ChunkMesh({
      n: 2,
      seed: 10,
      chunking: CHUNKING,
      downloads: { maxChunkedDownloads: 1, downloadTimeoutMs: 5000 },
    });
    const [origin, receiver] = mesh.ids as [NodeId, NodeId];
    const first = mesh.broadcast(origin, mesh.rng.bytes(64 * CHUNK), CHUNK);
    mesh.fullMesh();
    const info = (id: ArtifactId) => mesh.node(receiver).core.chunkedInfo(CHANNEL, id);
    assert.ok(mesh.run(() => (info(first)?.chunksDone ?? 0) >= 4));
    // The origin aborts it half-way: the receiver holds part of it, and nobody offers the rest.
    mesh.node(origin).core.abort(CHANNEL, first, mesh.now);
    const second = mesh.broadcast(origin, mesh.rng.bytes(8 * CHUNK), CHUNK);
    const evictedAt = mesh.now;
    assert.ok(mesh.run(() => info(second)?.complete === true));
    assert.equal(info(first), undefined, 'the dormant one was forgotten');
    assert.ok(mesh.now - evictedAt >= 5000, 'only after downloadTimeoutMs idle');
    assert.equal(mesh.node(receiver).observer.get('chunks', { outcome: 'evicted' }), 1);
    assert.equal(mesh.node(receiver).store.has(first), false, 'and dropped from the store');
  });

  /** One artifact of `chunks` chunks from node 0 of `n` to all (full mesh); the origin's node. */
  function broadcastToAll(seed: number, n: number, chunks: number, stepMs?: number) {
    const mesh = new ChunkMesh({ n, seed, chunking: CHUNKING, ...(stepMs ? { stepMs } : {}) });
    const origin = mesh.ids[0]!;
    const id = mesh.broadcast(origin, mesh.rng.bytes(chunks * CHUNK), CHUNK);
    mesh.fullMesh();
    assert.ok(
      mesh.run(() => allDelivered(mesh, [id])),
      `seed ${seed}`,
    );
    return mesh.node(origin);
  }

  it('the origin uploads about one copy: chunks only it has are asked by their share owner', () => {
    for (const seed of [6, 7]) {
      const ratio = broadcastToAll(seed, 9, 128).chunksServed / 128;
      assert.ok(ratio <= 1.25, `seed ${seed}: origin upload ratio ${ratio}`);
    }
  });

  it('shares are even: each node asks the origin for about 1/(n-1) of the chunks', () => {
    for (const seed of [6, 7, 8]) {
      const perNode = [...broadcastToAll(seed, 13, 120).servedTo.values()];
      // 12 receivers: shares of 10 chunks (a few more where a chunk was asked again).
      assert.ok(Math.max(...perNode) <= 12, `seed ${seed}: origin served ${perNode.join(' ')}`);
    }
  });

  it('on slow links too: a share owner whose chunks take long to come is not taken for silent', () => {
    // 100 ms per completed fetch: with the origin serving 32 chunk requests at once, a chunk
    // takes seconds to reach its owner, longer than chunkOwnerSilenceMs (2 s).
    for (const seed of [6, 7]) {
      const ratio = broadcastToAll(seed, 9, 128, 100).chunksServed / 128;
      assert.ok(ratio <= 1.25, `seed ${seed}: origin upload ratio ${ratio}`);
    }
  });
});

describe('chunked adverts and manifests from a lying peer', () => {
  /** A receiver core and a fake peer `liar` that sends it raw updates. */
  function receiverOf(seed: number) {
    const mesh = new ChunkMesh({
      n: 2,
      seed,
      chunking: CHUNKING,
    });
    const [liar, receiver] = mesh.ids as [NodeId, NodeId];
    const core = mesh.node(receiver).core;
    core.peerUp(liar, 1 as ConnId, 0);
    core.takeActions();
    let commit = 1;
    const advertise = (id: Uint8Array, size: number, manifestSize: number) => {
      core.onUpdates(
        liar,
        1 as ConnId,
        Lane.bulk,
        SlotUpdates.encode({
          channel: channelNumber(CHANNEL),
          updates: [
            {
              slot: 0,
              commit: commit++,
              advert: {
                id: id as Uint8Array<ArrayBuffer>,
                size,
                attributes: new Uint8Array(0),
                pushed: false,
                manifestSize,
              },
              withdrawn: false,
            },
          ],
          haves: [],
        }),
        1,
      );
      return core.takeActions();
    };
    return { mesh, liar, receiver, core, advertise, obs: mesh.node(receiver).observer };
  }

  it('an advert claiming an enormous artifact or manifest, or an impossible pair, is refused and counted', () => {
    const { advertise, obs } = receiverOf(8);
    let k = 0;
    const id = () => createHash('sha256').update(`lie ${k++}`).digest();
    const cases: [size: number, manifestSize: number, outcome: string][] = [
      [2 ** 42, 17 + 32 * 4, 'oversized'], // 4 TiB: over maxArtifactBytes
      [100_000, 10 * 1024 * 1024, 'oversized'], // a 10 MiB manifest: over maxManifestBytes
      [1 << 20, 17 + 32, 'malformed'], // 1 MiB in one chunk: over maxChunkBytes
      [100, 17 + 32 * 200, 'malformed'], // 200 chunks for 100 bytes
      [100_000, 17 + 32 * 100 + 5, 'malformed'], // not a whole number of hashes
      [100_000, 10, 'malformed'], // shorter than one hash
    ];
    for (const [size, manifestSize, outcome] of cases) {
      const before = obs.get('adverts', { outcome });
      const actions = advertise(id(), size, manifestSize);
      assert.equal(obs.get('adverts', { outcome }), before + 1, `${size}/${manifestSize}`);
      assert.deepEqual(
        actions.filter((a) => a.type === 'fetch'),
        [],
        'nothing is fetched for it',
      );
    }
    assert.equal(obs.get('adverts', { outcome: 'accepted' }), 0);
  });

  for (const [what, manifest] of [
    ['does not decode', Buffer.concat([Buffer.from('XXXX'), Buffer.alloc(45, 1)])],
    [
      'has chunks over maxChunkBytes',
      encodeManifest({
        chunkBytes: 8 * CHUNK,
        totalBytes: 8 * CHUNK,
        hashes: [Buffer.alloc(32, 2)],
      }),
    ],
  ] as const) {
    it(`a manifest that ${what} is a bad_manifest fault, and the artifact is dismissed`, () => {
      const { advertise, obs, core, liar } = receiverOf(9);
      const id = manifestId(manifest);
      // The advert lies about the size: 8 bytes fit one chunk (the manifest says otherwise).
      const actions = advertise(Buffer.from(id, 'hex'), 8, manifest.length);
      const fetch = actions.find((a) => a.type === 'fetch');
      assert.ok(fetch?.type === 'fetch');
      core.onFetched(
        fetch.token,
        {
          ok: true,
          body: FetchResponse.encode({
            artifact: manifest as Uint8Array<ArrayBuffer>,
            missing: false,
          }),
        },
        2,
      );
      const after = core.takeActions();
      assert.equal(obs.get('peer_faults', { peer: liar, reason: 'bad_manifest' }), 1);
      assert.equal(core.chunkedInfo(CHANNEL, id), undefined);
      assert.deepEqual(
        after.filter((a) => a.type === 'fetch' || a.type === 'chunk-open'),
        [],
      );
      // Advertised again, it is not fetched again.
      const again = advertise(Buffer.from(id, 'hex'), 8, manifest.length);
      assert.deepEqual(
        again.filter((a) => a.type === 'fetch'),
        [],
      );
    });
  }
});
