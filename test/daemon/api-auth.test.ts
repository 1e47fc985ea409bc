// The API's guard on a real daemon (in-process): the bearer token (written 0600 to
// <dataDir>/api-token, or read from apiTokenFile), the Host check against DNS rebinding, the
// Origin check against cross-site requests, and HTTPS with apiTls.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { warnIfReachable } from '../../src/daemon/api-server.ts';
import { parseDaemonConfig } from '../../src/daemon/config.ts';
import type { Daemon } from '../../src/daemon/run-daemon.ts';
import { ConfigError } from '../../src/errors.ts';
import { removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';
import { startOneDaemon, tempDir } from './helpers.ts';

/** One request with exactly these headers (Host included): status, headers and body. */
function send(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; ca?: Buffer } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, ca: opts.ca },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const codeOf = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

describe('API token, Host and Origin checks', { timeout: slow(60_000) }, () => {
  let dir: string;
  let daemon: Daemon;
  let base: string;
  let port: number;
  let auth: Record<string, string>;

  before(async () => {
    ({ dir, daemon, base } = await startOneDaemon('subnet-p2p-auth-', {
      apiHosts: ['node1.example.org'],
      limits: { shutdownQuietMs: 10 },
    }));
    port = daemon.api.port;
    auth = { authorization: `Bearer ${daemon.apiToken}` };
  });

  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  it('writes a fresh 32-byte token to <dataDir>/api-token, mode 0600', async () => {
    const file = join(dir, 'node', 'data', 'api-token');
    assert.equal(daemon.apiTokenFile, file);
    assert.match(daemon.apiToken, /^[0-9a-f]{64}$/);
    assert.equal((await readFile(file, 'utf8')).trim(), daemon.apiToken);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it('no token or a wrong one: 401 with WWW-Authenticate on /v1/* and /metrics', async () => {
    const paths = ['/v1/status', '/v1/history', '/metrics', '/v1/channels/ingress/artifacts'];
    for (const path of paths) {
      for (const headers of [
        {} as Record<string, string>,
        { authorization: 'Bearer 00' },
        { authorization: `Bearer ${daemon.apiToken}0` },
        { authorization: `Basic ${daemon.apiToken}` },
      ]) {
        const res = await send(`${base}${path}`, { headers });
        assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.match(String(res.headers['www-authenticate']), /^Bearer/);
        assert.equal(codeOf(res.body), 'ERR_UNAUTHORIZED');
      }
      assert.equal((await send(`${base}${path}`, { headers: auth })).status, 200, path);
    }
    const post = await send(`${base}/v1/channels/ingress/artifacts`, {
      method: 'POST',
      body: 'x',
    });
    assert.equal(post.status, 401);
    // The health checks and the status page's static files need no token.
    for (const path of ['/healthz', '/readyz', '/', '/status-page.js']) {
      assert.equal((await send(`${base}${path}`)).status, 200, path);
    }
  });

  it('a Host that is not a name of the API: 403 (not on the health checks)', async () => {
    const ok = ['localhost', `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`];
    for (const host of [...ok, 'NODE1.example.org', `node1.example.org:${port}`]) {
      const res = await send(`${base}/v1/status`, { headers: { ...auth, host } });
      assert.equal(res.status, 200, host);
    }
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, 'a:b:c']) {
      const res = await send(`${base}/v1/status`, { headers: { ...auth, host } });
      assert.equal(res.status, 403, host);
      assert.equal(codeOf(res.body), 'ERR_FORBIDDEN_HOST');
    }
    // A rebinding page cannot read the status page either.
    const page = await send(`${base}/`, { headers: { host: 'evil.example' } });
    assert.equal(page.status, 403);
    const health = await send(`${base}/healthz`, { headers: { host: 'evil.example' } });
    assert.equal(health.status, 200);
  });

  it('a cross-origin POST with the token: 403, and nothing is broadcast', async () => {
    const post = (headers: Record<string, string>) =>
      send(`${base}/v1/channels/ingress/artifacts`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain', ...headers },
        body: 'forged',
      });
    for (const headers of [
      { origin: 'http://evil.example' } as Record<string, string>,
      { origin: `http://evil.example:${port}` },
      { origin: `http://127.0.0.1:${port + 1}` },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
    ]) {
      const res = await post(headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(codeOf(res.body), 'ERR_FORBIDDEN_ORIGIN');
    }
    const del = await send(`${base}/v1/channels/ingress/artifacts/${'ab'.repeat(32)}`, {
      method: 'DELETE',
      headers: { ...auth, origin: 'https://evil.example' },
    });
    assert.equal(del.status, 403);
    const list = await send(`${base}/v1/channels/ingress/artifacts`, { headers: auth });
    assert.deepEqual(JSON.parse(list.body).artifacts, []);
    // The API's own origin, or none (curl, the CLI): accepted.
    assert.equal((await post({ origin: `http://127.0.0.1:${port}` })).status, 201);
    assert.equal((await post({ 'sec-fetch-site': 'same-origin' })).status, 201);
    assert.equal((await post({})).status, 201);
    // A cross-origin GET is not refused by the Origin check (the token guards reads).
    assert.equal(
      (await send(`${base}/v1/status`, { headers: { ...auth, origin: 'http://evil.example' } }))
        .status,
      200,
    );
  });
});

describe('apiTokenFile and apiTls', { timeout: slow(60_000) }, () => {
  let dir: string;

  before(async () => {
    dir = await tempDir('subnet-p2p-auth-files-');
  });

  after(async () => {
    await removeTempDir(dir);
  });

  it('apiTokenFile: the daemon uses the operator token and writes none of its own', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 'operator-managed-token-123\n', { mode: 0o600 });
    const {
      dir: nodeDir,
      daemon,
      base,
    } = await startOneDaemon('subnet-p2p-tokenfile-', {
      apiTokenFile: file,
      limits: { shutdownQuietMs: 10 },
    });
    try {
      assert.equal(daemon.apiToken, 'operator-managed-token-123');
      assert.equal(daemon.apiTokenFile, file);
      const headers = { authorization: 'Bearer operator-managed-token-123' };
      assert.equal((await send(`${base}/metrics`, { headers })).status, 200);
      assert.equal((await send(`${base}/metrics`)).status, 401);
      await assert.rejects(stat(join(nodeDir, 'node', 'data', 'api-token')), { code: 'ENOENT' });
    } finally {
      await daemon.stop();
      await removeTempDir(nodeDir);
    }
  });

  it('an apiTokenFile that is missing or too short is a ConfigError naming it', async () => {
    const short = join(dir, 'short');
    await writeFile(short, 'abc\n');
    for (const [file, message] of [
      [join(dir, 'missing'), /ENOENT/],
      [short, /at least 16 characters/],
    ] as const) {
      await assert.rejects(
        startOneDaemon('subnet-p2p-tokenfile-bad-', { apiTokenFile: file }),
        (err: unknown) =>
          err instanceof ConfigError && err.field === 'apiTokenFile' && message.test(err.message),
      );
    }
  });

  it('apiTls: the API over HTTPS with the configured certificate', async (t) => {
    const cert = join(dir, 'api.crt');
    const key = join(dir, 'api.key');
    try {
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
          ...['-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert],
          ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
        ],
        { stdio: 'ignore' },
      );
    } catch (err) {
      // Node makes no X.509 certificate by itself; openssl is the portable way here.
      t.skip(`openssl cannot make a certificate here: ${(err as Error).message}`);
      return;
    }
    const { dir: nodeDir, daemon } = await startOneDaemon('subnet-p2p-tls-', {
      apiTls: { cert, key },
      limits: { shutdownQuietMs: 10 },
    });
    try {
      assert.equal(daemon.apiUrl, `https://127.0.0.1:${daemon.api.port}`);
      const ca = await readFile(cert);
      const headers = { authorization: `Bearer ${daemon.apiToken}` };
      const status = await send(`${daemon.apiUrl}/v1/status`, { headers, ca });
      assert.equal(status.status, 200);
      assert.equal(JSON.parse(status.body).nodeId, daemon.node.nodeId);
      assert.equal((await send(`${daemon.apiUrl}/healthz`, { ca })).status, 200);
      // Plain HTTP to the HTTPS port gets no answer of the API.
      await assert.rejects(send(`http://127.0.0.1:${daemon.api.port}/healthz`));
    } finally {
      await daemon.stop();
      await removeTempDir(nodeDir);
    }
  });
});

describe('an API reachable from other machines', () => {
  it('is said at start, once, at warn: plain HTTP or HTTPS; nothing on loopback', () => {
    const warned = (extra: Record<string, unknown>) => {
      const lines: Record<string, unknown>[] = [];
      const logger = pino(
        { level: 'info' },
        { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
      );
      const base = {
        identityDir: 'n',
        registryFile: 'r.json',
        subnet: 's1',
        listen: '127.0.0.1:1',
      };
      warnIfReachable(parseDaemonConfig({ ...base, ...extra }, '/etc/subnet-p2p'), logger);
      return lines.map((l) => [l.level, l.msg]);
    };
    assert.deepEqual(warned({ api: '0.0.0.0:4180', apiAllowPlainHttp: true }), [
      [
        40,
        'the HTTP API listens on a non-loopback address in plain HTTP (apiAllowPlainHttp): it is reachable from other machines, and its token travels in clear',
      ],
    ]);
    assert.deepEqual(warned({ api: '10.0.0.1:4180', apiTls: { cert: 'c', key: 'k' } }), [
      [
        40,
        'the HTTP API listens on a non-loopback address (HTTPS): it is reachable from other machines',
      ],
    ]);
    assert.deepEqual(warned({ api: '127.0.0.1:4180' }), []);
    assert.deepEqual(warned({}), []);
  });
});
