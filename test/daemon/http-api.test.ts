// The daemon's HTTP API in-process (one node, a real registry file): routes, error paths, and
// the bounds of uploads, event streams and the status history.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Registry as MetricsRegistry } from 'prom-client';
import {
  type ArtifactId,
  type DeliveredArtifact,
  InMemoryChunkStore,
} from '../../src/broadcast/index.ts';
import type { Daemon } from '../../src/daemon/run-daemon.ts';
import { EventStreams } from '../../src/daemon/sse.ts';
import { StatusHistory } from '../../src/daemon/status-history.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  apiFetch,
  authHeader,
  EventStreamClient,
  partialChunked,
  startOneDaemon,
  until,
} from './helpers.ts';

const MAX = 64 * 1024;

interface ErrorBody {
  error: { code: string; message: string };
}

async function expectError(res: Response, status: number, code: string): Promise<string> {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as ErrorBody;
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  return body.error.message;
}

/** Sends a POST whose body never ends; resolves with the response (and how much was sent). */
function unfinishedPost(
  url: string,
  headers: Record<string, string | number>,
  chunk: Buffer,
  maxBytes: number,
): Promise<{ res: IncomingMessage; body: string; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(url, { method: 'POST', headers }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        resolve({ res, body, sent });
        req.destroy();
      });
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pump = () => {
      while (!answered && sent < maxBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/**
 * A temporary directory for one daemon: its identity in `node/` and a registry file listing it
 * alone (subnet `s1`) at 127.0.0.1 on a free port.
 */
describe('daemon HTTP API', { timeout: slow(60_000) }, () => {
  let dir: string;
  let daemon: Daemon;
  let api: string;

  before(async () => {
    ({
      dir,
      daemon,
      base: api,
    } = await startOneDaemon('subnet-p2p-api-', {
      channels: { consensus: {}, ingress: { maxArtifactBytes: MAX } },
      limits: {
        maxEventStreams: 2,
        maxConcurrentUploads: 1,
        statusSampleMs: 100,
        statusHistorySamples: 5,
        shutdownQuietMs: 10,
      },
    }));
  });

  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  it('POST broadcasts and answers 201 with the SHA-256; GET reads it; DELETE aborts it', async () => {
    const bytes = Buffer.from('block 42');
    const res = await apiFetch(`${api}/v1/channels/ingress/artifacts`, {
      method: 'POST',
      body: bytes,
      headers: { 'x-artifact-attributes': Buffer.from([1, 2]).toString('base64') },
    });
    assert.equal(res.status, 201);
    const { id } = (await res.json()) as { id: string };
    assert.equal(id, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(res.headers.get('location'), `/v1/channels/ingress/artifacts/${id}`);

    const got = await apiFetch(`${api}/v1/channels/ingress/artifacts/${id.toUpperCase()}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);

    const del = await apiFetch(`${api}/v1/channels/ingress/artifacts/${id}`, { method: 'DELETE' });
    assert.deepEqual(await del.json(), { id, held: true });
    await expectError(
      await apiFetch(`${api}/v1/channels/ingress/artifacts/${id}`),
      404,
      'ERR_NOT_FOUND',
    );
    const again = await apiFetch(`${api}/v1/channels/ingress/artifacts/${id}`, {
      method: 'DELETE',
    });
    assert.deepEqual(await again.json(), { id, held: false });
  });

  it('status, metrics and the status page', async () => {
    const status = (await (await apiFetch(`${api}/v1/status`)).json()) as Record<string, unknown>;
    assert.equal(status.nodeId, daemon.node.nodeId);
    assert.equal(status.subnet, 's1');
    assert.equal(status.registryVersion, 1);
    assert.deepEqual(status.peers, []);
    // The process: version, start and uptime, readiness (alone in its subnet: ready).
    assert.match(status.version as string, /^\d+\.\d+\.\d+/);
    const startedAt = Date.parse(status.startedAt as string);
    assert.ok(startedAt <= Date.now() && startedAt > Date.now() - slow(60_000));
    assert.equal(typeof status.uptimeSeconds, 'number');
    assert.deepEqual(status.ready, { ready: true, reasons: [] });
    const metrics = await apiFetch(`${api}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await metrics.text();
    assert.match(text, /^subnet_p2p_daemon_http_requests_total\{route="status",status="200"\} 1$/m);
    assert.match(text, /^subnet_p2p_transport_links_up 0$/m);
    assert.match(
      text,
      /^subnet_p2p_daemon_http_request_duration_seconds_count\{route="status"\} 1$/m,
    );
    const page = await apiFetch(`${api}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/status-page.js">/);
    for (const path of ['/status-page.js', '/status-page/charts.js', '/status-page/now.js']) {
      const script = await apiFetch(`${api}${path}`);
      assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/, path);
    }
  });

  it('a body over the channel maximum is refused with 413 before it is all sent (Content-Length)', async () => {
    const { res, body, sent } = await unfinishedPost(
      `${api}/v1/channels/ingress/artifacts`,
      { 'content-length': 64 * MAX, ...authHeader(api) },
      Buffer.alloc(1024),
      1024,
    );
    assert.equal(res.statusCode, 413);
    assert.equal((JSON.parse(body) as ErrorBody).error.code, 'ERR_ARTIFACT_TOO_LARGE');
    assert.equal(res.headers.connection, 'close');
    assert.equal(sent, 1024);
  });

  it('a chunked body that grows over the maximum is refused with 413 while it is still being sent', async () => {
    // The body never ends: a server that waited for all of it would never answer.
    const { res, body, sent } = await unfinishedPost(
      `${api}/v1/channels/ingress/artifacts`,
      { 'transfer-encoding': 'chunked', ...authHeader(api) },
      Buffer.alloc(16 * 1024),
      256 * MAX,
    );
    assert.equal(res.statusCode, 413);
    assert.match((JSON.parse(body) as ErrorBody).error.message, /exceeds channel 'ingress' limit/);
    assert.ok(sent < 256 * MAX, `sent ${sent}`);
  });

  it('unknown artifacts, channels, paths and methods; bad ids, attributes and flags', async () => {
    const id = 'ab'.repeat(32);
    const a = `${api}/v1/channels`;
    await expectError(await apiFetch(`${a}/ingress/artifacts/${id}`), 404, 'ERR_NOT_FOUND');
    for (const [url, method] of [
      [`${a}/blocks/artifacts/${id}`, 'GET'],
      [`${a}/blocks/artifacts/${id}`, 'DELETE'],
      [`${a}/blocks/artifacts`, 'POST'],
      [`${a}/blocks/events`, 'GET'],
    ] as const) {
      const msg = await expectError(await apiFetch(url, { method }), 404, 'ERR_UNKNOWN_CHANNEL');
      assert.match(msg, /'blocks'/);
    }
    for (const bad of ['xyz', 'ab'.repeat(31), `${'ab'.repeat(31)}zz`]) {
      await expectError(
        await apiFetch(`${a}/ingress/artifacts/${bad}`),
        400,
        'ERR_BAD_ARTIFACT_ID',
      );
    }
    const post = (headers: Record<string, string>, query = '') =>
      apiFetch(`${a}/ingress/artifacts${query}`, { method: 'POST', body: 'x', headers });
    await expectError(await post({ 'x-artifact-attributes': '!!' }), 400, 'ERR_BAD_ATTRIBUTES');
    const big = Buffer.alloc(257).toString('base64');
    await expectError(await post({ 'x-artifact-attributes': big }), 400, 'ERR_BAD_ATTRIBUTES');
    await expectError(await post({}, '?urgent=yes'), 400, 'ERR_BAD_REQUEST');
    assert.equal((await post({}, '?urgent=true')).status, 201);
    await expectError(await apiFetch(`${api}/v2/status`), 404, 'ERR_NOT_FOUND');
    await expectError(await apiFetch(`${a}/ingress/artifacts/${id}/x`), 404, 'ERR_NOT_FOUND');
    const put = await apiFetch(`${a}/ingress/artifacts/${id}`, { method: 'PUT' });
    assert.equal(put.headers.get('allow'), 'GET, DELETE');
    await expectError(put, 405, 'ERR_METHOD_NOT_ALLOWED');
    const putAll = await apiFetch(`${a}/ingress/artifacts`, { method: 'PUT' });
    assert.equal(putAll.headers.get('allow'), 'GET, POST');
    await expectError(putAll, 405, 'ERR_METHOD_NOT_ALLOWED');
    await expectError(
      await apiFetch(`${api}/metrics`, { method: 'POST' }),
      405,
      'ERR_METHOD_NOT_ALLOWED',
    );
  });

  it('limits.maxEventStreams: one stream more is refused with 503', async () => {
    const open = [
      await EventStreamClient.open(api, 'ingress'),
      await EventStreamClient.open(api, 'consensus'),
    ];
    try {
      await expectError(
        await apiFetch(`${api}/v1/channels/ingress/events`),
        503,
        'ERR_TOO_MANY_STREAMS',
      );
    } finally {
      for (const s of open) s.close();
    }
  });

  it('limits.maxConcurrentUploads: an upload more while one is in progress is refused with 503', async () => {
    // An upload in progress: its body is not finished.
    const hold = () => {
      const req = request(`${api}/v1/channels/ingress/artifacts`, {
        method: 'POST',
        headers: { 'content-length': 10, ...authHeader(api) },
      });
      req.on('error', () => undefined);
      req.on('response', () => {
        answered = true; // refused: a probe below was in progress when it came
      });
      req.write('12345');
      return req;
    };
    let answered = false;
    let held = hold();
    try {
      let res: Response | undefined;
      // The server counts the upload once it has its headers: retry until it does.
      for (let i = 0; i < 200; i++) {
        if (answered) {
          held.destroy();
          answered = false;
          held = hold();
        }
        res = await apiFetch(`${api}/v1/channels/ingress/artifacts`, { method: 'POST', body: 'x' });
        if (res.status === 503) break;
        await res.arrayBuffer();
      }
      await expectError(res!, 503, 'ERR_TOO_MANY_UPLOADS');
    } finally {
      held.destroy();
    }
  });

  it('the status history keeps limits.statusHistorySamples samples', async () => {
    const history = await apiFetch(`${api}/v1/history`);
    const json = (await history.json()) as { sampleMs: number; samples: { t: number }[] };
    assert.equal(json.sampleMs, 100);
    assert.ok(json.samples.length <= 5);
  });
});

describe('daemon HTTP API: chunked artifacts', { timeout: slow(60_000) }, () => {
  const CHUNK = 4096;
  const STORE = 64 * 1024;
  let dir: string;
  let daemon: Daemon;
  let api: string;
  const store = new InMemoryChunkStore({ maxBytes: STORE });
  // Held in part since before the start (a download interrupted by a restart): 1 chunk of 3.
  const { id: partial, manifest: partManifest, part } = partialChunked(CHUNK);

  before(async () => {
    await store.open(partial, partManifest);
    await store.put(partial, 0, part);
    let base: string;
    ({ dir, daemon, base } = await startOneDaemon(
      'subnet-p2p-api-chunks-',
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
    api = `${base}/v1/channels/blobs/artifacts`;
  });

  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  it('POST above the threshold is chunked into the store; GET and HEAD read it; DELETE frees its chunks', async () => {
    const before = store.bytes;
    const bytes = Buffer.alloc(10 * CHUNK + 123);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const res = await apiFetch(api, { method: 'POST', body: bytes });
    assert.equal(res.status, 201);
    const { id } = (await res.json()) as { id: ArtifactId };
    // The id of a chunked artifact is its manifest's hash, not the bytes' one.
    assert.notEqual(id, createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual(daemon.node.channel('blobs').chunked(id), {
      info: { size: bytes.length, chunkBytes: CHUNK, chunks: 11 },
      complete: true,
      chunksDone: 11,
    });
    // In the store once the 201 came: nothing left to finish in the background.
    assert.equal(store.bytes, before + bytes.length);
    const metrics = await (await apiFetch(`${api.replace(/\/v1\/.*/, '')}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(
        `^subnet_p2p_daemon_posted_bytes_total\\{channel="blobs"\\} ${bytes.length}$`,
        'm',
      ),
    );

    const got = await apiFetch(`${api}/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.equal(got.headers.get('content-length'), String(bytes.length));
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
    const head = await apiFetch(`${api}/${id}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    // A body of exactly the threshold travels whole: its id is the SHA-256 of its bytes.
    const small = Buffer.alloc(CHUNK, 1);
    const whole = await apiFetch(api, { method: 'POST', body: small });
    assert.deepEqual(await whole.json(), { id: createHash('sha256').update(small).digest('hex') });

    const del = await apiFetch(`${api}/${id}`, { method: 'DELETE' });
    assert.deepEqual(await del.json(), { id, held: true });
    await expectError(await apiFetch(`${api}/${id}`), 404, 'ERR_NOT_FOUND');
    assert.equal(daemon.node.channel('blobs').chunked(id), undefined);
    // The store deletes after the answer (in order with its other operations on the artifact).
    await until('the chunks to leave the store', async () =>
      store.bytes === before ? true : undefined,
    );
    assert.deepEqual(await store.get(id, 0), undefined);
  });

  it('GET of an artifact still arriving is 404, saying how much of it the node holds', async () => {
    assert.equal(daemon.node.channel('blobs').chunked(partial)?.complete, false);
    const msg = await expectError(await apiFetch(`${api}/${partial}`), 404, 'ERR_NOT_FOUND');
    assert.match(msg, /still arriving: this node holds 1 of its 3 chunks/);
    await expectError(await apiFetch(`${api}/${'cd'.repeat(32)}`), 404, 'ERR_NOT_FOUND');
  });

  it("a body the chunk store cannot take is the request's error (503), and nothing is broadcast", async () => {
    const before = store.bytes;
    // The body never ends: the answer comes when the store is full, not at the end.
    const { res, body } = await unfinishedPost(
      api,
      { 'transfer-encoding': 'chunked', ...authHeader(api) },
      Buffer.alloc(CHUNK, 3),
      4 * STORE,
    );
    assert.equal(res.statusCode, 503);
    const error = (JSON.parse(body) as ErrorBody).error;
    assert.equal(error.code, 'ERR_QUEUE_FULL');
    assert.match(error.message, /chunk store/);
    assert.equal(res.headers.connection, 'close');
    assert.equal(store.bytes, before);
    // The daemon goes on: a body that fits is taken.
    const ok = await apiFetch(api, { method: 'POST', body: Buffer.alloc(2 * CHUNK, 4) });
    assert.equal(ok.status, 201);
  });
});

describe('status history bound', () => {
  it('drops the oldest sample beyond maxSamples', async () => {
    const history = new StatusHistory(new MetricsRegistry(), ['ingress'], {
      sampleMs: 1000,
      maxSamples: 3,
    });
    for (let i = 0; i < 7; i++) await history.sample();
    const json = history.toJSON();
    assert.equal(json.samples.length, 3);
    assert.equal(json.maxSamples, 3);
    const ts = json.samples.map((s) => s.t);
    assert.deepEqual(
      ts,
      [...ts].sort((x, y) => x - y),
    );
    assert.deepEqual(json.samples[0]!.channels.ingress, {
      delivered: 0,
      deliveredBytes: 0,
      postedBytes: 0,
      updatesSent: 0,
      slots: 0,
      heldArtifacts: 0,
      heldBytes: 0,
    });
  });
});

/** A response whose socket buffer is always full: every write returns false. */
class StalledResponse extends EventEmitter {
  writes = 0;
  destroyed = false;
  writeHead(): this {
    return this;
  }
  write(): boolean {
    this.writes++;
    return false;
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

describe('event stream backlog bound', () => {
  it('closes a stream whose client stopped reading once maxBacklog events wait', () => {
    const closed: string[] = [];
    const streams = new EventStreams({
      maxBacklog: 4,
      keepAliveMs: 60_000,
      onClosed: (_ch, reason) => closed.push(reason),
    });
    const res = new StalledResponse();
    streams.open('ingress', res as unknown as ServerResponse);
    const artifact = (i: number): DeliveredArtifact => ({
      channel: 'ingress',
      id: String(i).padStart(64, '0') as ArtifactId,
      bytes: new Uint8Array(10),
      attributes: new Uint8Array(0),
      from: 'peer' as NodeId,
    });
    // The `: subscribed` line filled the buffer; 4 events wait, the 5th closes the stream.
    for (let i = 0; i < 4; i++) streams.publish(artifact(i));
    assert.equal(streams.size, 1);
    assert.equal(res.destroyed, false);
    streams.publish(artifact(4));
    assert.equal(res.destroyed, true);
    assert.deepEqual(closed, ['slow_client']);
    assert.equal(streams.size, 0);
    streams.closeAll();
  });
});
