/**
 * The manifest of a chunked artifact and its canonical encoding. The artifact's id is the
 * SHA-256 of that encoding, so the id commits to every chunk's hash and each chunk is verified
 * on arrival.
 *
 * Encoding (all integers big-endian): magic `SP2M` (4 bytes), version 1 (1 byte), chunk size
 * (u32), total size (u64), then the SHA-256 of each chunk in order (32 bytes each). The number
 * of chunks is ceil(total / chunk size) (at least 1); every chunk is `chunk size` bytes but the
 * last. There is exactly one encoding of a manifest: a decoder accepts nothing else.
 * @module
 */
import { createHash } from 'node:crypto';
import type { ArtifactId } from '../types.ts';

const MAGIC = Buffer.from('SP2M');
const VERSION = 1;
export const MANIFEST_HEADER_BYTES = 17;
const HASH_BYTES = 32;

export interface Manifest {
  readonly chunkBytes: number;
  readonly totalBytes: number;
  /** SHA-256 of each chunk (32 bytes each), in order. */
  readonly hashes: readonly Uint8Array[];
}

/** Chunks of an artifact of `total` bytes cut in `chunkBytes` pieces (an empty one has one). */
export function chunkCount(total: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(total / chunkBytes));
}

/** Length of chunk `index` of `m`. */
export function chunkLength(m: Manifest, index: number): number {
  const last = m.hashes.length - 1;
  return index < last ? m.chunkBytes : m.totalBytes - last * m.chunkBytes;
}

/**
 * Whether an advert's claims can describe one artifact: a manifest of `manifestSize` bytes
 * (a whole number of chunk hashes, at least one) for `totalBytes` bytes in chunks of at most
 * `maxChunkBytes` (and at least 1 byte). A lying advert is refused before anything is fetched.
 */
export function advertFits(
  totalBytes: number,
  manifestSize: number,
  maxChunkBytes: number,
): boolean {
  const hashBytes = manifestSize - MANIFEST_HEADER_BYTES;
  if (hashBytes < HASH_BYTES || hashBytes % HASH_BYTES !== 0) return false;
  const chunks = hashBytes / HASH_BYTES;
  return chunks >= chunkCount(totalBytes, maxChunkBytes) && chunks <= Math.max(1, totalBytes);
}

/** Bytes of the encoding of a manifest of `chunks` chunks. */
export function manifestBytes(chunks: number): number {
  return MANIFEST_HEADER_BYTES + HASH_BYTES * chunks;
}

export function encodeManifest(m: Manifest): Uint8Array {
  const out = Buffer.allocUnsafe(manifestBytes(m.hashes.length));
  MAGIC.copy(out, 0);
  out.writeUInt8(VERSION, 4);
  out.writeUInt32BE(m.chunkBytes, 5);
  out.writeBigUInt64BE(BigInt(m.totalBytes), 9);
  m.hashes.forEach((h, i) => {
    out.set(h, MANIFEST_HEADER_BYTES + i * HASH_BYTES);
  });
  return out;
}

/** Decodes a manifest; undefined unless `bytes` is exactly a canonical encoding. */
export function decodeManifest(bytes: Uint8Array): Manifest | undefined {
  if (bytes.length < manifestBytes(1)) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (!b.subarray(0, 4).equals(MAGIC) || b.readUInt8(4) !== VERSION) return undefined;
  const chunkBytes = b.readUInt32BE(5);
  const total = b.readBigUInt64BE(9);
  if (chunkBytes === 0 || total > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const totalBytes = Number(total);
  const n = chunkCount(totalBytes, chunkBytes);
  if (b.length !== manifestBytes(n)) return undefined;
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const at = MANIFEST_HEADER_BYTES + i * HASH_BYTES;
    hashes.push(b.subarray(at, at + HASH_BYTES));
  }
  return { chunkBytes, totalBytes, hashes };
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

/** The id of a chunked artifact: SHA-256 of its manifest's encoding, hex. */
export function manifestId(encoded: Uint8Array): ArtifactId {
  return createHash('sha256').update(encoded).digest('hex') as ArtifactId;
}

/**
 * Builds the manifest of a chunked artifact from its chunks, added in order (each `chunkBytes`
 * long but the last): the one place a manifest is made from chunks (the stores' imports, the
 * driver's synchronous broadcast, the simulator's origins).
 */
export class ManifestBuilder {
  readonly chunkBytes: number;
  readonly #hashes: Uint8Array[] = [];
  #total = 0;

  constructor(chunkBytes: number) {
    this.chunkBytes = chunkBytes;
  }

  /** The bytes added so far. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Adds the next chunk (its SHA-256 is taken; the bytes are not kept). */
  add(chunk: Uint8Array): this {
    this.#hashes.push(sha256(chunk));
    this.#total += chunk.length;
    return this;
  }

  /** The manifest of the chunks added, its encoding and the artifact's id (its SHA-256). */
  build(): { manifest: Manifest; encoded: Uint8Array; id: ArtifactId } {
    const manifest: Manifest = {
      chunkBytes: this.chunkBytes,
      totalBytes: this.#total,
      hashes: [...this.#hashes],
    };
    const encoded = encodeManifest(manifest);
    return { manifest, encoded, id: manifestId(encoded) };
  }
}

/** Cuts `bytes` into chunks of `chunkBytes` (views, not copies; an empty artifact has one). */
export function cutChunks(bytes: Uint8Array, chunkBytes: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length || chunks.length === 0; at += chunkBytes) {
    chunks.push(bytes.subarray(at, at + chunkBytes));
  }
  return chunks;
}

/** The manifest (encoded) and id of `bytes` cut into chunks of `chunkBytes`. */
export function manifestOf(
  bytes: Uint8Array,
  chunkBytes: number,
): { encoded: Uint8Array; id: ArtifactId } {
  const builder = new ManifestBuilder(chunkBytes);
  for (const chunk of cutChunks(bytes, chunkBytes)) builder.add(chunk);
  return builder.build();
}

/**
 * Cuts a stream into chunks of exactly `chunkBytes` (the last may be shorter), holding at most
 * one chunk (plus one source piece) at a time.
 */
export async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  let buf = Buffer.allocUnsafe(chunkBytes);
  let fill = 0;
  let any = false;
  for await (const piece of source) {
    let at = 0;
    while (at < piece.length) {
      const n = Math.min(chunkBytes - fill, piece.length - at);
      buf.set(piece.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === chunkBytes) {
        any = true;
        yield buf;
        buf = Buffer.allocUnsafe(chunkBytes);
        fill = 0;
      }
    }
  }
  if (fill > 0 || !any) yield buf.subarray(0, fill);
}

/** A fixed-size set of chunk indices, as the bitmap of a Have message. */
export class Bitset {
  readonly bits: Uint8Array;
  readonly size: number;
  #count = 0;

  constructor(size: number, bits?: Uint8Array) {
    this.size = size;
    this.bits = new Uint8Array(Math.ceil(size / 8));
    if (bits) {
      this.bits.set(bits.subarray(0, this.bits.length));
      // Bits past `size` are not ours.
      if (size % 8 !== 0) this.bits[this.bits.length - 1]! &= (1 << (size % 8)) - 1;
      for (let i = 0; i < size; i++) if (this.has(i)) this.#count++;
    }
  }

  /** Bytes of the bitmap of `size` chunks. */
  static bytesFor(size: number): number {
    return Math.ceil(size / 8);
  }

  has(i: number): boolean {
    return (this.bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  add(i: number): void {
    if (this.has(i)) return;
    this.bits[i >> 3]! |= 1 << (i & 7);
    this.#count++;
  }

  delete(i: number): void {
    if (!this.has(i)) return;
    this.bits[i >> 3]! &= ~(1 << (i & 7));
    this.#count--;
  }

  get count(): number {
    return this.#count;
  }

  get full(): boolean {
    return this.#count === this.size;
  }

  indices(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.has(i)) out.push(i);
    return out;
  }
}
