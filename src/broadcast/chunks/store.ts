/**
 * Where a channel keeps chunked artifacts, whole or in part: an asynchronous store of verified
 * chunks, so an artifact never has to be held in memory whole. The protocol core never touches
 * it: the driver carries out the core's chunk reads and writes.
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import {
  ArtifactNotOpenError,
  BadManifestError,
  ConfigError,
  QueueFullError,
} from '../../errors.ts';
import type { ArtifactId } from '../types.ts';
import {
  Bitset,
  chunkCount,
  decodeManifest,
  type Manifest,
  ManifestBuilder,
  manifestId,
  rechunk,
} from './manifest.ts';

/** An artifact found in a store (for resuming after a restart). */
export interface StoredArtifact {
  id: ArtifactId;
  manifest: Uint8Array;
  /** Indices of the chunks held, verified. */
  chunks: number[];
}

export interface ChunkStore {
  /** Prepares to hold artifact `id` (idempotent; chunks already held stay). */
  open(id: ArtifactId, manifest: Uint8Array): Promise<void>;
  /** Stores verified chunk `index` of `id` (opened before). */
  put(id: ArtifactId, index: number, bytes: Uint8Array): Promise<void>;
  /** Chunk `index` of `id`, if held. */
  get(id: ArtifactId, index: number): Promise<Uint8Array | undefined>;
  /** Every artifact held in whole or in part, with the chunks held. */
  list(): Promise<StoredArtifact[]>;
  delete(id: ArtifactId): Promise<void>;
  /** Releases what the store holds open (files); the node calls it when it stops. */
  close?(): Promise<void>;
  /**
   * Stores a whole artifact read from `source`, cut into chunks of `chunkBytes`, holding one
   * chunk in memory at a time; returns its id and manifest.
   */
  import(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    chunkBytes: number,
  ): Promise<{ id: ArtifactId; manifest: Uint8Array }>;
}

/** The default store: chunks in memory, bounded in bytes (default 1 GiB). */
export class InMemoryChunkStore implements ChunkStore {
  readonly #artifacts = new Map<ArtifactId, { manifest: Uint8Array; chunks: Uint8Array[] }>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(opts: { maxBytes?: number } = {}) {
    this.#maxBytes = opts.maxBytes ?? 1024 ** 3;
  }

  get bytes(): number {
    return this.#bytes;
  }

  async open(id: ArtifactId, manifest: Uint8Array): Promise<void> {
    if (!this.#artifacts.has(id)) this.#artifacts.set(id, { manifest, chunks: [] });
  }

  async put(id: ArtifactId, index: number, bytes: Uint8Array): Promise<void> {
    const a = this.#artifacts.get(id);
    if (!a) throw new ArtifactNotOpenError(id);
    if (a.chunks[index]) return;
    if (this.#bytes + bytes.length > this.#maxBytes) {
      throw new QueueFullError(
        `chunk store holds ${this.#bytes} bytes; ${bytes.length} more would exceed its limit of ${this.#maxBytes}`,
      );
    }
    a.chunks[index] = bytes;
    this.#bytes += bytes.length;
  }

  async get(id: ArtifactId, index: number): Promise<Uint8Array | undefined> {
    return this.#artifacts.get(id)?.chunks[index];
  }

  async list(): Promise<StoredArtifact[]> {
    return [...this.#artifacts].map(([id, a]) => ({
      id,
      manifest: a.manifest,
      chunks: a.chunks.flatMap((c, i) => (c ? [i] : [])),
    }));
  }

  async delete(id: ArtifactId): Promise<void> {
    const a = this.#artifacts.get(id);
    if (!a) return;
    for (const c of a.chunks) if (c) this.#bytes -= c.length;
    this.#artifacts.delete(id);
  }

  async import(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    chunkBytes: number,
  ): Promise<{ id: ArtifactId; manifest: Uint8Array }> {
    const chunks: Uint8Array[] = [];
    const builder = new ManifestBuilder(chunkBytes);
    for await (const chunk of rechunk(source, chunkBytes)) {
      if (this.#bytes + builder.totalBytes + chunk.length > this.#maxBytes) {
        throw new QueueFullError(`chunk store: artifact exceeds its limit of ${this.#maxBytes}`);
      }
      chunks.push(chunk);
      builder.add(chunk);
    }
    const { encoded: manifest, id } = builder.build();
    await this.open(id, manifest);
    for (const [i, c] of chunks.entries()) await this.put(id, i, c);
    return { id, manifest };
  }
}

/** The files of one artifact, open for reading and writing while it is in use. */
interface OpenArtifact {
  data: FileHandle;
  have: FileHandle;
  /** Operations using the handles now; the handles close once this is 0 and they are evicted. */
  users: number;
  evicted: boolean;
  closed: boolean;
}

/**
 * Open files of the artifacts in use, at most `max` artifacts (least recently used closed
 * first), so a chunk costs two positional writes, not four opens and closes as well.
 */
class OpenFiles {
  readonly #max: number;
  readonly #open = new Map<ArtifactId, Promise<OpenArtifact>>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Runs `fn` with `id`'s open files (opening them, by `paths`, if they are not). */
  async use<T>(
    id: ArtifactId,
    paths: { data: string; have: string },
    fn: (files: OpenArtifact) => Promise<T>,
  ): Promise<T> {
    let opening = this.#open.get(id);
    if (opening) {
      // Most recently used last.
      this.#open.delete(id);
    } else {
      const fresh = openBoth(paths);
      // A failed open is not kept.
      fresh.catch(() => {
        if (this.#open.get(id) === fresh) this.#open.delete(id);
      });
      opening = fresh;
    }
    this.#open.set(id, opening);
    this.#evict();
    const files = await opening;
    // Evicted and closed while this call waited: open them again.
    if (files.closed) return this.use(id, paths, fn);
    files.users += 1;
    try {
      return await fn(files);
    } finally {
      files.users -= 1;
      if (files.evicted && files.users === 0) await close(files);
    }
  }

  /** Closes `id`'s files (once no operation uses them). */
  async forget(id: ArtifactId): Promise<void> {
    const opening = this.#open.get(id);
    this.#open.delete(id);
    await retire(opening);
  }

  async closeAll(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(all.map(retire));
  }

  #evict(): void {
    while (this.#open.size > this.#max) {
      const [oldest, opening] = this.#open.entries().next().value as [
        ArtifactId,
        Promise<OpenArtifact>,
      ];
      this.#open.delete(oldest);
      void retire(opening);
    }
  }
}

async function openBoth(paths: { data: string; have: string }): Promise<OpenArtifact> {
  const data = await open(paths.data, 'r+');
  const have = await open(paths.have, 'r+').catch(async (err: unknown) => {
    await data.close();
    throw err;
  });
  return { data, have, users: 0, evicted: false, closed: false };
}

async function retire(opening: Promise<OpenArtifact> | undefined): Promise<void> {
  const files = await opening?.catch(() => undefined);
  if (!files || files.evicted) return;
  files.evicted = true;
  if (files.users === 0) await close(files);
}

async function close(files: OpenArtifact): Promise<void> {
  if (files.closed) return;
  files.closed = true;
  await Promise.all([files.data.close(), files.have.close()]);
}

/**
 * Chunks on disk, under `dir`: per artifact `<id>.data` (the artifact's bytes, written at each
 * chunk's offset), `<id>.manifest`, and `<id>.have` (the bitmap of the chunks verified and
 * written, updated after each chunk's data is written). A restarted node finds every artifact
 * with its verified chunks through `list()`, and resumes without fetching them again. Reads are
 * bounded whatever the files hold: a chunk reads its own length, a bitmap its own size, and a
 * manifest file above `maxManifestBytes` (default 4 MiB, 131 067 chunks) is skipped.
 *
 * The data and bitmap files of the `maxOpenArtifacts` (default 64) artifacts used last stay
 * open; a chunk written is two positional writes (its bytes, then its byte of the bitmap).
 * Nothing is fsynced: a machine crash (not a process crash) may lose the last chunks written,
 * which are then fetched again. Call `close()` when done (a node does when it stops).
 */
export class DiskChunkStore implements ChunkStore {
  readonly dir: string;
  readonly maxManifestBytes: number;
  readonly #have = new Map<ArtifactId, Bitset>();
  readonly #manifests = new Map<ArtifactId, Manifest>();
  readonly #files: OpenFiles;
  #ready: Promise<void> | undefined;

  constructor(dir: string, opts: { maxManifestBytes?: number; maxOpenArtifacts?: number } = {}) {
    this.dir = dir;
    this.maxManifestBytes = opts.maxManifestBytes ?? 4 * 1024 * 1024;
    const maxOpen = opts.maxOpenArtifacts ?? 64;
    if (!(Number.isSafeInteger(maxOpen) && maxOpen > 0)) {
      throw new ConfigError('maxOpenArtifacts', `must be a positive integer, got ${maxOpen}`);
    }
    this.#files = new OpenFiles(maxOpen);
  }

  #use<T>(id: ArtifactId, fn: (files: OpenArtifact) => Promise<T>): Promise<T> {
    return this.#files.use(id, { data: this.#path(id, 'data'), have: this.#path(id, 'have') }, fn);
  }

  /** At most `max` bytes from the start of file `path` (undefined if it does not exist). */
  async #readHead(path: string, max: number): Promise<Buffer | undefined> {
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!fh) return undefined;
    try {
      const out = Buffer.alloc(max);
      const { bytesRead } = await fh.read(out, 0, max, 0);
      return out.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  #mkdir(): Promise<void> {
    this.#ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    return this.#ready;
  }

  #path(id: string, ext: string): string {
    return join(this.dir, `${id}.${ext}`);
  }

  async open(id: ArtifactId, manifest: Uint8Array): Promise<void> {
    if (this.#have.has(id)) return;
    const m = decodeManifest(manifest);
    if (!m) throw new BadManifestError();
    await this.#mkdir();
    const have = new Bitset(m.hashes.length);
    this.#have.set(id, have);
    this.#manifests.set(id, m);
    await writeFile(this.#path(id, 'manifest'), manifest);
    await writeFile(this.#path(id, 'have'), have.bits, { flag: 'wx' }).catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const bits = await this.#readHead(this.#path(id, 'have'), Bitset.bytesFor(m.hashes.length));
      this.#have.set(id, new Bitset(m.hashes.length, bits));
    });
    const fh = await open(this.#path(id, 'data'), 'a');
    await fh.close();
  }

  async put(id: ArtifactId, index: number, bytes: Uint8Array): Promise<void> {
    const have = this.#have.get(id);
    if (!have) throw new ArtifactNotOpenError(id);
    if (have.has(index)) return;
    const m = this.#manifests.get(id)!;
    await this.#use(id, async (files) => {
      await files.data.write(bytes, 0, bytes.length, index * m.chunkBytes);
      // The bit only once the data is written. Written from the live bitmap: of two writes of
      // the same byte, the one that copies it last has every bit set so far.
      have.add(index);
      const at = index >> 3;
      await files.have.write(have.bits, at, 1, at);
    });
  }

  async get(id: ArtifactId, index: number): Promise<Uint8Array | undefined> {
    const have = this.#have.get(id);
    const m = this.#manifests.get(id);
    if (!have?.has(index) || !m) return undefined;
    const last = m.hashes.length - 1;
    const length = index < last ? m.chunkBytes : m.totalBytes - last * m.chunkBytes;
    const out = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.#use(id, (files) =>
      files.data.read(out, 0, length, index * m.chunkBytes),
    );
    return bytesRead === length ? out : undefined;
  }

  async list(): Promise<StoredArtifact[]> {
    await this.#mkdir();
    const out: StoredArtifact[] = [];
    for (const name of await readdir(this.dir)) {
      const match = /^([0-9a-f]{64})\.manifest$/.exec(name);
      if (!match) continue;
      const id = match[1] as ArtifactId;
      const size = (await stat(this.#path(id, 'manifest'))).size;
      if (size > this.maxManifestBytes) continue;
      const manifest = await this.#readHead(this.#path(id, 'manifest'), size);
      const m = manifest && decodeManifest(manifest);
      if (!manifest || !m || manifestId(manifest) !== id) continue;
      const bits = await this.#readHead(this.#path(id, 'have'), Bitset.bytesFor(m.hashes.length));
      const have = new Bitset(m.hashes.length, bits);
      this.#have.set(id, have);
      this.#manifests.set(id, m);
      out.push({ id, manifest, chunks: have.indices() });
    }
    return out;
  }

  async delete(id: ArtifactId): Promise<void> {
    this.#have.delete(id);
    this.#manifests.delete(id);
    await this.#files.forget(id);
    await Promise.all(
      ['have', 'manifest', 'data'].map((ext) => rm(this.#path(id, ext), { force: true })),
    );
  }

  async import(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    chunkBytes: number,
  ): Promise<{ id: ArtifactId; manifest: Uint8Array }> {
    await this.#mkdir();
    const tmp = join(this.dir, `import-${randomBytes(8).toString('hex')}.tmp`);
    const builder = new ManifestBuilder(chunkBytes);
    const fh = await open(tmp, 'w');
    try {
      for await (const chunk of rechunk(source, chunkBytes)) {
        await fh.write(chunk, 0, chunk.length, builder.totalBytes);
        builder.add(chunk);
      }
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const { manifest: m, encoded: manifest, id } = builder.build();
    if (this.#have.get(id)?.full) {
      await rm(tmp, { force: true });
      return { id, manifest };
    }
    await this.#files.forget(id);
    await rename(tmp, this.#path(id, 'data'));
    const have = new Bitset(chunkCount(m.totalBytes, chunkBytes));
    for (let i = 0; i < have.size; i++) have.add(i);
    await writeFile(this.#path(id, 'manifest'), manifest);
    await writeFile(this.#path(id, 'have'), have.bits);
    this.#have.set(id, have);
    this.#manifests.set(id, m);
    return { id, manifest };
  }

  async close(): Promise<void> {
    await this.#files.closeAll();
  }
}
