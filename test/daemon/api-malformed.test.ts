// Malformed requests against a real `subnet-p2p node` process, over raw TCP: request lines,
// paths, encodings and headers that a client library would never send. Each gets a 4xx (the
// API's typed error where the request reaches it, Node's own 400/431 where its parser refuses
// it) or a closed connection; after the whole corpus the process still runs, answers /healthz,
// and logged nothing at error level.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { type DaemonProcess, rawExchange, startOneDaemonProcess, until } from './helpers.ts';

/** One malformed request, and what it must get. */
interface Entry {
  name: string;
  bytes: string | Buffer;
  /** The exact status, with the API's error code when the API answers it. */
  status: number;
  code?: string;
}

describe('malformed API requests', { timeout: slow(60_000) }, () => {
  let dir: string;
  let daemon: DaemonProcess;
  let port: number;

  before(async () => {
    let base: string;
    ({ dir, daemon, base } = await startOneDaemonProcess('subnet-p2p-malformed-', {
      logLevel: 'debug',
    }));
    port = Number(new URL(base).port);
  });

  after(async () => {
    await daemon?.dispose();
    await removeTempDir(dir);
  });

  /** A request line and headers (Host, token, Connection: close), then `extra` as it is. */
  const req = (line: string, headers: string[] = [], extra = ''): string =>
    [
      line,
      `Host: 127.0.0.1:${port}`,
      `Authorization: Bearer ${daemon.token}`,
      'Connection: close',
      ...headers,
      '',
      extra,
    ].join('\r\n');

  const corpus = (): Entry[] => [
    // The request target.
    { name: 'GET //', bytes: req('GET // HTTP/1.1'), status: 404, code: 'ERR_NOT_FOUND' },
    {
      name: 'a path that looks like a host',
      bytes: req('GET //evil.example/v1/status HTTP/1.1'),
      status: 404,
      code: 'ERR_NOT_FOUND',
    },
    {
      name: 'absolute-form target',
      bytes: req('GET http://evil.example/v1/status HTTP/1.1'),
      status: 400,
      code: 'ERR_BAD_URL',
    },
    { name: 'asterisk target', bytes: req('OPTIONS * HTTP/1.1'), status: 400, code: 'ERR_BAD_URL' },
    {
      name: 'a bad %-encoding in a channel name',
      bytes: req('GET /v1/channels/%E0%A4%A/artifacts HTTP/1.1'),
      status: 400,
      code: 'ERR_BAD_ENCODING',
    },
    {
      name: 'a lone % in a channel name',
      bytes: req('GET /v1/channels/%/events HTTP/1.1'),
      status: 400,
      code: 'ERR_BAD_ENCODING',
    },
    {
      name: 'overlong UTF-8 in an artifact id',
      bytes: req('GET /v1/channels/ingress/artifacts/%C0%AF HTTP/1.1'),
      status: 400,
      code: 'ERR_BAD_ENCODING',
    },
    {
      name: 'an encoded traversal as an artifact id',
      bytes: req('DELETE /v1/channels/ingress/artifacts/..%2f..%2fx HTTP/1.1'),
      status: 400,
      code: 'ERR_BAD_ARTIFACT_ID',
    },
    {
      name: 'dot segments leaving the API',
      bytes: req('GET /../../etc/passwd HTTP/1.1'),
      status: 404,
      code: 'ERR_NOT_FOUND',
    },
    {
      name: 'an encoded NUL',
      bytes: req('GET /v1/channels/in%00gress/artifacts HTTP/1.1'),
      status: 404,
      code: 'ERR_UNKNOWN_CHANNEL',
    },
    {
      name: 'a bad query encoding',
      bytes: req('GET /v1/channels/ingress/artifacts?limit=%zz HTTP/1.1'),
      status: 400,
      code: 'ERR_BAD_QUERY',
    },
    // What Node's parser refuses before the API sees it.
    { name: 'a raw NUL in the path', bytes: req('GET /\0 HTTP/1.1'), status: 400 },
    { name: 'a space in the path', bytes: req('GET /a b HTTP/1.1'), status: 400 },
    { name: 'a lowercase method', bytes: req('get / HTTP/1.1'), status: 400 },
    {
      name: 'no HTTP version',
      bytes: 'GET /v1/status\r\n\r\n',
      status: 403,
      code: 'ERR_FORBIDDEN_HOST',
    },
    { name: 'HTTP/9.9', bytes: req('GET /healthz HTTP/9.9'), status: 400 },
    { name: 'a TLS hello', bytes: Buffer.from('16030100a5010000a10303', 'hex'), status: 400 },
    { name: 'a header without a colon', bytes: req('GET / HTTP/1.1', ['X-Bad']), status: 400 },
    {
      name: 'a control character in a header value',
      bytes: req('GET / HTTP/1.1', ['X-Bad: a\x01b']),
      status: 400,
    },
    {
      name: 'headers over 16 KiB',
      bytes: req('GET / HTTP/1.1', [`X-Big: ${'a'.repeat(20_000)}`]),
      status: 431,
    },
    { name: 'a URL over 16 KiB', bytes: req(`GET /${'a'.repeat(20_000)} HTTP/1.1`), status: 431 },
    {
      name: 'two different Content-Lengths',
      bytes: req('POST /v1/channels/ingress/artifacts HTTP/1.1', [
        'Content-Length: 1',
        'Content-Length: 2',
      ]),
      status: 400,
    },
    {
      name: 'Content-Length with Transfer-Encoding',
      bytes: req(
        'POST /v1/channels/ingress/artifacts HTTP/1.1',
        ['Content-Length: 3', 'Transfer-Encoding: chunked'],
        '0\r\n\r\n',
      ),
      status: 400,
    },
    {
      name: 'a bad chunk size in an upload',
      bytes: req(
        'POST /v1/channels/ingress/artifacts HTTP/1.1',
        ['Transfer-Encoding: chunked'],
        'zz\r\nabc\r\n',
      ),
      status: 400,
    },
    {
      name: 'a negative Content-Length',
      bytes: req('POST /v1/channels/ingress/artifacts HTTP/1.1', ['Content-Length: -1']),
      status: 400,
    },
    {
      name: 'HTTP/1.1 without Host',
      bytes: 'GET /v1/status HTTP/1.1\r\nConnection: close\r\n\r\n',
      status: 400,
    },
    // What the API refuses: headers.
    {
      name: 'HTTP/1.0 without Host',
      bytes: 'GET /v1/status HTTP/1.0\r\n\r\n',
      status: 403,
      code: 'ERR_FORBIDDEN_HOST',
    },
    {
      name: 'a malformed Host',
      bytes: `GET /v1/status HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n`,
      status: 403,
      code: 'ERR_FORBIDDEN_HOST',
    },
    {
      name: 'a Host with a bad port',
      bytes: `GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:99999\r\nConnection: close\r\n\r\n`,
      status: 403,
      code: 'ERR_FORBIDDEN_HOST',
    },
    {
      name: 'an empty bearer token',
      bytes: `GET /v1/status HTTP/1.1\r\nHost: localhost:${port}\r\nAuthorization: Bearer\r\nConnection: close\r\n\r\n`,
      status: 401,
      code: 'ERR_UNAUTHORIZED',
    },
    {
      name: 'a malformed Origin on a POST',
      bytes: req(
        'POST /v1/channels/ingress/artifacts HTTP/1.1',
        ['Origin: ::not a url::', 'Content-Length: 1'],
        'x',
      ),
      status: 403,
      code: 'ERR_FORBIDDEN_ORIGIN',
    },
    {
      name: 'bad attributes',
      bytes: req(
        'POST /v1/channels/ingress/artifacts HTTP/1.1',
        ['X-Artifact-Attributes: !!', 'Content-Length: 1'],
        'x',
      ),
      status: 400,
      code: 'ERR_BAD_ATTRIBUTES',
    },
    {
      name: 'a purge body that is not JSON',
      bytes: req('POST /v1/channels/ingress/purge HTTP/1.1', ['Content-Length: 3'], '{{{'),
      status: 400,
      code: 'ERR_BAD_PURGE',
    },
  ];

  it('every entry gets its 4xx, and the process lives on', async () => {
    const wrong: string[] = [];
    for (const entry of corpus()) {
      const answer = await rawExchange(port, entry.bytes);
      const code =
        entry.code === undefined
          ? undefined
          : (JSON.parse(answer.body || '{}') as { error?: { code: string } }).error?.code;
      if (answer.status !== entry.status || code !== entry.code) {
        wrong.push(`${entry.name}: ${answer.status} ${code}: ${answer.head.slice(0, 100)}`);
      }
    }
    assert.deepEqual(wrong, []);
    // Connections cut halfway: a request line alone, an upload body cut short.
    await rawExchange(port, 'GET /v1/status HT', 100);
    await rawExchange(
      port,
      req('POST /v1/channels/ingress/artifacts HTTP/1.1', ['Content-Length: 100'], 'abc'),
      100,
    );

    await until('the cut upload logged', async () =>
      daemon.logs.some((l) => l.msg === 'API client went away') ? true : undefined,
    );
    assert.equal(daemon.child.exitCode, null);
    const health = await rawExchange(
      port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    const errors = daemon.logs.filter((l) => (l.level as number) >= 50);
    assert.deepEqual(errors, []);
    assert.equal(daemon.stderr, '');
  });
});
