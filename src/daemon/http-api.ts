/**
 * The daemon's local HTTP API: the request handler and its error boundary. Every request is
 * parsed (`api-parse.ts`), checked (`api-guard.ts`: Host, Origin, token) and routed
 * (`api-routes.ts`) inside one boundary: whatever a request sends, it gets an answer or a closed
 * connection, never an exception that ends the process. Errors are JSON
 * `{ "error": { "code", "message" } }` with the matching status; a client that goes away is
 * logged at debug.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChunkingConfig } from '../broadcast/index.ts';
import { ApiRequestError, SubnetP2pError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Node } from '../node/index.ts';
import { isClientAbort } from './api-body.ts';
import type { ApiGuard } from './api-guard.ts';
import type { Readiness } from './api-health.ts';
import { parseTarget } from './api-parse.ts';
import { createRoutes } from './api-routes.ts';
import { sendError } from './api-status.ts';
import type { AcceptBody } from './durable-accept.ts';
import type { DaemonMetrics } from './metrics.ts';
import type { EventStreams } from './sse.ts';
import type { StatusHistory } from './status-history.ts';

export {
  type ArtifactListJson,
  ATTRIBUTES_HEADER,
  type HeldArtifactJson,
  LIST_DEFAULT_LIMIT,
  LIST_MAX_LIMIT,
  MAX_PURGE_BODY_BYTES,
  type PurgeRequest,
  parseListQuery,
  parsePurge,
} from './api-parse.ts';
export {
  type ChannelStatusJson,
  type FullStatusJson,
  type StatusJson,
  statusOf,
} from './api-status.ts';

/** HTTP status of each error code the broadcast layer throws. */
const STATUS_OF_CODE: Record<string, number> = {
  ERR_UNKNOWN_CHANNEL: 404,
  ERR_ARTIFACT_TOO_LARGE: 413,
  ERR_QUEUE_FULL: 503,
  ERR_NODE_STOPPED: 503,
  ERR_DURABLE_WRITE: 503,
};

/** What the API needs from the daemon. */
export interface ApiContext {
  node: Node;
  subnet: string;
  streams: EventStreams;
  history: StatusHistory;
  metrics: DaemonMetrics;
  limits: {
    maxEventStreams: number;
    maxConcurrentUploads: number;
    uploadMinBytesPerSecond: number;
    uploadGraceMs: number;
  };
  /** The largest artifact of a configured channel, bytes. */
  maxArtifactBytes: (channel: string) => number;
  /** The chunking of a configured channel (undefined: none, every artifact whole). */
  chunking: (channel: string) => ChunkingConfig | undefined;
  logger: Logger;
  /** True once shutdown began: new uploads and streams are refused with 503. */
  draining: () => boolean;
  /** The Host, Origin and token checks. */
  guard: ApiGuard;
  /** `GET /readyz`. */
  readiness: () => Readiness;
  /** When the daemon started, ms since the epoch. */
  startedAt: number;
  /**
   * The POST path's broadcast (default: straight to the channel). The daemon gives one that
   * stores the artifact durably before the 201 (`durable-accept.ts`).
   */
  accept?: AcceptBody;
}

/** The request handler of the API, for `http.createServer` (or `https`). */
export function createApiHandler(
  ctx: ApiContext,
  statusPageDir: URL,
): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = createRoutes(ctx, statusPageDir);
  const { logger } = ctx;

  return (req, res) => {
    const started = performance.now();
    let route = 'unknown';
    let path: string | undefined;
    // A stream error (a client gone mid-body or mid-answer) must never be unhandled.
    const streamError = (err: Error) =>
      logger.debug({ path, code: (err as NodeJS.ErrnoException).code }, 'API client went away');
    req.on('error', streamError);
    res.on('error', streamError);
    // During shutdown, no connection is kept for another request.
    if (ctx.draining()) res.setHeader('connection', 'close');
    res.on('finish', () => {
      ctx.metrics.requests.inc({ route, status: res.statusCode });
      ctx.metrics.requestSeconds.observe({ route }, (performance.now() - started) / 1000);
    });
    const handle = async () => {
      const target = parseTarget(req.url);
      path = target.path;
      try {
        ctx.guard.check(req, target.path);
      } catch (err) {
        route = 'refused';
        throw err;
      }
      await routes(req, res, target.path, target.query, (r) => {
        route = r;
      });
    };
    handle().catch((err: unknown) => {
      try {
        answerError(err);
      } catch (failed) {
        logger.warn({ err: failed, path }, 'API error answer failed');
        res.destroy();
      }
    });

    function answerError(err: unknown): void {
      if (err instanceof ApiRequestError) {
        if (err.status === 401) res.setHeader('www-authenticate', 'Bearer realm="subnet-p2p"');
        if (err.status === 408) logger.debug({ path, message: err.message }, 'upload too slow');
        sendError(res, err.status, err.code, err.message);
      } else if (err instanceof SubnetP2pError && STATUS_OF_CODE[err.code] !== undefined) {
        sendError(res, STATUS_OF_CODE[err.code]!, err.code, err.message);
      } else if (isClientAbort(err) || req.destroyed || res.destroyed) {
        logger.debug({ path, message: (err as Error).message }, 'API client went away');
        res.destroy();
      } else {
        logger.error({ err, path }, 'API request failed');
        sendError(res, 500, 'ERR_INTERNAL', 'internal error (see the daemon log)');
      }
    }
  };
}
