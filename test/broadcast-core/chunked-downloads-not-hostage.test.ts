/**
 * Chunked downloads cannot be held hostage (docs/protocol.md, Chunked artifacts, Bounds): a
 * member advertising chunked artifacts of its own invention, whose chunks it answers `missing`,
 * with wrong bytes, or not at all, is counted against it and takes at most a fair share of a
 * channel's places; a stalled download yields its place; channels do not share places. Cores
 * wired by hand (test/helpers/chunk-mesh.ts), fake time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHUNK_STRIKES } from '../../src/broadcast/core/chunked.ts';
import { idFromBytes } from '../../src/broadcast/ids.ts';
import {
  channelNumber,
  encodeManifest,
  FetchRequest,
  FetchResponse,
  manifestId,
  SlotUpdates,
} from '../../src/broadcast/index.ts';
import type { SlotUpdate } from '../../src/broadcast/proto/broadcast.ts';
import type { ArtifactId, DownloadLimits } from '../../src/broadcast/types.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { type ConnId, Lane, lengthDelimitedPrefix } from '../../src/transport/index.ts';
import { CHANNEL, ChunkMesh, isChunkFetch, type PendingFetch } from '../helpers/chunk-mesh.ts';

const CHUNK = 1024;
const CHUNKING = {
  thresholdBytes: CHUNK,
  chunkBytes: CHUNK,
  maxChunkBytes: 4 * CHUNK,
  maxManifestBytes: 17 + 32 * 1024,
};
/** The defaults these tests rely on (chunk fetch deadline: about downloadTimeoutMs). */
const DOWNLOAD_TIMEOUT_MS = 5000;
const CHUNK_STALL_MS = 10_000;

const MISSING = FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
const answer = (bytes: Uint8Array) =>
  Buffer.concat([lengthDelimitedPrefix(1, bytes.length), bytes]);

type Lie = 'missing' | 'wrong' | 'silent';
const LIES: Record<Lie, { what: string; reason: string }> = {
  missing: { what: '`missing`', reason: 'chunk_missing' },
  wrong: { what: 'with wrong bytes', reason: 'bad_hash' },
  silent: { what: 'not at all', reason: 'chunk_timeout' },
};

/** A fetch request's artifact id and part. */
function request(f: PendingFetch): { id: ArtifactId; part: number } {
  const req = FetchRequest.decode(f.body);
  return { id: idFromBytes(req.id)!, part: req.part ?? 0 };
}

/**
 * An honest origin, an honest receiver and a liar: a member (its core is never linked) that
 * advertises chunked artifacts it invented (random chunk hashes), serves their manifests, and
 * answers requests for their chunks as `lie` says; it answers `missing` to anything else.
 */
class Scene {
  readonly mesh: ChunkMesh;
  readonly origin: NodeId;
  readonly receiver: NodeId;
  readonly liar: NodeId;
  readonly #manifests = new Map<ArtifactId, Uint8Array>();
  #commit = 1;
  #slot = 0;

  constructor(
    seed: number,
    lie: Lie,
    opts: { downloads?: Partial<DownloadLimits>; channels?: string[] } = {},
  ) {
    this.mesh = new ChunkMesh({
      n: 3,
      seed,
      chunking: CHUNKING,
      ...(opts.downloads ? { downloads: opts.downloads } : {}),
      ...(opts.channels ? { channels: opts.channels } : {}),
    });
    const [origin, receiver, liar] = this.mesh.ids as [NodeId, NodeId, NodeId];
    this.origin = origin;
    this.receiver = receiver;
    this.liar = liar;
    this.mesh.link(origin, receiver);
    this.mesh.link(receiver, origin);
    this.mesh.link(origin, liar);
    this.mesh.link(receiver, liar);
    const node = this.mesh.node(liar);
    node.serve = (f) => {
      const { id, part } = request(f);
      const manifest = this.#manifests.get(id);
      if (!manifest) return MISSING;
      if (part === 0) return answer(manifest);
      return lie === 'wrong' ? answer(this.mesh.rng.bytes(CHUNK)) : MISSING;
    };
    if (lie === 'silent') {
      node.ignores = (f) => {
        const { id, part } = request(f);
        return part > 0 && this.#manifests.has(id);
      };
    }
    this.mesh.settle();
  }

  get obs() {
    return this.mesh.node(this.receiver).observer;
  }

  /** The liar sends `updates` of `channel` to both honest nodes. */
  send(updates: SlotUpdate[], channel = CHANNEL): void {
    const body = SlotUpdates.encode({ channel: channelNumber(channel), updates, haves: [] });
    for (const h of [this.origin, this.receiver]) {
      this.mesh.node(h).core.onUpdates(this.liar, 1 as ConnId, Lane.bulk, body, this.mesh.now);
    }
    this.mesh.settle();
  }

  /** The liar advertises one update for `id` (a chunked artifact) in a slot of its own. */
  advertise(id: ArtifactId, size: number, manifestSize: number, channel = CHANNEL): number {
    const slot = this.#slot++;
    this.send(
      [
        {
          slot,
          commit: this.#commit++,
          advert: {
            id: Buffer.from(id, 'hex') as Uint8Array<ArrayBuffer>,
            size,
            attributes: new Uint8Array(0),
            pushed: false,
            manifestSize,
          },
          withdrawn: false,
        },
      ],
      channel,
    );
    return slot;
  }

  /** The liar withdraws what it advertised in `slot`. */
  withdraw(slot: number, channel = CHANNEL): void {
    this.send([{ slot, commit: this.#commit++, withdrawn: true }], channel);
  }

  /** The liar advertises `count` invented artifacts of `chunks` chunks on `channel`. */
  flood(count: number, channel = CHANNEL, chunks = 8): ArtifactId[] {
    return Array.from({ length: count }, () => {
      const manifest = encodeManifest({
        chunkBytes: CHUNK,
        totalBytes: chunks * CHUNK,
        hashes: Array.from({ length: chunks }, () => this.mesh.rng.bytes(32)),
      });
      const id = manifestId(manifest);
      this.#manifests.set(id, manifest);
      this.advertise(id, chunks * CHUNK, manifest.length, channel);
      return id;
    });
  }

  /** Whether the receiver fetches the manifest of `id` now. */
  fetchingManifest(id: ArtifactId): boolean {
    return this.mesh.fetches.some(
      (f) => f.from === this.receiver && !isChunkFetch(f) && request(f).id === id,
    );
  }

  /** How many of `ids` hold a place at the receiver (manifest in flight, or held in part). */
  places(ids: readonly ArtifactId[], channel = CHANNEL): number {
    const core = this.mesh.node(this.receiver).core;
    return ids.filter((id) => {
      const info = core.chunkedInfo(channel, id);
      return info ? !info.complete : this.fetchingManifest(id);
    }).length;
  }

  /** Whether the receiver holds `id` whole. */
  complete(id: ArtifactId, channel = CHANNEL): boolean {
    return this.mesh.node(this.receiver).core.chunkedInfo(channel, id)?.complete === true;
  }

  /** The origin broadcasts `n` honest artifacts of 16 chunks and a bit on `channel`. */
  broadcast(n: number, channel = CHANNEL): { id: ArtifactId; bytes: Uint8Array }[] {
    const out = Array.from({ length: n }, () => {
      const bytes = this.mesh.rng.bytes(16 * CHUNK + 100);
      return { id: this.mesh.broadcast(this.origin, bytes, CHUNK, channel), bytes };
    });
    this.mesh.settle();
    return out;
  }
}

describe('chunked downloads cannot be held hostage', () => {
  for (const lie of ['missing', 'wrong', 'silent'] as const) {
    for (const max of [4, 1]) {
      it(`a liar whose ${max} fake chunked artifacts hold every place and whose chunks are answered ${LIES[lie].what} is counted, and an honest artifact still arrives (maxChunkedDownloads ${max})`, () => {
        for (const seed of [1, 2]) {
          const scene = new Scene(seed, lie, { downloads: { maxChunkedDownloads: max } });
          const { mesh, obs, liar, origin, receiver } = scene;
          const fakes = scene.flood(max);
          assert.ok(
            mesh.run(() => fakes.every((id) => mesh.node(receiver).core.chunkedInfo(CHANNEL, id))),
            'the fakes take every place',
          );
          const [honest] = scene.broadcast(1) as [{ id: ArtifactId; bytes: Uint8Array }];
          const reason = LIES[lie].reason;
          assert.ok(
            mesh.run(
              () =>
                scene.complete(honest.id) &&
                obs.get('peer_faults', { peer: liar, reason }) >= CHUNK_STRIKES,
            ),
            `seed ${seed}`,
          );
          assert.ok(mesh.bytesOf(receiver, honest.id, 17)!.equals(honest.bytes), 'byte-identical');
          assert.equal(obs.get('peer_faults', { peer: origin }), 0, 'nothing against the origin');
          assert.equal(mesh.node(receiver).delivered.length, 1);
          const yielded = obs.get('chunks', { outcome: 'stalled' });
          const preempted = obs.get('chunks', { outcome: 'preempted' });
          if (max === 1) {
            // One place, and the liar's one download is its share: only a stall frees it.
            assert.ok(yielded >= 1, `seed ${seed}: stalled ${yielded}`);
            assert.equal(preempted, 0);
          } else {
            assert.ok(yielded + preempted >= 1, `seed ${seed}: ${yielded} + ${preempted}`);
          }
          // Its fakes are never complete, and none of them was delivered.
          assert.ok(fakes.every((id) => !scene.complete(id)));
        }
      });
    }
  }

  it('a flood of fake chunked adverts on one channel does not stop a chunked artifact on another', () => {
    for (const seed of [3, 4]) {
      const scene = new Scene(seed, 'silent', { channels: [CHANNEL, 'flood'] });
      const { mesh, obs, receiver } = scene;
      const fakes = scene.flood(8, 'flood');
      assert.ok(mesh.run(() => scene.places(fakes, 'flood') === 4));
      const [honest] = scene.broadcast(1) as [{ id: ArtifactId; bytes: Uint8Array }];
      assert.ok(mesh.run(() => scene.complete(honest.id)));
      assert.ok(mesh.bytesOf(receiver, honest.id, 17)!.equals(honest.bytes));
      // It had a place of its own: nothing yielded, before any of the liar's fetches timed out.
      assert.ok(mesh.now < DOWNLOAD_TIMEOUT_MS, `at ${mesh.now} ms`);
      assert.equal(scene.places(fakes, 'flood'), 4, 'the flood keeps its own channel');
      assert.equal(obs.get('chunks', { outcome: 'stalled' }), 0);
      assert.equal(obs.get('chunks', { outcome: 'preempted' }), 0);
    }
  });

  it('while an honest artifact waits, a liar flooding holds at most ceil(max / 2) places of the channel', () => {
    for (const seed of [5, 6, 7]) {
      const scene = new Scene(seed, 'silent');
      const { mesh, obs, receiver } = scene;
      const fakes = scene.flood(8);
      assert.ok(
        mesh.run(() => scene.places(fakes) === 4),
        'the liar took every place',
      );
      const honest = scene.broadcast(3);
      let checked = 0;
      let most = 0;
      mesh.onStep = () => {
        const waiting = honest.filter(
          ({ id }) =>
            !mesh.node(receiver).core.chunkedInfo(CHANNEL, id) && !scene.fetchingManifest(id),
        );
        if (waiting.length === 0) return;
        checked++;
        most = Math.max(most, scene.places(fakes));
      };
      assert.ok(mesh.run(() => honest.every(({ id }) => scene.complete(id))));
      assert.ok(checked > 0, 'an honest artifact waited');
      assert.ok(most <= 2, `seed ${seed}: the liar held ${most} places while one waited`);
      for (const { id, bytes } of honest) {
        assert.ok(mesh.bytesOf(receiver, id, 17)!.equals(bytes));
      }
      // The fair share did it: before any of the liar's fetches timed out, nothing stalled.
      assert.ok(mesh.now < DOWNLOAD_TIMEOUT_MS, `at ${mesh.now} ms`);
      assert.equal(obs.get('chunks', { outcome: 'stalled' }), 0);
      assert.ok(obs.get('chunks', { outcome: 'preempted' }) >= 2);
    }
  });

  it('a stalled download keeps its place while nothing else waits, and yields it once something does', () => {
    const scene = new Scene(8, 'missing');
    const { mesh, obs, liar, receiver } = scene;
    const fakes = scene.flood(4);
    const core = mesh.node(receiver).core;
    assert.ok(
      mesh.run(
        () =>
          fakes.every((id) => core.chunkedInfo(CHANNEL, id)) &&
          obs.get('peer_faults', { peer: liar, reason: 'chunk_missing' }) >=
            fakes.length * CHUNK_STRIKES &&
          mesh.fetches.length === 0,
      ),
    );
    // Every one is stalled (its only source is faulty): asked no more, but kept.
    mesh.now += 3 * CHUNK_STALL_MS;
    core.tick(mesh.now);
    mesh.settle();
    assert.ok(
      fakes.every((id) => core.chunkedInfo(CHANNEL, id)),
      'no needless churn',
    );
    assert.equal(obs.get('chunks', { outcome: 'stalled' }), 0);
    assert.equal(mesh.fetches.length, 0, 'the liar is not asked again');
    const [honest] = scene.broadcast(1) as [{ id: ArtifactId; bytes: Uint8Array }];
    assert.ok(mesh.run(() => scene.complete(honest.id)));
    assert.ok(obs.get('chunks', { outcome: 'stalled' }) >= 1);
    // What yielded is wanted again, but kept out for a while: not fetched again at once.
    const stalled = fakes.filter((id) => !core.chunkedInfo(CHANNEL, id));
    assert.ok(stalled.length >= 1);
    assert.ok(stalled.every((id) => !scene.fetchingManifest(id)));
  });

  it('a stalled download that lost its place is taken up again after its backoff', () => {
    const scene = new Scene(9, 'missing', { downloads: { maxChunkedDownloads: 1 } });
    const { mesh, obs, receiver } = scene;
    const core = mesh.node(receiver).core;
    const [fake] = scene.flood(1) as [ArtifactId];
    assert.ok(mesh.run(() => core.chunkedInfo(CHANNEL, fake) !== undefined));
    const [honest] = scene.broadcast(1) as [{ id: ArtifactId; bytes: Uint8Array }];
    let yieldedAt: number | undefined;
    mesh.onStep = () => {
      if (core.chunkedInfo(CHANNEL, fake) === undefined) yieldedAt ??= mesh.now;
    };
    assert.ok(mesh.run(() => scene.complete(honest.id)));
    assert.equal(core.chunkedInfo(CHANNEL, fake), undefined, 'it yielded');
    assert.ok(yieldedAt !== undefined);
    // Its advert still stands: once the backoff (chunkStallMs) is over, it is fetched again.
    assert.ok(mesh.run(() => core.chunkedInfo(CHANNEL, fake) !== undefined));
    const after = mesh.now - yieldedAt;
    assert.ok(after >= CHUNK_STALL_MS && after < CHUNK_STALL_MS + 1000, `after ${after} ms`);
    assert.equal(obs.get('chunks', { outcome: 'stalled' }), 1);
  });

  it('a partial holder answering `missing` for chunks its Have claims is counted, and not asked again after 3', () => {
    for (const seed of [10, 11]) {
      const scene = new Scene(seed, 'missing');
      const { mesh, obs, liar, receiver } = scene;
      const core = mesh.node(receiver).core;
      const [honest] = scene.broadcast(1) as [{ id: ArtifactId; bytes: Uint8Array }];
      assert.ok(mesh.run(() => core.chunkedInfo(CHANNEL, honest.id) !== undefined));
      // The liar claims every chunk (partial holders are asked first), and has none.
      const haves = [{ id: Buffer.from(honest.id, 'hex'), bitmap: Buffer.alloc(3, 0xff) }];
      haves[0]!.bitmap[2] = 0x01; // 17 chunks
      const body = SlotUpdates.encode({
        channel: channelNumber(CHANNEL),
        updates: [],
        haves: haves as never,
      });
      core.onUpdates(liar, 1 as ConnId, Lane.bulk, body, mesh.now);
      mesh.settle();
      assert.ok(mesh.run(() => scene.complete(honest.id)));
      const faults = obs.get('peer_faults', { peer: liar, reason: 'chunk_missing' });
      // Each answer let another request go, up to maxChunksPerPeer (4) in flight: when the
      // third came, at most 3 more were on their way.
      assert.ok(faults >= CHUNK_STRIKES && faults <= CHUNK_STRIKES + 3, `seed ${seed}: ${faults}`);
      assert.ok(mesh.bytesOf(receiver, honest.id, 17)!.equals(honest.bytes));
    }
  });

  it('a `missing` answer for a chunk the peer no longer claims is no fault', () => {
    const scene = new Scene(12, 'missing');
    const { mesh, obs, liar, receiver, origin } = scene;
    const core = mesh.node(receiver).core;
    const bytes = mesh.rng.bytes(40 * CHUNK);
    const id = mesh.broadcast(origin, bytes, CHUNK);
    mesh.settle();
    assert.ok(mesh.run(() => core.chunkedInfo(CHANNEL, id) !== undefined));
    // The liar advertises it whole too, is asked for chunks, and withdraws it before answering.
    const manifestSize = 17 + 32 * 40;
    const slot = scene.advertise(id, bytes.length, manifestSize);
    const askedLiar = () =>
      mesh.fetches.some((f) => f.from === receiver && f.to === liar && isChunkFetch(f));
    assert.ok(mesh.run(askedLiar));
    scene.withdraw(slot);
    assert.ok(mesh.run(() => core.chunkedInfo(CHANNEL, id)?.complete === true));
    assert.equal(obs.get('peer_faults', { peer: liar }), 0);
    assert.ok(mesh.bytesOf(receiver, id, 40)!.equals(bytes));
  });
});

describe('a peer struck out for silence', () => {
  it('is asked again on its next link: a black hole between honest nodes does not wedge a download', () => {
    const mesh = new ChunkMesh({ n: 2, seed: 21, chunking: CHUNKING });
    const [origin, receiver] = mesh.ids as [NodeId, NodeId];
    mesh.link(origin, receiver);
    mesh.link(receiver, origin);
    mesh.settle();
    // A black hole: the origin's chunk answers never arrive.
    mesh.node(origin).ignores = (f) => request(f).part > 0;
    const bytes = mesh.rng.bytes(16 * CHUNK);
    const id = mesh.broadcast(origin, bytes, CHUNK);
    const obs = mesh.node(receiver).observer;
    const struck = () => obs.get('peer_faults', { peer: origin, reason: 'chunk_timeout' }) >= 3;
    assert.ok(mesh.run(struck));
    // The only source is struck out: nothing is asked of it while the link stays up (before
    // the fix, not on the next link either: the download sat until the artifact expired).
    mesh.node(origin).ignores = undefined;
    const complete = () => mesh.node(receiver).core.chunkedInfo(CHANNEL, id)?.complete === true;
    // The link dies by idle timeout and comes back: the origin is asked again.
    mesh.reconnect(origin, receiver);
    mesh.settle();
    assert.ok(mesh.run(complete));
    assert.ok(mesh.bytesOf(receiver, id, 16)!.equals(bytes));
  });
});
