// bench:large-floor in small: every floor mode moves every chunk to every node (4 node threads,
// 6 chunks of 64 KiB), so the floor the large-artifact figures are judged against cannot rot
// unnoticed. No assertion on speed.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FLOOR_MODES, floorRunMs } from '../../bench/floor-node.ts';
import { generateIdentity, type NodeIdentity } from '../../src/identity/index.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';

const NODES = 4;
const CHUNKS = 6;
const CHUNK_BYTES = 64 * 1024;
let identity: NodeIdentity;
let dir: string;

before(async () => {
  identity = await generateIdentity();
  dir = await tempDir('floor-test-');
});
after(() => removeTempDir(dir));

for (const mode of FLOOR_MODES) {
  test(`floor mode '${mode}' brings every chunk to every node`, async () => {
    const ms = await floorRunMs({
      mode,
      nodes: NODES,
      chunks: CHUNKS,
      chunkBytes: CHUNK_BYTES,
      key: identity.privateKeyPem,
      cert: identity.certificatePem,
      dir,
    });
    assert.ok(ms > 0, `${ms}`);
    if (mode !== 'store') return;
    // Every node's file holds every chunk at its offset (the origin numbers each chunk in its
    // first four bytes), so every relay reached every node.
    for (let node = 0; node < NODES; node++) {
      const file = await readFile(join(dir, `node-${node}`));
      assert.equal(file.length, CHUNKS * CHUNK_BYTES, `node ${node}`);
      for (let k = 0; k < CHUNKS; k++) {
        assert.equal(file.readUInt32BE(k * CHUNK_BYTES), k, `node ${node} chunk ${k}`);
      }
    }
  });
}
