// The operator's view of a channel through the daemon's HTTP API, in-process (one node, a real
// registry file): the paged listing of what a channel holds, purge by watermark and by age, and
// each channel's use of its bounds in /v1/status. Everything here is synchronous in the node
// once a request is answered: no waits.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { InMemoryChunkStore } from '../../src/broadcast/index.ts';
import type { ArtifactListJson, ChannelStatusJson, StatusJson } from '../../src/daemon/http-api.ts';
import type { Daemon } from '../../src/daemon/run-daemon.ts';
import { removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { apiFetch, authHeader, partialChunked, postArtifact, startOneDaemon } from './helpers.ts';

const MIB = 1024 * 1024;

async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  return body.error.message;
}

const height = (h: number) => Buffer.from(JSON.stringify({ height: h }));

describe('daemon HTTP API: listing, purge, and the bounds in status', {
  timeout: slow(60_000),
}, () => {
  let dir: string;
  let daemon: Daemon;
  let api: string;

  before(async () => {
    ({
      dir,
      daemon,
      base: api,
    } = await startOneDaemon('subnet-p2p-list-', {
      channels: {
        consensus: {},
        ingress: {
          maxArtifactBytes: 64 * 1024,
          maxSlots: 500,
          maxBytes: 8 * MIB,
          maxAgeMs: 120_000,
          peerShare: 0.5,
        },
      },
      limits: { shutdownQuietMs: 10 },
    }));
  });

  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  const list = async (query: string): Promise<ArtifactListJson> => {
    const res = await apiFetch(`${api}/v1/channels/ingress/artifacts${query}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    return (await res.json()) as ArtifactListJson;
  };

  /** Every artifact of the listing, page by page (`limit` each), checking the pages. */
  const listAll = async (limit: number) => {
    const all: ArtifactListJson['artifacts'] = [];
    let after: number | null = null;
    let pages = 0;
    do {
      const page: ArtifactListJson = await list(
        `?limit=${limit}${after === null ? '' : `&after=${after}`}`,
      );
      assert.ok(page.artifacts.length <= limit);
      // Only the last page may be short, or empty.
      if (page.next !== null) assert.equal(page.artifacts.length, limit);
      all.push(...page.artifacts);
      after = page.next;
      pages++;
    } while (after !== null);
    return { all, pages };
  };

  const purge = (body: unknown, channel = 'ingress') =>
    apiFetch(`${api}/v1/channels/${channel}/purge`, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });

  const channelStatus = async (name: string): Promise<ChannelStatusJson> => {
    const status = (await (await apiFetch(`${api}/v1/status`)).json()) as StatusJson;
    const ch = status.channels.find((c) => c.name === name);
    assert.ok(ch, `channel ${name} in status`);
    return ch;
  };

  it('lists every artifact held once, page by page with the cursor; purges by watermark', async () => {
    const ids = new Map<string, number>();
    for (let h = 0; h < 25; h++) {
      ids.set(await postArtifact(api, 'ingress', Buffer.from(`block ${h}`), height(h)), h);
    }
    const { all, pages } = await listAll(7);
    assert.equal(pages, 4);
    assert.deepEqual(all.map((a) => a.id).sort(), [...ids.keys()].sort());
    for (const a of all) {
      const h = ids.get(a.id)!;
      assert.equal(a.size, `block ${h}`.length);
      assert.equal(a.attributes, height(h).toString('base64'));
      assert.equal(a.origin, 'self');
      assert.equal(a.held, 'whole');
      assert.ok(a.ageMs >= 0 && a.ageMs < 120_000);
    }
    // The default page holds them all; a page past the end is empty.
    const first = await list('');
    assert.equal(first.artifacts.length, 25);
    assert.equal(first.next, null);
    const small = await list('?limit=24');
    assert.equal(small.artifacts.length, 24);
    assert.ok(small.next !== null);
    const last = await list(`?after=${small.next}&limit=1000`);
    assert.deepEqual(
      last.artifacts.map((a) => a.id),
      [first.artifacts[24]!.id],
    );
    assert.equal(last.next, null);

    // A watermark: everything below height 10 goes.
    const res = await purge({ below: { field: 'height', value: 10 } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { purged: 10 });
    const left = (await listAll(4)).all;
    assert.equal(left.length, 15);
    assert.ok(left.every((a) => ids.get(a.id)! >= 10));
    for (const [id, h] of ids) {
      const got = await apiFetch(`${api}/v1/channels/ingress/artifacts/${id}`);
      assert.equal(got.status, h < 10 ? 404 : 200, `height ${h}`);
      await got.arrayBuffer();
    }
    // Idempotent; a lower watermark changes nothing.
    assert.deepEqual(await (await purge({ below: { field: 'height', value: 10 } })).json(), {
      purged: 0,
    });
    assert.deepEqual(await (await purge({ below: { field: 'height', value: 3 } })).json(), {
      purged: 0,
    });
    const ch = await channelStatus('ingress');
    assert.deepEqual(ch.watermarks, { height: 10 });
    assert.equal(ch.held.artifacts, 15);
    assert.equal(ch.slots.used, 15);

    // The rest go with a higher one.
    assert.deepEqual(await (await purge({ below: { field: 'height', value: 1e9 } })).json(), {
      purged: 15,
    });
    assert.deepEqual(await list(''), { artifacts: [], next: null });
  });

  it('purges by age: only what is at least olderThanMs old', async () => {
    const channel = daemon.node.channel('ingress');
    // Artifacts broadcast a while ago (as after a restart): 90 s old already.
    const old = [0, 1, 2].map((i) => channel.broadcast(Buffer.from(`old ${i}`), { ageMs: 90_000 }));
    const fresh = [];
    for (let i = 0; i < 4; i++)
      fresh.push(await postArtifact(api, 'ingress', Buffer.from(`new ${i}`)));
    const listed = await list('');
    assert.equal(listed.artifacts.length, 7);
    for (const a of listed.artifacts) {
      if (old.includes(a.id as never)) assert.ok(a.ageMs >= 90_000, `${a.ageMs}`);
    }

    const res = await purge({ olderThanMs: 60_000 });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { purged: 3 });
    assert.deepEqual((await list('')).artifacts.map((a) => a.id).sort(), [...fresh].sort());
    for (const id of old) {
      const got = await apiFetch(`${api}/v1/channels/ingress/artifacts/${id}`);
      await expectError(got, 404, 'ERR_NOT_FOUND');
    }
    // Idempotent.
    assert.deepEqual(await (await purge({ olderThanMs: 60_000 })).json(), { purged: 0 });
    // olderThanMs 0: everything.
    assert.deepEqual(await (await purge({ olderThanMs: 0 })).json(), { purged: 4 });
    assert.equal((await list('')).artifacts.length, 0);
  });

  it('status: per channel, slots, held artifacts and bytes against their limits', async () => {
    for (let i = 0; i < 3; i++) await postArtifact(api, 'ingress', Buffer.alloc(1000, i));
    const ch = await channelStatus('ingress');
    assert.deepEqual(ch.slots, { used: 3, max: 500 });
    assert.deepEqual(ch.held, { artifacts: 3, maxArtifacts: 500, bytes: 3000, maxBytes: 8 * MIB });
    assert.deepEqual(ch.perPeer, { maxArtifacts: 250, maxBytes: 4 * MIB });
    assert.deepEqual(ch.owners, [{ origin: 'self', artifacts: 3, bytes: 3000 }]);
    assert.equal(ch.wants, 0);
    assert.equal(ch.maxAgeMs, 120_000);
    // The defaults, for a channel the config left alone.
    const consensus = await channelStatus('consensus');
    assert.equal(consensus.slots.max, 10_000);
    assert.equal(consensus.maxAgeMs, 10 * 60_000);
    assert.equal(consensus.held.maxBytes, 256 * MIB);
    assert.deepEqual(consensus.watermarks, {});

    const metrics = await (await apiFetch(`${api}/metrics`)).text();
    for (const [name, value] of [
      ['held_artifacts', 3],
      ['held_artifacts_limit', 500],
      ['held_bytes', 3000],
      ['held_bytes_limit', 8 * MIB],
    ] as const) {
      assert.match(
        metrics,
        new RegExp(`^subnet_p2p_broadcast_${name}\\{channel="ingress"\\} ${value}$`, 'm'),
      );
    }
    assert.match(
      metrics,
      /^subnet_p2p_broadcast_removed_total\{channel="ingress",reason="purged"\} 32$/m,
    );
    assert.match(
      metrics,
      /^subnet_p2p_daemon_http_requests_total\{route="list_artifacts",status="200"\} \d+$/m,
    );
    assert.match(metrics, /^subnet_p2p_daemon_http_requests_total\{route="purge",status="200"\}/m);
  });

  it('bad queries and bodies are 400 with a typed code; a large body is 413', async () => {
    const a = `${api}/v1/channels/ingress/artifacts`;
    for (const q of [
      'limit=0',
      'limit=1001',
      'limit=ten',
      'limit=',
      'limit=1.5',
      'after=-1',
      'after=1e3',
      'after=99999999999999999',
      'cursor=4',
    ]) {
      await expectError(await apiFetch(`${a}?${q}`), 400, 'ERR_BAD_QUERY');
    }
    assert.equal((await apiFetch(`${a}?limit=1000&after=0`)).status, 200);
    for (const body of [
      'not json',
      '[]',
      'null',
      '42',
      {},
      { olderThanMs: 1, below: { field: 'height', value: 1 } },
      { olderThanMs: -1 },
      { olderThanMs: 1.5 },
      { olderThanMs: '60000' },
      { below: 10 },
      { below: { field: 'height' } },
      { below: { value: 3 } },
      { below: { field: '', value: 3 } },
      { below: { field: 'height', value: '3' } },
      { below: { field: 'height', value: 3, extra: 1 } },
      { above: { field: 'height', value: 3 } },
    ]) {
      await expectError(await purge(body), 400, 'ERR_BAD_PURGE');
    }
    // A huge value is JSON's Infinity only as text: refused as not finite.
    await expectError(
      await purge('{"below":{"field":"height","value":1e999}}'),
      400,
      'ERR_BAD_PURGE',
    );
    await expectError(
      await purge({ below: { field: 'x'.repeat(5000), value: 1 } }),
      413,
      'ERR_BODY_TOO_LARGE',
    );
    // A body that never ends is refused once it grows past the bound.
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${api}/v1/channels/ingress/purge`,
        { method: 'POST', headers: { 'transfer-encoding': 'chunked', ...authHeader(api) } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
          });
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
            req.destroy();
          });
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(8192, 0x20));
    });
    assert.equal(refused.status, 413);
    assert.match(refused.body, /ERR_BODY_TOO_LARGE/);

    await expectError(await purge({ olderThanMs: 1 }, 'blocks'), 404, 'ERR_UNKNOWN_CHANNEL');
    await expectError(
      await apiFetch(`${api}/v1/channels/blocks/artifacts`),
      404,
      'ERR_UNKNOWN_CHANNEL',
    );
    const get = await apiFetch(`${api}/v1/channels/ingress/purge`);
    assert.equal(get.headers.get('allow'), 'POST');
    await expectError(get, 405, 'ERR_METHOD_NOT_ALLOWED');
    const put = await apiFetch(a, { method: 'PUT' });
    assert.equal(put.headers.get('allow'), 'GET, POST');
    await expectError(put, 405, 'ERR_METHOD_NOT_ALLOWED');
    await expectError(await apiFetch(`${api}/v1/channels/ingress/purge/x`), 404, 'ERR_NOT_FOUND');
  });
});

describe('daemon HTTP API: a chunked artifact held in part', { timeout: slow(60_000) }, () => {
  const CHUNK = 4096;
  let dir: string;
  let daemon: Daemon;
  let api: string;
  const store = new InMemoryChunkStore({ maxBytes: 64 * 1024 });
  // Held in part since before the start (a download interrupted by a restart): 1 chunk of 3.
  const { id: partial, manifest, part } = partialChunked(CHUNK);

  before(async () => {
    await store.open(partial, manifest);
    await store.put(partial, 0, part);
    let base: string;
    ({ dir, daemon, base } = await startOneDaemon(
      'subnet-p2p-list-part-',
      {
        channels: {
          blobs: {
            maxArtifactBytes: 1024 * 1024,
            chunking: { thresholdBytes: CHUNK, chunkBytes: CHUNK, maxChunkBytes: CHUNK },
          },
        },
        limits: { shutdownQuietMs: 10 },
      },
      { chunkStores: { blobs: store } },
    ));
    api = `${base}/v1/channels/blobs`;
  });

  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  it('lists it as partial beside a whole one, and purges it', async () => {
    const whole = await postArtifact(api.replace(/\/v1\/.*/, ''), 'blobs', Buffer.alloc(100, 1));
    const res = await apiFetch(`${api}/artifacts`);
    const page = (await res.json()) as ArtifactListJson;
    const held = Object.fromEntries(page.artifacts.map((a) => [a.id, a.held]));
    assert.deepEqual(held, { [partial]: 'partial', [whole]: 'whole' });
    assert.equal(page.artifacts.find((a) => a.id === partial)!.size, 3 * CHUNK);
    const purged = await apiFetch(`${api}/purge`, {
      method: 'POST',
      body: JSON.stringify({ olderThanMs: 0 }),
    });
    assert.deepEqual(await purged.json(), { purged: 2 });
    assert.equal(daemon.node.channel('blobs').chunked(partial), undefined);
    assert.deepEqual(
      ((await (await apiFetch(`${api}/artifacts`)).json()) as ArtifactListJson).artifacts,
      [],
    );
  });
});
