/**
 * `subnet-p2p status --config FILE`: asks the node that `FILE` configures for `GET /v1/status`
 * (with the token of its token file) and prints a short summary, or the JSON with `--json`;
 * `--page-url` prints the status page's address with the token in its fragment instead.
 * @module
 */
import { type Command, Option } from 'commander';
import type { DaemonConfig } from '../daemon/config.ts';
import type { FullStatusJson } from '../daemon/http-api.ts';
import { ApiClientError } from '../errors.ts';
import type { CliIo } from './io.ts';

interface StatusOptions {
  config: string;
  json?: boolean;
  pageUrl?: boolean;
  url?: string;
}

/** Longest answer read from the API, bytes. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The base URL the node's API is reached at from this machine. */
function baseUrl(config: DaemonConfig, override: string | undefined): string {
  if (override !== undefined) return override.replace(/\/+$/, '');
  const { host, port } = config.api;
  if (port === 0) {
    throw new ApiClientError(
      'ERR_API_UNREACHABLE',
      "the config's api port is 0 (chosen at start): give the address with --url",
    );
  }
  // A wildcard address is reached on loopback.
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const shown = reach.includes(':') ? `[${reach}]` : reach;
  return `${config.apiTls ? 'https' : 'http'}://${shown}:${port}`;
}

/** The token the node uses: its `apiTokenFile`, or the one it wrote in its dataDir. */
async function readToken(config: DaemonConfig): Promise<string> {
  const [{ readFile }, { join }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
  ]);
  const file = config.apiTokenFile ?? join(config.dataDir, 'api-token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ApiClientError(
      'ERR_API_TOKEN',
      `cannot read the API token file ${file} (${code}): is the node running, and may this user read it?`,
      { cause },
    );
  }
}

/** `GET url` with the token: the status and body. Trusts `apiTls.cert` besides the usual CAs. */
async function get(
  url: string,
  token: string,
  config: DaemonConfig,
): Promise<{ status: number; body: string }> {
  const https = url.startsWith('https:');
  let ca: (string | Buffer)[] | undefined;
  if (https && config.apiTls !== undefined) {
    const [{ readFile }, { rootCertificates }] = await Promise.all([
      import('node:fs/promises'),
      import('node:tls'),
    ]);
    ca = [...rootCertificates, await readFile(config.apiTls.cert)];
  }
  const { request } = https ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, ca }, (res) => {
      const pieces: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
        else pieces.push(d);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(pieces).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new ApiClientError(
          'ERR_API_UNREACHABLE',
          `cannot reach the node's API at ${url} (${cause.code ?? cause.message})`,
          { cause },
        ),
      ),
    );
    req.end();
  });
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

/** The human summary of a status. */
export function formatStatus(s: FullStatusJson): string {
  const up = s.peers.filter((p) => p.state === 'connected').length;
  const lines = [
    `node      ${s.nodeId}`,
    `subnet    ${s.subnet} (registry version ${s.registryVersion ?? 'none'}), listening on ${s.address}`,
    `version   ${s.version}, up ${formatUptime(s.uptimeSeconds)} (since ${s.startedAt})`,
    `ready     ${s.ready.ready ? 'yes' : `no: ${s.ready.reasons.join('; ')}`}`,
    `peers     ${up} of ${s.peers.length} connected`,
  ];
  for (const p of s.peers) lines.push(`  ${p.nodeId}  ${p.address}  ${p.state}`);
  for (const c of s.channels) {
    lines.push(
      `channel   ${c.name}: slots ${c.slots.used}/${c.slots.max}, held ${c.held.artifacts}/${c.held.maxArtifacts} artifacts, ${formatBytes(c.held.bytes)} of ${formatBytes(c.held.maxBytes)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Registers `status` on `program`. */
export function registerStatusCommand(program: Command, io: CliIo): void {
  program
    .command('status')
    .description(
      "print a running node's status (GET /v1/status with the token of its token file), or " +
        'the status page address with --page-url',
    )
    .requiredOption('--config <file>', 'the node config, JSON (see docs/deploy.md)')
    .option('--json', 'print the JSON of GET /v1/status')
    .addOption(
      new Option('--page-url', 'print the status page address, token included').conflicts('json'),
    )
    .option('--url <url>', "the API's base URL (default: from the config's api address)")
    .action(async (options: StatusOptions) => {
      // Loaded here, not with the CLI: other commands start without the daemon's modules.
      const { loadDaemonConfig } = await import('../daemon/config.ts');
      const config = await loadDaemonConfig(options.config);
      const base = baseUrl(config, options.url);
      const token = await readToken(config);
      if (options.pageUrl) {
        io.stdout(`${base}/#token=${token}\n`);
        return;
      }
      const { status, body } = await get(`${base}/v1/status`, token, config);
      if (status !== 200) {
        throw new ApiClientError(
          'ERR_API_ANSWER',
          `GET ${base}/v1/status answered ${status}: ${body.slice(0, 300)}`,
        );
      }
      io.stdout(options.json ? `${body}\n` : formatStatus(JSON.parse(body) as FullStatusJson));
    });
}
