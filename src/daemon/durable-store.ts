/**
 * Durable acceptance: the artifacts the daemon's API acknowledged (201), on disk until they
 * leave their channel, so that a restarted origin finishes broadcasting them.
 *
 * One record per artifact, `<dataDir>/accepted/<channel>/<id>`: written to a temporary name,
 * fsynced, renamed into place, and the folder fsynced, before the 201. A record is a 28-byte
 * header (magic `SP2PACC1`, kind, attributes' length, creation time in wall-clock ms, body
 * length), the attributes, then the body:
 *
 * - `whole`: the artifact's bytes (its SHA-256 is its id: checked when read back);
 * - `chunked`: the bytes of a chunked artifact whose chunk store is in memory;
 * - `chunk-store`: no body; the bytes are in the channel's `DiskChunkStore` (under `chunkDir`),
 *   whose files for this artifact were fsynced before the record was written.
 *
 * A record is deleted when its artifact leaves the channel (expired, purged, evicted, aborted,
 * rejected). A record that cannot be read back (truncated, bad magic, wrong hash) is counted,
 * logged and renamed `<id>.corrupt`: never a crash.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  access,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
} from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type ArtifactId, artifactId, isArtifactId } from '../broadcast/index.ts';
import { DurableWriteError } from '../errors.ts';
import type { Logger } from '../log.ts';

const MAGIC = Buffer.from('SP2PACC1', 'latin1');
/** Size of a record's header, bytes. */
export const RECORD_HEADER_BYTES = 28;
const KINDS = ['whole', 'chunked', 'chunk-store'] as const;

/** How a record holds its artifact's bytes (see the module's comment). */
export type RecordKind = (typeof KINDS)[number];

/** A record read back at start. */
export interface AcceptedRecord {
  channel: string;
  id: ArtifactId;
  kind: RecordKind;
  attributes: Uint8Array;
  /** When the API accepted it, wall-clock ms (`Date.now()`). */
  createdAt: number;
  /** Size of the body in the record (0 for `chunk-store`). */
  bodyBytes: number;
  /** The record's file. */
  path: string;
}

/** The metrics the store counts into (the daemon's `DaemonMetrics` has them). */
export interface DurableMetrics {
  durableWrites: { inc(labels: { channel: string; outcome: string }): void };
  durableRestored: { inc(labels: { channel: string; outcome: string }): void };
  durableFsyncSeconds: { observe(seconds: number): void };
}

/** What `scan()` found of one channel. */
export interface ScanResult {
  /** Records still within `maxAgeMs`, oldest first. */
  live: AcceptedRecord[];
  /** Records past `maxAgeMs`: deleted. */
  expired: number;
  /** Unreadable records: renamed `<id>.corrupt`. */
  corrupt: number;
}

function encodeHeader(kind: RecordKind, attributes: Uint8Array, createdAt: number, body: number) {
  const h = Buffer.alloc(RECORD_HEADER_BYTES);
  MAGIC.copy(h, 0);
  h.writeUInt8(KINDS.indexOf(kind) + 1, 8);
  h.writeUInt16BE(attributes.length, 9);
  h.writeDoubleBE(createdAt, 12);
  h.writeBigUInt64BE(BigInt(body), 20);
  return h;
}

/**
 * The durable records of every channel under `<dataDir>/accepted`. Operations on one artifact
 * run one after the other (a write and the delete of the same id never interleave).
 */
export class DurableStore {
  /** `<dataDir>/accepted`. */
  readonly dir: string;
  readonly #log: Logger;
  readonly #metrics: DurableMetrics | undefined;
  readonly #now: () => number;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(
    dataDir: string,
    opts: { logger: Logger; metrics?: DurableMetrics; now?: () => number },
  ) {
    this.dir = join(dataDir, 'accepted');
    this.#log = opts.logger;
    this.#metrics = opts.metrics;
    this.#now = opts.now ?? Date.now;
  }

  /** The record's path of `id` in `channel`. */
  pathOf(channel: string, id: ArtifactId): string {
    return join(this.dir, channel, id);
  }

  /**
   * Creates the channels' folders and checks that a file can be written and fsynced there.
   * Throws {@link DurableWriteError} otherwise (the daemon then refuses to start).
   */
  async init(channels: readonly string[]): Promise<void> {
    for (const channel of channels) {
      const dir = join(this.dir, channel);
      const probe = join(dir, `.probe-${randomBytes(4).toString('hex')}.tmp`);
      try {
        await mkdir(dir, { recursive: true });
        const fh = await open(probe, 'w');
        await fh.sync().finally(() => fh.close());
        await rm(probe);
      } catch (err) {
        throw new DurableWriteError(probe, err);
      }
    }
  }

  /** Runs `fn` after every earlier operation on the same record. */
  #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return run;
  }

  async #fsync(fh: FileHandle): Promise<void> {
    const t0 = performance.now();
    await fh.sync();
    this.#metrics?.durableFsyncSeconds.observe((performance.now() - t0) / 1000);
  }

  async #fsyncPath(path: string): Promise<void> {
    const fh = await open(path, 'r');
    try {
      await this.#fsync(fh);
    } finally {
      await fh.close();
    }
  }

  /** Fsyncs the temporary `tmp`, renames it to `final`, fsyncs the folder. */
  async #commit(fh: FileHandle, tmp: string, final: string, channel: string): Promise<void> {
    await this.#fsync(fh);
    await fh.close();
    await rename(tmp, final);
    await this.#fsyncPath(join(this.dir, channel));
  }

  #tmpPath(channel: string): string {
    return join(this.dir, channel, `.${randomBytes(8).toString('hex')}.tmp`);
  }

  #counted<T>(channel: string, path: string, write: () => Promise<T>): Promise<T> {
    return write().then(
      (value) => {
        this.#metrics?.durableWrites.inc({ channel, outcome: 'ok' });
        return value;
      },
      (err: unknown) => {
        this.#metrics?.durableWrites.inc({ channel, outcome: 'failed' });
        this.#log.error({ err, channel, path }, 'durable write failed');
        throw err instanceof DurableWriteError ? err : new DurableWriteError(path, err);
      },
    );
  }

  /**
   * Stores a record of `id` with `body` (none for `chunk-store`), durably. A record already
   * there is kept as it is (the same artifact, accepted earlier: its creation time stands).
   * Throws {@link DurableWriteError}.
   */
  write(
    channel: string,
    id: ArtifactId,
    kind: RecordKind,
    body: Uint8Array,
    attributes: Uint8Array,
    createdAt = this.#now(),
  ): Promise<void> {
    const final = this.pathOf(channel, id);
    return this.#serial(`${channel}/${id}`, () =>
      this.#counted(channel, final, async () => {
        if (await exists(final)) return;
        const tmp = this.#tmpPath(channel);
        const fh = await open(tmp, 'w');
        try {
          const header = encodeHeader(kind, attributes, createdAt, body.length);
          await fh.writev([header, attributes, body]);
          await this.#commit(fh, tmp, final, channel);
        } catch (err) {
          await fh.close().catch(() => undefined);
          await rm(tmp, { force: true });
          throw err;
        }
      }),
    );
  }

  /**
   * Starts the record of a chunked artifact whose id is known only once its body has been read:
   * `tee(source)` writes every piece to a temporary file as it passes on; `commit(id)` makes it
   * the record of `id` (fsync, rename, fsync of the folder); `discard()` drops it. Exactly one
   * of them must be called after the body was read (or failed).
   */
  streamed(
    channel: string,
    attributes: Uint8Array,
  ): {
    tee(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer>;
    commit(id: ArtifactId): Promise<void>;
    discard(): Promise<void>;
  } {
    const tmp = this.#tmpPath(channel);
    const createdAt = this.#now();
    let fh: FileHandle | undefined;
    let size = 0;
    const self = this;
    return {
      async *tee(source) {
        fh = await open(tmp, 'w').catch((err: unknown) => {
          throw new DurableWriteError(tmp, err);
        });
        await fh.write(encodeHeader('chunked', attributes, createdAt, 0));
        await fh.write(attributes);
        for await (const piece of source) {
          await fh.write(piece).catch((err: unknown) => {
            throw new DurableWriteError(tmp, err);
          });
          size += piece.length;
          yield piece;
        }
      },
      commit(id) {
        const final = self.pathOf(channel, id);
        return self.#serial(`${channel}/${id}`, () =>
          self.#counted(channel, final, async () => {
            const file = fh!;
            if (await exists(final)) {
              await file.close();
              await rm(tmp, { force: true });
              return;
            }
            try {
              const header = encodeHeader('chunked', attributes, createdAt, size);
              await file.write(header, 0, header.length, 0);
              await self.#commit(file, tmp, final, channel);
            } catch (err) {
              await file.close().catch(() => undefined);
              await rm(tmp, { force: true });
              throw err;
            }
          }),
        );
      },
      async discard() {
        await fh?.close().catch(() => undefined);
        await rm(tmp, { force: true });
      },
    };
  }

  /** Fsyncs files written by someone else (a `DiskChunkStore`'s) and then their folder. */
  async syncFiles(channel: string, paths: readonly string[], dir: string): Promise<void> {
    try {
      for (const path of paths) await this.#fsyncPath(path);
      await this.#fsyncPath(dir);
    } catch (err) {
      this.#metrics?.durableWrites.inc({ channel, outcome: 'failed' });
      throw new DurableWriteError(dir, err);
    }
  }

  /** Deletes the record of `id` (nothing if there is none), then fsyncs the folder. */
  remove(channel: string, id: ArtifactId): Promise<void> {
    const path = this.pathOf(channel, id);
    return this.#serial(`${channel}/${id}`, async () => {
      try {
        if (!(await exists(path))) return;
        await rm(path, { force: true });
        await this.#fsyncPath(join(this.dir, channel));
      } catch (err) {
        this.#log.warn({ err, channel, path }, 'durable record not deleted');
      }
    });
  }

  /**
   * Reads the records of `channel` (a start): temporary files of writes that never finished are
   * deleted (never acknowledged), records at or past `maxAgeMs` are deleted, unreadable ones
   * counted, logged and renamed `<id>.corrupt`. Never throws for a record's content.
   */
  async scan(channel: string, maxAgeMs: number): Promise<ScanResult> {
    const dir = join(this.dir, channel);
    const result: ScanResult = { live: [], expired: 0, corrupt: 0 };
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    const now = this.#now();
    for (const name of names) {
      const path = join(dir, name);
      if (name.endsWith('.tmp')) {
        await rm(path, { force: true });
        continue;
      }
      if (!isArtifactId(name)) continue;
      const read = await this.#readHeader(channel, name, path).then(
        (record) => ({ record, problem: undefined }),
        (err: unknown) => ({ record: undefined, problem: (err as Error).message }),
      );
      const record = read.record;
      if (record === undefined) {
        result.corrupt++;
        this.#metrics?.durableRestored.inc({ channel, outcome: 'corrupt' });
        this.#log.error(
          { channel, path, problem: read.problem },
          'durable record unreadable: skipped (renamed .corrupt)',
        );
        await rename(path, `${path}.corrupt`).catch(() => rm(path, { force: true }));
        continue;
      }
      if (now - record.createdAt >= maxAgeMs) {
        result.expired++;
        this.#metrics?.durableRestored.inc({ channel, outcome: 'expired' });
        await rm(path, { force: true });
        continue;
      }
      result.live.push(record);
    }
    result.live.sort((a, b) => a.createdAt - b.createdAt);
    return result;
  }

  async #readHeader(channel: string, id: string, path: string): Promise<AcceptedRecord> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const h = Buffer.alloc(RECORD_HEADER_BYTES + 256);
      const { bytesRead } = await fh.read(h, 0, h.length, 0);
      if (bytesRead < RECORD_HEADER_BYTES || !h.subarray(0, 8).equals(MAGIC)) {
        throw new Error('not a record (short, or bad magic)');
      }
      const kind = KINDS[h.readUInt8(8) - 1];
      const attrLength = h.readUInt16BE(9);
      const createdAt = h.readDoubleBE(12);
      const bodyBytes = Number(h.readBigUInt64BE(20));
      if (kind === undefined || attrLength > 256 || !Number.isFinite(createdAt)) {
        throw new Error('bad header');
      }
      if (size !== RECORD_HEADER_BYTES + attrLength + bodyBytes) {
        throw new Error(
          `${size} bytes where the header says ${RECORD_HEADER_BYTES + attrLength + bodyBytes}`,
        );
      }
      if (kind === 'chunk-store' && bodyBytes !== 0) throw new Error('chunk-store with a body');
      const attributes = Uint8Array.prototype.slice.call(
        h,
        RECORD_HEADER_BYTES,
        RECORD_HEADER_BYTES + attrLength,
      );
      return { channel, id: id as ArtifactId, kind, attributes, createdAt, bodyBytes, path };
    } finally {
      await fh.close();
    }
  }

  /**
   * The bytes of a `whole` record, checked against its id. Throws if they do not match (the
   * caller counts it as corrupt).
   */
  async readWhole(record: AcceptedRecord): Promise<Uint8Array> {
    const all = await readFile(record.path);
    const body = all.subarray(RECORD_HEADER_BYTES + record.attributes.length);
    if (artifactId(body) !== record.id) throw new Error('body does not hash to its id');
    return body;
  }

  /** The body of a `chunked` record, as a stream. */
  readChunked(record: AcceptedRecord): AsyncIterable<Buffer> {
    return createReadStream(record.path, {
      start: RECORD_HEADER_BYTES + record.attributes.length,
    });
  }

  /** Counts, logs and sets aside a record found bad after its header (e.g. a wrong hash). */
  async setAside(record: AcceptedRecord, problem: string): Promise<void> {
    this.#metrics?.durableRestored.inc({ channel: record.channel, outcome: 'corrupt' });
    this.#log.error(
      { channel: record.channel, path: record.path, problem },
      'durable record unreadable: skipped (renamed .corrupt)',
    );
    await rename(record.path, `${record.path}.corrupt`).catch(() =>
      rm(record.path, { force: true }),
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
