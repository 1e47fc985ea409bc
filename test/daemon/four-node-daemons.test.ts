// End to end: four `subnet-p2p node` processes on 127.0.0.1, set up with the CLI (keygen, a
// signed registry), driven through their HTTP APIs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { removeTempDir, tempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  apiFetch,
  cliOk,
  connectedTo,
  DaemonProcess,
  EventStreamClient,
  fetched,
  freePort,
  getArtifact,
  postArtifact as post,
  signedSubnet,
  status,
  until,
  within,
  writeNodeConfig,
} from './helpers.ts';

const N = 4;
const SUBNET = 's1';

interface Member {
  nodeId: string;
  config: string;
  daemon: DaemonProcess;
  api: string;
}

describe('four node daemons', { timeout: slow(180_000) }, () => {
  let dir: string;
  let registry: string;
  let operatorKey: string;
  const members: Member[] = [];
  const streams: EventStreamClient[] = [];

  async function start(m: Member): Promise<void> {
    m.daemon = new DaemonProcess(m.config);
    m.api = await m.daemon.ready;
  }

  before(async () => {
    dir = await tempDir('subnet-p2p-daemons-');
    const ports = await Promise.all(Array.from({ length: N }, () => freePort()));
    let ids: string[];
    ({ ids, registry, operatorKey } = await signedSubnet(
      dir,
      SUBNET,
      ports.map((port) => `127.0.0.1:${port}`),
    ));
    for (let i = 0; i < N; i++) {
      const config = await writeNodeConfig(dir, i, ports[i]!, {
        subnet: SUBNET,
        limits: { statusSampleMs: 500, shutdownQuietMs: 1000 },
      });
      members.push({ nodeId: ids[i]!, config, daemon: undefined!, api: '' });
    }
    await Promise.all(members.map(start));
  });

  after(async () => {
    for (const s of streams) s.close();
    await Promise.all(members.map((m) => m.daemon?.dispose()));
    await removeTempDir(dir);
  });

  const others = (m: Member) => members.filter((x) => x !== m).map((x) => x.nodeId);

  it('links every pair, with the signed registry version in each status', async () => {
    for (const m of members) {
      const s = await connectedTo(m.api, others(m));
      assert.equal(s.nodeId, m.nodeId);
      assert.equal(s.subnet, SUBNET);
      assert.equal(s.registryVersion, N);
      for (const p of s.peers) assert.ok(typeof p.connId === 'number' && p.connId > 0);
    }
  });

  let first: { id: string; bytes: Uint8Array } | undefined;

  it('an artifact POSTed to one node is readable from all others and announced on their event streams', async () => {
    const [origin, ...receivers] = members as [Member, ...Member[]];
    const ingress = await Promise.all(
      receivers.map((r) => EventStreamClient.open(r.api, 'ingress')),
    );
    const consensus = await Promise.all(
      receivers.map((r) => EventStreamClient.open(r.api, 'consensus')),
    );
    streams.push(...ingress, ...consensus);

    const bytes = randomBytes(200_000);
    const attributes = Uint8Array.of(7, 8, 9);
    const id = await post(origin.api, 'ingress', bytes, attributes);
    const vote = randomBytes(300);
    const voteId = await post(origin.api, 'consensus', vote);
    first = { id, bytes };

    for (const [i, r] of receivers.entries()) {
      const event = await ingress[i]!.waitFor(id);
      assert.deepEqual(event, {
        channel: 'ingress',
        id,
        size: bytes.length,
        attributes: Buffer.from(attributes).toString('base64'),
        from: origin.nodeId,
      });
      const res = await getArtifact(r.api, 'ingress', id);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);

      const voteEvent = await consensus[i]!.waitFor(voteId);
      assert.equal(voteEvent.size, vote.length);
      assert.deepEqual(await fetched(r.api, 'consensus', voteId), vote);
    }
    // Nothing else was announced: one artifact per stream.
    for (const s of [...ingress, ...consensus]) assert.equal(s.events.length, 1);
  });

  it('a node killed with SIGKILL and restarted catches up on what it missed; DELETE stops a spread', async () => {
    const [a, b, c, d] = members as [Member, Member, Member, Member];
    d.daemon.kill('SIGKILL');
    assert.equal((await d.daemon.exited).signal, 'SIGKILL');
    for (const m of [a, b, c]) {
      await connectedTo(
        m.api,
        others(m).filter((id) => id !== d.nodeId),
      );
    }

    // Missed while down: one artifact per channel, posted to different nodes.
    const missed = { id: await post(a.api, 'ingress', randomBytes(150_000)), channel: 'ingress' };
    const missedVote = {
      id: await post(b.api, 'consensus', randomBytes(500)),
      channel: 'consensus',
    };
    // And one that every holder aborts before the node is back: it must never reach it.
    const withdrawn = await post(c.api, 'ingress', randomBytes(50_000));
    for (const m of [a, b, c]) {
      await fetched(m.api, 'ingress', missed.id);
      await fetched(m.api, 'consensus', missedVote.id);
      await fetched(m.api, 'ingress', withdrawn);
    }
    for (const m of [a, b, c]) {
      const res = await apiFetch(`${m.api}/v1/channels/ingress/artifacts/${withdrawn}`, {
        method: 'DELETE',
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id: withdrawn, held: true });
      assert.equal((await getArtifact(m.api, 'ingress', withdrawn)).status, 404);
    }
    // Posted after the aborts, on the same lane: once it arrives, so would have the withdrawn one.
    const fence = await post(c.api, 'ingress', randomBytes(50_000));

    await start(d);
    await connectedTo(d.api, others(d));
    assert.deepEqual(
      await fetched(d.api, 'ingress', missed.id),
      await fetched(a.api, 'ingress', missed.id),
    );
    await fetched(d.api, 'consensus', missedVote.id);
    await fetched(d.api, 'ingress', fence);
    // What it held before the crash (lost with its memory) comes back too.
    assert.deepEqual(await fetched(d.api, 'ingress', first!.id), Buffer.from(first!.bytes));
    // The withdrawn artifact is nowhere.
    for (const m of members) {
      assert.equal((await getArtifact(m.api, 'ingress', withdrawn)).status, 404);
    }
  });

  it('removing a node from the registry file closes its links; the others show it gone', async () => {
    const [a, b, c, d] = members as [Member, Member, Member, Member];
    // Signed in the same step: no unsigned version is ever in place.
    await cliOk([
      ...['registry', 'remove-node', '--file', registry, '--node', d.nodeId],
      ...['--key', operatorKey],
    ]);
    for (const m of [a, b, c]) {
      const s = await until(`${m.api} to adopt version ${N + 1}`, async () => {
        const s = await status(m.api);
        return s.registryVersion === N + 1 ? s : undefined;
      });
      assert.ok(!s.peers.some((p) => p.nodeId === d.nodeId), 'removed node still listed');
      await connectedTo(
        m.api,
        others(m).filter((id) => id !== d.nodeId),
      );
    }
    const gone = await until('the removed node to have no peers', async () => {
      const s = await status(d.api);
      return s.registryVersion === N + 1 && s.peers.length === 0 ? s : undefined;
    });
    assert.equal(gone.nodeId, d.nodeId);
    const metrics = await (await apiFetch(`${d.api}/metrics`)).text();
    assert.match(metrics, /^subnet_p2p_transport_links_up 0$/m);
    // Each of its three links closed in order: by itself (removed) or by the peer (goodbye).
    const closed = [
      ...metrics.matchAll(
        /^subnet_p2p_transport_links_closed_total\{reason="(\w+)"[^}]*\} (\d+)$/gm,
      ),
    ];
    const orderly = closed
      .filter(([, reason]) => reason === 'removed_from_registry' || reason === 'goodbye_received')
      .reduce((sum, [, , n]) => sum + Number(n), 0);
    assert.equal(orderly, 3, metrics);
  });

  it('SIGTERM shuts a node down gracefully: exit 0, and an artifact accepted just before is not lost', async () => {
    const [a, b, c] = members as [Member, Member, Member];
    const [sb, sc] = await Promise.all([
      EventStreamClient.open(b.api, 'ingress'),
      EventStreamClient.open(c.api, 'ingress'),
    ]);
    streams.push(sb, sc);
    // Enough that peers are still fetching when the signal arrives.
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push(await post(a.api, 'ingress', randomBytes(1 << 20)));
    a.daemon.kill('SIGTERM');
    assert.deepEqual(await a.daemon.exited, { code: 0, signal: null }, a.daemon.stderr);
    for (const id of ids) {
      await within(
        15_000,
        Promise.all([sb.waitFor(id), sc.waitFor(id)]),
        `artifact ${id} delivered`,
      );
      assert.equal((await getArtifact(b.api, 'ingress', id)).status, 200);
    }
    // The others saw a goodbye, not a broken socket.
    const metrics = await (await apiFetch(`${b.api}/metrics`)).text();
    assert.match(
      metrics,
      /^subnet_p2p_transport_links_closed_total\{reason="goodbye_received"[^}]*\} [1-9]/m,
    );
    for (const m of members.slice(1)) m.daemon.kill('SIGTERM');
    for (const m of members.slice(1)) assert.equal((await m.daemon.exited).code, 0);
  });
});
