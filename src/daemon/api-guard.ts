/**
 * What every API request passes before it is routed: the Host check (against DNS rebinding),
 * the Origin check on state-changing requests (against cross-site request forgery) and the
 * bearer token. Each refusal is an {@link ApiRequestError}: 403 `ERR_FORBIDDEN_HOST`, 403
 * `ERR_FORBIDDEN_ORIGIN`, 401 `ERR_UNAUTHORIZED`.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { ApiRequestError } from '../errors.ts';
import { STATUS_PAGE_FILES } from './api-routes.ts';
import type { TokenCheck } from './api-token.ts';

/** Paths served without the token: the health checks and the status page's static files. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  ...Object.keys(STATUS_PAGE_FILES),
]);

/** Paths served whatever the Host header says (probes may use any name). */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Methods that change state: they get the Origin check. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Host names the API always answers to. */
export const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** The host and port of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), lowercase. */
export function parseHostHeader(value: string): { host: string; port?: number } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/i.exec(value.trim());
  if (m === null) return undefined;
  const host = m[1]!
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  return m[2] === undefined ? { host } : { host, port: Number(m[2]) };
}

/** How {@link ApiGuard} decides. */
export interface ApiGuardOptions {
  /** The `api` host of the config. */
  apiHost: string;
  /** The port the API listens on (known once it listens). */
  port: () => number;
  /** `apiHosts` of the config: more names the API answers to. */
  extraHosts: readonly string[];
  token: TokenCheck;
}

/** The Host, Origin and token checks of the API. */
export class ApiGuard {
  readonly #hosts: ReadonlySet<string>;
  readonly #opts: ApiGuardOptions;

  constructor(opts: ApiGuardOptions) {
    this.#opts = opts;
    this.#hosts = new Set(
      [...LOOPBACK_NAMES, opts.apiHost, ...opts.extraHosts].map((h) =>
        h.toLowerCase().replace(/^\[(.*)\]$/, '$1'),
      ),
    );
  }

  /** Whether `host` (and `port`, if given) name this API. */
  #allowed(host: string, port: number | undefined): boolean {
    return this.#hosts.has(host) && (port === undefined || port === this.#opts.port());
  }

  /**
   * Throws the refusal of `req` to `path`, if any: a Host not naming this API (except on the
   * health paths), a state-changing request from another origin (`Origin` not this API, or
   * `Sec-Fetch-Site: cross-site`), a missing or wrong token (except on {@link PUBLIC_PATHS}).
   */
  check(req: IncomingMessage, path: string): void {
    if (!HEALTH_PATHS.has(path)) this.#checkHost(req.headers.host);
    if (STATE_CHANGING.has(req.method ?? '')) this.#checkOrigin(req);
    if (!PUBLIC_PATHS.has(path) && !this.#opts.token.matches(req.headers.authorization)) {
      throw new ApiRequestError(
        401,
        'ERR_UNAUTHORIZED',
        req.headers.authorization === undefined
          ? 'this path needs the API token: Authorization: Bearer <token> (see <dataDir>/api-token)'
          : 'wrong API token',
      );
    }
  }

  #checkHost(value: string | undefined): void {
    const parsed = value === undefined ? undefined : parseHostHeader(value);
    if (parsed === undefined || !this.#allowed(parsed.host, parsed.port)) {
      throw new ApiRequestError(
        403,
        'ERR_FORBIDDEN_HOST',
        `Host '${(value ?? '').slice(0, 100)}' is not a name of this API (add it to apiHosts)`,
      );
    }
  }

  #checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (req.headers['sec-fetch-site'] === 'cross-site') {
      throw new ApiRequestError(403, 'ERR_FORBIDDEN_ORIGIN', 'cross-site requests are refused');
    }
    if (origin === undefined) return;
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    const ok =
      url !== undefined &&
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      this.#allowed(
        url.hostname.replace(/^\[(.*)\]$/, '$1'),
        url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
      );
    if (!ok) {
      throw new ApiRequestError(
        403,
        'ERR_FORBIDDEN_ORIGIN',
        `requests from origin '${origin.slice(0, 100)}' are refused`,
      );
    }
  }
}
