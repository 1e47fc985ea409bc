// Slow clients cannot hold the API of a real `subnet-p2p node` process: sixteen uploads at one
// byte per second take every upload slot, and are cut off (408 ERR_UPLOAD_TOO_SLOW, connection
// closed) once limits.uploadGraceMs passed with their rate under limits.uploadMinBytesPerSecond,
// so an honest POST succeeds within the grace and a margin; headers that never end get 408
// after limits.apiHeadersTimeoutMs. None of it is logged as an error.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import {
  apiFetch,
  type DaemonProcess,
  rawExchange,
  startOneDaemonProcess,
  until,
} from './helpers.ts';

const SLOTS = 16;
const GRACE_MS = 1500;
const MIN_RATE = 1024;
const HEADERS_TIMEOUT_MS = 1000;

/** An upload that sends its body at one byte per second; resolves with what it got back. */
class SlowUpload {
  readonly socket: Socket;
  readonly answer: Promise<string>;
  #timer: NodeJS.Timeout | undefined;

  constructor(port: number, token: string) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    let text = '';
    this.socket.setEncoding('latin1').on('data', (d: string) => {
      text += d;
    });
    this.answer = new Promise((resolve) => {
      this.socket.on('close', () => {
        clearInterval(this.#timer);
        resolve(text);
      });
    });
    this.socket.write(
      [
        'POST /v1/channels/ingress/artifacts HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        `Authorization: Bearer ${token}`,
        'Content-Length: 100000',
        '',
        'x',
      ].join('\r\n'),
    );
    this.#timer = setInterval(() => this.socket.write('x'), 1000);
  }

  close(): void {
    clearInterval(this.#timer);
    this.socket.destroy();
  }
}

describe('slow API clients', { timeout: slow(60_000) }, () => {
  let dir: string;
  let daemon: DaemonProcess;
  let base: string;
  let port: number;

  before(async () => {
    ({ dir, daemon, base } = await startOneDaemonProcess('subnet-p2p-slow-', {
      logLevel: 'debug',
      limits: {
        maxConcurrentUploads: SLOTS,
        uploadGraceMs: GRACE_MS,
        uploadMinBytesPerSecond: MIN_RATE,
        apiHeadersTimeoutMs: HEADERS_TIMEOUT_MS,
      },
    }));
    port = Number(new URL(base).port);
  });

  after(async () => {
    await daemon?.dispose();
    await removeTempDir(dir);
  });

  const honestPost = () =>
    apiFetch(`${base}/v1/channels/ingress/artifacts`, { method: 'POST', body: 'honest' });

  it('sixteen uploads at 1 byte/s hold every slot only until the grace ends', async () => {
    const uploads = Array.from({ length: SLOTS }, () => new SlowUpload(port, daemon.token));
    try {
      // Once the daemon has all their headers, every slot is taken: an honest POST gets 503.
      const refused = await until('every upload slot taken', async () => {
        const res = await honestPost();
        const body = (await res.json()) as { error?: { code: string } };
        return res.status === 503 ? body : undefined;
      });
      assert.equal(refused.error?.code, 'ERR_TOO_MANY_UPLOADS');
      const full = Date.now();
      // The slow ones are cut off at the grace: an honest POST succeeds before the grace and
      // a margin have passed since the slots were seen full.
      const deadline = full + GRACE_MS + slow(2000);
      const posted = await until(
        'an honest POST to succeed',
        async () => {
          const res = await honestPost();
          await res.arrayBuffer();
          return res.status === 201 ? res : undefined;
        },
        GRACE_MS + 2000,
      );
      assert.equal(posted.status, 201);
      assert.ok(Date.now() <= deadline, `succeeded ${Date.now() - full} ms after the slots filled`);
      // Each slow upload got 408 ERR_UPLOAD_TOO_SLOW, and its connection was closed.
      for (const answer of await Promise.all(uploads.map((u) => u.answer))) {
        assert.match(answer, /^HTTP\/1\.1 408 /);
        assert.match(answer, /connection: close/i);
        assert.match(answer, /"code":"ERR_UPLOAD_TOO_SLOW"/);
      }
    } finally {
      for (const u of uploads) u.close();
    }
  });

  it('headers that never end: 408 after limits.apiHeadersTimeoutMs, connection closed', async () => {
    const answer = await rawExchange(
      port,
      `POST /v1/channels/ingress/artifacts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`,
      HEADERS_TIMEOUT_MS + 5000,
    );
    assert.equal(answer.status, 408);
  });

  it('logged the cut uploads at debug, and nothing at error level', async () => {
    assert.ok(daemon.logs.some((l) => l.msg === 'upload too slow' && l.level === 20));
    assert.deepEqual(
      daemon.logs.filter((l) => (l.level as number) >= 50),
      [],
    );
    assert.equal(daemon.child.exitCode, null);
  });
});
