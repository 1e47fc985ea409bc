/** One manifest builder: built chunk by chunk or from bytes, it is the canonical manifest. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  cutChunks,
  decodeManifest,
  encodeManifest,
  ManifestBuilder,
  manifestOf,
  rechunk,
} from '../../src/broadcast/chunks/manifest.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

describe('ManifestBuilder', () => {
  for (const size of [0, 1, 999, 1000, 1001, 4567]) {
    it(`builds the canonical manifest of ${size} bytes (chunks of 1000)`, async () => {
      const bytes = createHash('sha512').update(String(size)).digest();
      const data = new Uint8Array(size).map((_, i) => bytes[i % bytes.length]! ^ (i >> 6));
      const hashes: Uint8Array[] = [];
      for (let at = 0; at < size || hashes.length === 0; at += 1000) {
        hashes.push(sha(data.subarray(at, at + 1000)));
      }
      const expected = encodeManifest({ chunkBytes: 1000, totalBytes: size, hashes });
      const expectedId = sha(expected).toString('hex');
      const { encoded, id } = manifestOf(data, 1000);
      assert.deepEqual(Buffer.from(encoded), Buffer.from(expected));
      assert.equal(id, expectedId);
      assert.equal(cutChunks(data, 1000).length, hashes.length);
      // Streamed in uneven pieces: the same manifest.
      const builder = new ManifestBuilder(1000);
      const pieces = [data.subarray(0, 7), data.subarray(7, 1500), data.subarray(1500)];
      for await (const chunk of rechunk(pieces, 1000)) builder.add(chunk);
      const built = builder.build();
      assert.equal(builder.totalBytes, size);
      assert.equal(built.id, expectedId);
      assert.deepEqual(decodeManifest(built.encoded), built.manifest);
    });
  }
});
