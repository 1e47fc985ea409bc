import assert from 'node:assert/strict';
import { appendFile, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  Bitset,
  DiskChunkStore,
  encodeManifest,
  InMemoryChunkStore,
  manifestId,
} from '../../src/broadcast/index.ts';
import { Rng } from '../../src/sim/rng.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';

const CHUNK = 1000;

describe('DiskChunkStore', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await removeTempDir(d);
  });
  async function fresh(): Promise<string> {
    const dir = await tempDir('subnet-p2p-disk-store-');
    dirs.push(dir);
    return dir;
  }
  /** An artifact of 10 chunks, the last one short, cut by an in-memory store. */
  async function artifact(seed: number) {
    const bytes = new Rng(seed).bytes(9 * CHUNK + 123);
    const mem = new InMemoryChunkStore();
    const { id, manifest } = await mem.import([bytes], CHUNK);
    const chunks = await Promise.all(Array.from({ length: 10 }, (_, i) => mem.get(id, i)));
    return { bytes, id, manifest, chunks: chunks as Uint8Array[] };
  }

  it('stores and reads chunks at their offsets, the last one short', async () => {
    const dir = await fresh();
    const a = await artifact(1);
    const store = new DiskChunkStore(dir);
    await store.open(a.id, a.manifest);
    for (const i of [9, 3, 0]) await store.put(a.id, i, a.chunks[i]!);
    for (const i of [9, 3, 0]) assert.deepEqual(await store.get(a.id, i), a.chunks[i]);
    assert.equal((await store.get(a.id, 9))!.length, 123);
    assert.equal(await store.get(a.id, 4), undefined, 'a chunk not held');
    assert.deepEqual(
      (await store.list()).map((x) => [x.id, x.chunks]),
      [[a.id, [0, 3, 9]]],
    );
    await store.delete(a.id);
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.get(a.id, 0), undefined);
  });

  it('writes the have bitmap after the data: a reopened store finds exactly the chunks written', async () => {
    const dir = await fresh();
    const a = await artifact(2);
    const store = new DiskChunkStore(dir);
    await store.open(a.id, a.manifest);
    for (const i of [1, 2, 5]) await store.put(a.id, i, a.chunks[i]!);
    // Each put's bitmap is on disk when it resolves.
    const bits = new Bitset(10, await readFile(join(dir, `${a.id}.have`)));
    assert.deepEqual(bits.indices(), [1, 2, 5]);
    // A crash after chunk 7's data was written, before its bit: its bytes are on disk, unlisted.
    const fh = await open(join(dir, `${a.id}.data`), 'r+');
    await fh.write(a.chunks[7]!, 0, CHUNK, 7 * CHUNK);
    await fh.close();
    const reopened = new DiskChunkStore(dir);
    const [found] = await reopened.list();
    assert.equal(found!.id, a.id);
    assert.deepEqual(found!.chunks, [1, 2, 5]);
    assert.equal(await reopened.get(a.id, 7), undefined);
    assert.deepEqual(await reopened.get(a.id, 5), a.chunks[5]);
    // The reopened store goes on where it stopped (open keeps the chunks held).
    await reopened.open(a.id, a.manifest);
    await reopened.put(a.id, 7, a.chunks[7]!);
    assert.deepEqual((await new DiskChunkStore(dir).list())[0]!.chunks, [1, 2, 5, 7]);
  });

  it('a crash before the bitmap was first written, or mid-import, leaves no chunk held', async () => {
    const dir = await fresh();
    const a = await artifact(3);
    const store = new DiskChunkStore(dir);
    await store.open(a.id, a.manifest);
    await store.put(a.id, 0, a.chunks[0]!);
    await rm(join(dir, `${a.id}.have`));
    await writeFile(join(dir, 'import-0123456789abcdef.tmp'), a.bytes); // an unfinished import
    const listed = await new DiskChunkStore(dir).list();
    assert.deepEqual(
      listed.map((x) => [x.id, x.chunks]),
      [[a.id, []]],
    );
  });

  it('imports a stream and serves it back; an identical import is not stored twice', async () => {
    const dir = await fresh();
    const a = await artifact(4);
    const store = new DiskChunkStore(dir);
    const pieces = [a.bytes.subarray(0, 777), a.bytes.subarray(777)];
    const { id, manifest } = await store.import(pieces, CHUNK);
    assert.equal(id, a.id);
    assert.deepEqual(Buffer.from(manifest), Buffer.from(a.manifest));
    const again = await store.import([a.bytes], CHUNK);
    assert.equal(again.id, id);
    const [found] = await new DiskChunkStore(dir).list();
    assert.equal(found!.chunks.length, 10);
    const back = await Promise.all(found!.chunks.map((i) => store.get(id, i)));
    assert.ok(Buffer.concat(back as Uint8Array[]).equals(a.bytes));
  });

  it('reads are bounded whatever the files hold', async () => {
    const dir = await fresh();
    const a = await artifact(5);
    const store = new DiskChunkStore(dir, { maxManifestBytes: 1024 });
    await store.open(a.id, a.manifest);
    await store.put(a.id, 9, a.chunks[9]!);
    await store.put(a.id, 2, a.chunks[2]!);
    // Garbage after the data and after the bitmap: a chunk reads its own length, a bitmap its own.
    await appendFile(join(dir, `${a.id}.data`), Buffer.alloc(5000, 7));
    await appendFile(join(dir, `${a.id}.have`), Buffer.alloc(5000, 0xff));
    const reopened = new DiskChunkStore(dir, { maxManifestBytes: 1024 });
    assert.deepEqual((await reopened.list())[0]!.chunks, [2, 9]);
    assert.deepEqual(await reopened.get(a.id, 9), a.chunks[9]);
    // A valid manifest over maxManifestBytes (40 chunks: 1297 bytes) is not read at all.
    const large = encodeManifest({
      chunkBytes: 10,
      totalBytes: 400,
      hashes: Array.from({ length: 40 }, () => new Uint8Array(32)),
    });
    await writeFile(join(dir, `${manifestId(large)}.manifest`), large);
    assert.deepEqual(
      (await reopened.list()).map((x) => x.id),
      [a.id],
    );
    assert.equal((await new DiskChunkStore(dir).list()).length, 2, 'under the default limit');
    // A data file cut short: the chunk is not returned (a short read is no chunk).
    const fh = await open(join(dir, `${a.id}.data`), 'r+');
    await fh.truncate(9 * CHUNK + 50);
    await fh.close();
    assert.equal(await reopened.get(a.id, 9), undefined);
  });

  it('keeps the files of at most maxOpenArtifacts artifacts open, and none after close()', async () => {
    const dir = await fresh();
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const before = await fds();
    const store = new DiskChunkStore(dir, { maxOpenArtifacts: 2 });
    const arts = await Promise.all([11, 12, 13, 14].map(artifact));
    for (const a of arts) await store.open(a.id, a.manifest);
    // Chunks of four artifacts, interleaved and concurrent: every one lands, 2 x 2 files open.
    await Promise.all(
      [0, 1, 2, 3, 4].flatMap((i) => arts.map((a) => store.put(a.id, i, a.chunks[i]!))),
    );
    assert.ok((await fds()) - before <= 4, `${(await fds()) - before} files open`);
    for (const a of arts) {
      for (const i of [0, 1, 2, 3, 4]) assert.deepEqual(await store.get(a.id, i), a.chunks[i]);
    }
    const listed = await new DiskChunkStore(dir).list();
    assert.deepEqual(
      new Map(listed.map((x) => [x.id, x.chunks])),
      new Map(arts.map((a) => [a.id, [0, 1, 2, 3, 4]])),
      'each chunk marked in its bitmap on disk',
    );
    await store.close();
    assert.equal(await fds(), before);
    // Usable again after close(): the files reopen.
    await store.put(arts[0]!.id, 7, arts[0]!.chunks[7]!);
    assert.deepEqual(await store.get(arts[0]!.id, 7), arts[0]!.chunks[7]);
    await store.close();
    assert.throws(() => new DiskChunkStore(dir, { maxOpenArtifacts: 0 }), /maxOpenArtifacts/);
  });
});
