// The public paths that threw plain Errors throw typed ones, each with its stable code.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DiskChunkStore, InMemoryChunkStore } from '../../src/broadcast/index.ts';
import {
  ArtifactNotOpenError,
  BadManifestError,
  ChunkingOffError,
  InvalidStateError,
  SubnetP2pError,
  type SubnetP2pErrorCode,
} from '../../src/errors.ts';
import { generateIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { createNode } from '../../src/node/index.ts';
import { InMemoryRegistryClient } from '../../src/registry/index.ts';
import { createTransport } from '../../src/transport/index.ts';
import { identities } from '../helpers/common.ts';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';

/** An assert.throws/rejects matcher: an instance of `cls` with `code`. */
function typed(cls: new (...args: never[]) => SubnetP2pError, code: SubnetP2pErrorCode) {
  return (err: unknown) => {
    assert.ok(err instanceof cls, String(err));
    assert.equal(err.code, code);
    return true;
  };
}

describe('typed errors on public paths', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await removeTempDir(d);
  });

  it('the code is a closed union: an unknown code does not compile', () => {
    // @ts-expect-error 'ERR_NOT_A_CODE' is not a SubnetP2pErrorCode.
    const err = new SubnetP2pError('ERR_NOT_A_CODE', 'x');
    assert.equal(err.code, 'ERR_NOT_A_CODE');
  });

  it('a transport asked for its address before it listens, or started twice: ERR_INVALID_STATE', async () => {
    const [identity] = await identities(1);
    const transport = createTransport({
      identity: identity!,
      registry: new InMemoryRegistryClient(),
      subnet: 's1',
      listen: { host: '127.0.0.1', port: 0 },
      logger: silentLogger(),
    });
    try {
      assert.throws(() => transport.address(), typed(InvalidStateError, 'ERR_INVALID_STATE'));
      await transport.start();
      await assert.rejects(transport.start(), typed(InvalidStateError, 'ERR_INVALID_STATE'));
    } finally {
      await transport.stop();
    }
  });

  it('a chunk put before its artifact was opened: ERR_ARTIFACT_NOT_OPEN, in memory and on disk', async () => {
    const mem = new InMemoryChunkStore();
    const { id, manifest } = await mem.import([new Uint8Array(3000)], 1000);
    const chunk = new Uint8Array(1000);
    const notOpen = typed(ArtifactNotOpenError, 'ERR_ARTIFACT_NOT_OPEN');
    await assert.rejects(new InMemoryChunkStore().put(id, 0, chunk), notOpen);
    const dir = await tempDir('subnet-p2p-typed-errors-');
    dirs.push(dir);
    const disk = new DiskChunkStore(dir);
    await assert.rejects(disk.put(id, 0, chunk), notOpen);
    // And a manifest that does not decode: ERR_BAD_MANIFEST.
    await assert.rejects(
      disk.open(id, new Uint8Array(7)),
      typed(BadManifestError, 'ERR_BAD_MANIFEST'),
    );
    await disk.open(id, manifest);
    await disk.put(id, 0, chunk);
  });

  it('a streamed broadcast on a channel whose chunking is off: ERR_CHUNKING_OFF', async () => {
    const node = await createNode({
      identity: await generateIdentity(),
      registry: new InMemoryRegistryClient(),
      subnet: 's1',
      listen: { host: '127.0.0.1', port: 0 },
      channels: { ingress: { chunking: undefined } },
      logger: silentLogger(),
    });
    try {
      await assert.rejects(
        node.channel('ingress').broadcastStream([new Uint8Array(10)]),
        (err: unknown) =>
          typed(ChunkingOffError, 'ERR_CHUNKING_OFF')(err) && /ingress/.test(String(err)),
      );
    } finally {
      await node.stop();
    }
  });
});
