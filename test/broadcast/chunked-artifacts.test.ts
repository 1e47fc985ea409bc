import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type ArtifactId,
  type ChannelConfig,
  type ChunkingConfig,
  type ChunkProgress,
  DEFAULT_CHUNKING,
  DiskChunkStore,
  decodeManifest,
  InMemoryChunkStore,
  resolveChannel,
} from '../../src/broadcast/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { Lane } from '../../src/transport/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { metricValue, NodeGroup, randomBytes, readUntil, startNodes } from '../helpers/nodes.ts';
import { slow } from '../helpers/slowdown.ts';

const CHUNK = 4096;
const CHANNELS: Record<string, Partial<ChannelConfig>> = {
  consensus: { lane: Lane.high, pushThresholdBytes: 1024 },
  big: {
    lane: Lane.bulk,
    maxArtifactBytes: 4 * 1024 * 1024, // 1024 chunks: a 32 KiB manifest
    chunking: {
      thresholdBytes: CHUNK,
      chunkBytes: CHUNK,
      maxChunkBytes: CHUNK,
      maxManifestBytes: 64 * 1024,
    },
  },
};

/** A store that serves every chunk with its first byte flipped (a lying peer's). */
class CorruptingStore extends InMemoryChunkStore {
  override async get(id: ArtifactId, index: number): Promise<Uint8Array | undefined> {
    const chunk = await super.get(id, index);
    if (!chunk) return undefined;
    const out = Buffer.from(chunk);
    out[0]! ^= 0xff;
    return out;
  }
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('chunked artifacts', () => {
  const group = new NodeGroup();
  const dirs: string[] = [];
  after(async () => {
    await group.stop();
    for (const d of dirs) await removeTempDir(d);
  });

  it('reach every node, verified chunk by chunk, from the origin and from partial holders', {
    timeout: slow(60_000),
  }, async () => {
    const { nodes } = await startNodes(group, 5, () => ({
      channels: CHANNELS,
      downloads: { maxChunksPerPeer: 2 },
    }));
    const streams = nodes.map((n) => n.node.channel('big').received());
    const progress: ChunkProgress[][] = nodes.map(() => []);
    nodes.forEach((n, i) => {
      n.node.channel('big').onProgress((p) => progress[i]!.push(p));
    });
    const bytes = randomBytes(300 * 1024 + 123); // 76 chunks, the last one short
    const id = nodes[0]!.node.channel('big').broadcast(bytes);
    const got = await Promise.all(
      streams.slice(1).map((s) => readUntil(s, (seen) => seen.length >= 1)),
    );
    for (const [k, seen] of got.entries()) {
      const a = seen[0]!;
      assert.equal(a.id, id);
      assert.equal(a.bytes.length, 0);
      assert.deepEqual(a.chunked, { size: bytes.length, chunkBytes: CHUNK, chunks: 76 });
      const back = await collect(nodes[k + 1]!.node.channel('big').stream(id));
      assert.ok(back.equals(bytes), `node ${k + 1} streams back the bytes`);
      const last = progress[k + 1]!.at(-1)!;
      assert.equal(last.chunksDone, 76);
      assert.equal(last.chunks, 76);
    }
    // Chunks came from peers other than the origin too (partial holders serve).
    const origin = nodes[0]!.node.nodeId;
    const fromOthers = progress
      .slice(1)
      .map((p) => p.at(-1)!.bytesFrom)
      .reduce((n, from) => n + Object.entries(from).filter(([p]) => p !== origin).length, 0);
    assert.ok(fromOthers > 0, 'some chunks came from non-origin peers');
    const faults = await Promise.all(
      nodes.map((n) => metricValue(n.node.metrics, 'subnet_p2p_broadcast_peer_faults_total')),
    );
    assert.deepEqual(faults, [0, 0, 0, 0, 0]);
  });

  it('a channel whose largest artifact needs a manifest over maxManifestBytes is a config error', () => {
    assert.throws(
      () => resolveChannel('ingress', { maxArtifactBytes: 2 ** 40, chunking: DEFAULT_CHUNKING }),
      (err: unknown) =>
        err instanceof ConfigError && /channels\.ingress\.maxArtifactBytes/.test(err.message),
    );
    // 8 GiB of 1 MiB chunks: a manifest of 17 + 32 x 8192 bytes, over the default 256 KiB.
    const chunking = DEFAULT_CHUNKING;
    assert.throws(
      () => resolveChannel('ingress', { maxArtifactBytes: 8 * 1024 ** 3, chunking }),
      ConfigError,
    );
    assert.ok(resolveChannel('ingress', { maxArtifactBytes: 4 * 1024 ** 3, chunking }).chunking);
    // Chunking is the default: the check applies without the key too.
    assert.throws(() => resolveChannel('ingress', { maxArtifactBytes: 2 ** 40 }), ConfigError);
    // Without chunking there is no manifest: the check does not apply.
    for (const off of [undefined, null]) {
      const c = resolveChannel('ingress', {
        maxArtifactBytes: 2 ** 40,
        chunking: off as ChunkingConfig | undefined,
      });
      assert.equal(c.chunking, undefined);
    }
  });

  it('resolveChannel: chunking by default, a partial chunking merged, undefined or null for none', () => {
    assert.deepEqual(resolveChannel('ingress').chunking, DEFAULT_CHUNKING);
    assert.deepEqual(resolveChannel('ingress', { lane: Lane.high }).chunking, DEFAULT_CHUNKING);
    assert.deepEqual(
      resolveChannel('ingress', { chunking: { chunkBytes: 4096 } as ChunkingConfig }).chunking,
      { ...DEFAULT_CHUNKING, chunkBytes: 4096 },
    );
    assert.equal(resolveChannel('ingress', { chunking: undefined }).chunking, undefined);
    const fromJson = JSON.parse('{"chunking": null}') as Partial<ChannelConfig>;
    assert.equal(resolveChannel('ingress', fromJson).chunking, undefined);
    assert.throws(
      () => resolveChannel('ingress', { chunking: 5 as unknown as ChunkingConfig }),
      (err: unknown) =>
        err instanceof ConfigError && /channels\.ingress\.chunking/.test(err.message),
    );
  });

  it('channels chunk artifacts above 1 MiB by default; chunking: undefined sends them whole', {
    timeout: slow(60_000),
  }, async () => {
    const { nodes } = await startNodes(group, 2, () => ({
      channels: { ingress: { lane: Lane.bulk }, whole: { lane: Lane.bulk, chunking: undefined } },
    }));
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const bytes = randomBytes(1024 * 1024 + 5000);
    const chunkedIn = b.node.channel('ingress').received();
    const wholeIn = b.node.channel('whole').received();
    const id = a.node.channel('ingress').broadcast(bytes);
    const wholeId = a.node.channel('whole').broadcast(bytes);
    const [c] = await readUntil(chunkedIn, (seen) => seen.length >= 1);
    assert.equal(c!.id, id);
    assert.equal(c!.bytes.length, 0);
    assert.deepEqual(c!.chunked, { size: bytes.length, chunkBytes: 1024 * 1024, chunks: 2 });
    assert.ok((await collect(b.node.channel('ingress').stream(id))).equals(bytes));
    const [w] = await readUntil(wholeIn, (seen) => seen.length >= 1);
    assert.equal(w!.id, wholeId);
    assert.equal(w!.chunked, undefined);
    assert.ok(Buffer.from(w!.bytes).equals(bytes));
    // The whole one is in the pool; the chunked one is not, only in the chunk store.
    assert.equal(b.node.channel('ingress').get(id), undefined);
    assert.equal(b.node.channel('ingress').chunked(id)?.complete, true);
  });

  it('a peer serving wrong chunk bytes is counted faulty; the chunks come from another peer', {
    timeout: slow(60_000),
  }, async () => {
    const { nodes } = await startNodes(group, 3, (i) => ({
      channels: CHANNELS,
      ...(i === 1 ? { chunkStores: { big: new CorruptingStore() } } : {}),
    }));
    const [honest, liar, victim] = nodes as [
      (typeof nodes)[0],
      (typeof nodes)[0],
      (typeof nodes)[0],
    ];
    const stream = victim.node.channel('big').received();
    const bytes = randomBytes(60 * CHUNK + 7);
    // The liar advertises first: the victim's first chunks are asked of it.
    const id = await liar.node.channel('big').broadcastStream([bytes]);
    assert.equal(await honest.node.channel('big').broadcastStream([bytes]), id);
    const [a] = await readUntil(stream, (seen) => seen.some((x) => x.id === id));
    assert.equal(a!.id, id);
    const back = await collect(victim.node.channel('big').stream(id));
    assert.ok(back.equals(Buffer.from(bytes)), 'byte-identical');
    const fault = (peer: string) =>
      metricValue(victim.node.metrics, 'subnet_p2p_broadcast_peer_faults_total', {
        peer,
        reason: 'bad_hash',
      });
    assert.ok((await fault(liar.node.nodeId)) >= 1, 'the liar is counted faulty');
    assert.equal(await fault(honest.node.nodeId), 0);
  });

  it('broadcasts from a stream, and a restarted node resumes without refetching', {
    timeout: slow(60_000),
  }, async () => {
    const dir = await tempDir('subnet-p2p-chunks-');
    dirs.push(dir);
    const bytes = randomBytes(40 * CHUNK);
    // The receiver's disk store already holds the even chunks (as a node stopped mid-way would).
    const scratch = new InMemoryChunkStore();
    const { id, manifest } = await scratch.import([bytes], CHUNK);
    const disk = new DiskChunkStore(join(dir, 'node1'));
    await disk.open(id, manifest);
    for (let i = 0; i < 40; i += 2) await disk.put(id, i, (await scratch.get(id, i))!);
    const { nodes } = await startNodes(group, 2, (i) => ({
      channels: CHANNELS,
      ...(i === 1 ? { chunkStores: { big: new DiskChunkStore(join(dir, 'node1')) } } : {}),
    }));
    const stream = nodes[1]!.node.channel('big').received();
    async function* pieces() {
      for (let at = 0; at < bytes.length; at += 10_000) yield bytes.subarray(at, at + 10_000);
    }
    const sent = await nodes[0]!.node.channel('big').broadcastStream(pieces());
    assert.equal(sent, id);
    assert.equal(decodeManifest(manifest)!.hashes.length, 40);
    const [a] = await readUntil(stream, (seen) => seen.length >= 1);
    assert.equal(a!.id, id);
    const back = await collect(nodes[1]!.node.channel('big').stream(id));
    assert.ok(back.equals(Buffer.from(bytes)));
    const fetched = await metricValue(nodes[1]!.node.metrics, 'subnet_p2p_broadcast_chunks_total', {
      outcome: 'fetched',
    });
    assert.equal(fetched, 20, 'only the 20 missing chunks were fetched');
  });
});
