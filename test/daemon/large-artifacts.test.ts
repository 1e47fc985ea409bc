// End to end: two `subnet-p2p node` processes with the default channels, which chunk artifacts
// above 1 MiB: a 3 MiB artifact POSTed to one is announced, read back and deleted on the other.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  apiFetch,
  connectedTo,
  DaemonProcess,
  EventStreamClient,
  fetched,
  freePort,
  getArtifact,
  postArtifact,
  signedSubnet,
  writeConfig,
} from './helpers.ts';

const SUBNET = 's1';
const MiB = 1024 * 1024;

interface Member {
  nodeId: string;
  daemon: DaemonProcess;
  api: string;
  config: string;
}

describe('large artifacts between two node daemons', { timeout: slow(120_000) }, () => {
  let dir: string;
  const members: Member[] = [];
  const streams: EventStreamClient[] = [];

  before(async () => {
    dir = await tempDir('subnet-p2p-large-');
    const ports = await Promise.all([freePort(), freePort()]);
    const { ids } = await signedSubnet(
      dir,
      SUBNET,
      ports.map((port) => `127.0.0.1:${port}`),
    );
    for (const [i, port] of ports.entries()) {
      // No channels: the daemon's defaults (consensus and ingress, up to 4 MiB, chunked above 1 MiB).
      const config = await writeConfig(dir, `node${i}`, {
        identityDir: `node${i}`,
        registryFile: 'registry.json',
        registryPublicKey: 'operator/operator.pub',
        subnet: SUBNET,
        listen: `127.0.0.1:${port}`,
        api: '127.0.0.1:0',
        limits: { shutdownQuietMs: 100 },
        // The second node keeps chunks on disk (the first in memory, the default).
        ...(i === 1 ? { chunkDir: 'chunks-node1' } : {}),
      });
      members.push({ nodeId: ids[i]!, daemon: new DaemonProcess(config), api: '', config });
    }
    for (const m of members) m.api = await m.daemon.ready;
    const [a, b] = members as [Member, Member];
    await connectedTo(a.api, [b.nodeId]);
    await connectedTo(b.api, [a.nodeId]);
  });

  after(async () => {
    for (const s of streams) s.close();
    await Promise.all(members.map((m) => m.daemon?.dispose()));
    await removeTempDir(dir);
  });

  it('a 3 MiB artifact POSTed to one node is announced with its size on the other, read back byte-identical, and deleted', async () => {
    const [a, b] = members as [Member, Member];
    const events = await EventStreamClient.open(b.api, 'ingress');
    streams.push(events);
    const bytes = randomBytes(3 * MiB);
    const attributes = Uint8Array.of(1, 2, 3);
    const id = await postArtifact(a.api, 'ingress', bytes, attributes);
    // Chunked: the id is its manifest's hash, not the hash of the bytes.
    assert.notEqual(id, createHash('sha256').update(bytes).digest('hex'));

    assert.deepEqual(await events.waitFor(id), {
      channel: 'ingress',
      id,
      size: bytes.length,
      attributes: Buffer.from(attributes).toString('base64'),
      from: a.nodeId,
    });
    const res = await getArtifact(b.api, 'ingress', id);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(bytes.length));
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'the bytes read back differ');
    const head = await apiFetch(`${b.api}/v1/channels/ingress/artifacts/${id}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    const metrics = await (await apiFetch(`${b.api}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(
        `^subnet_p2p_daemon_delivered_bytes_total\\{channel="ingress"\\} ${bytes.length}$`,
        'm',
      ),
    );

    for (const m of [b, a]) {
      const del = await apiFetch(`${m.api}/v1/channels/ingress/artifacts/${id}`, {
        method: 'DELETE',
      });
      assert.equal(del.status, 200);
      assert.deepEqual(await del.json(), { id, held: true });
      const gone = await getArtifact(m.api, 'ingress', id);
      assert.equal(gone.status, 404);
      assert.equal(
        ((await gone.json()) as { error: { code: string } }).error.code,
        'ERR_NOT_FOUND',
      );
    }
    // Exactly one announcement.
    assert.equal(events.events.length, 1);
  });

  it('with chunkDir, the chunks are on disk, and the artifact is still served after a crash and restart', async () => {
    const [a, b] = members as [Member, Member];
    const bytes = randomBytes(2 * MiB + 12345);
    const id = await postArtifact(a.api, 'ingress', bytes);
    assert.ok((await fetched(b.api, 'ingress', id)).equals(bytes));
    const data = join(dir, 'chunks-node1', 'ingress', `${id}.data`);
    assert.equal((await stat(data)).size, bytes.length, 'the chunks are in the data file');
    const fetchedChunks =
      /^subnet_p2p_broadcast_chunks_total\{[^}]*outcome="fetched"[^}]*\} [1-9]/m;
    assert.match(await (await apiFetch(`${b.api}/metrics`)).text(), fetchedChunks);
    b.daemon.kill('SIGKILL');
    await b.daemon.exited;
    b.daemon = new DaemonProcess(b.config);
    b.api = await b.daemon.ready;
    // Served from the disk store the restarted node found, without fetching it again.
    const res = await getArtifact(b.api, 'ingress', id);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'the bytes read back differ');
    const metrics = await (await apiFetch(`${b.api}/metrics`)).text();
    assert.doesNotMatch(metrics, fetchedChunks, 'the restarted node fetched chunks again');
  });
});
