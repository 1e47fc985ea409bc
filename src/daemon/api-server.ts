/**
 * The server of the daemon's API: node:http, or node:https with `apiTls`, with the deadlines
 * that keep slow clients from holding it: `headersTimeout` (`limits.apiHeadersTimeoutMs`; a
 * request whose headers take longer gets 408 and a closed connection), no overall
 * `requestTimeout` (a big upload at a steady rate may take as long as it needs: the minimum
 * rate of `api-body.ts` cuts slow bodies instead), checked every second at most.
 * @module
 */
import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DaemonConfig } from './config.ts';
import { isLoopbackHost } from './config.ts';

/** The API's server, HTTP or HTTPS. */
export type ApiServer = ReturnType<typeof createHttpServer> | ReturnType<typeof createHttpsServer>;

/** Most time between two checks of the headers deadline, ms (Node's default is 30 s). */
const MAX_CHECK_INTERVAL_MS = 1000;

async function readPem(field: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ConfigError(field, `cannot read ${path} (${code})`, { cause });
  }
}

/**
 * Makes the API's server for `handler` (not listening yet). Throws {@link ConfigError} naming
 * `apiTls.cert` or `apiTls.key` when a file cannot be read, `apiTls` when they do not make a
 * TLS context (a key that does not match the certificate, not PEM).
 */
export async function createApiServer(
  config: DaemonConfig,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<ApiServer> {
  const headersTimeout = config.limits.apiHeadersTimeoutMs;
  const options = {
    headersTimeout,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(10, Math.min(MAX_CHECK_INTERVAL_MS, headersTimeout / 4)),
  };
  if (config.apiTls === undefined) return createHttpServer(options, handler);
  const cert = await readPem('apiTls.cert', config.apiTls.cert);
  const key = await readPem('apiTls.key', config.apiTls.key);
  try {
    return createHttpsServer({ ...options, cert, key }, handler);
  } catch (cause) {
    throw new ConfigError('apiTls', `no TLS context from its files: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** The `scheme://host:port` base URL of an API listening at `host`:`port`. */
export function apiBaseUrl(tls: boolean, host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${shown}:${port}`;
}

/** Warns, once at start, that an API on a non-loopback address is reachable by other machines. */
export function warnIfReachable(config: DaemonConfig, logger: Logger): void {
  if (isLoopbackHost(config.api.host)) return;
  logger.warn(
    { api: config.api.host, tls: config.apiTls !== undefined },
    config.apiTls === undefined
      ? 'the HTTP API listens on a non-loopback address in plain HTTP (apiAllowPlainHttp): it is reachable from other machines, and its token travels in clear'
      : 'the HTTP API listens on a non-loopback address (HTTPS): it is reachable from other machines',
  );
}
