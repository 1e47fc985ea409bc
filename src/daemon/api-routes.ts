/**
 * The routes of the daemon's local HTTP API, once a request passed the guard
 * (`api-guard.ts`): health, status, metrics, the status page, and per channel artifact upload,
 * read, list, abort, purge and event streams. Each throws an {@link ApiRequestError} (or an
 * error of the broadcast layer) for the handler to answer.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ArtifactId, Channel } from '../broadcast/index.ts';
import { ApiRequestError } from '../errors.ts';
import { LimitLog } from '../limit-log.ts';
import { broadcastBody, sendChunked, smallBody, uploadBody } from './api-body.ts';
import { processInfo } from './api-health.ts';
import {
  type ArtifactListJson,
  ATTRIBUTES_HEADER,
  decodeSegment,
  MAX_PURGE_BODY_BYTES,
  parseAttributes,
  parseId,
  parseListQuery,
  parsePurge,
} from './api-parse.ts';
import { sendJson, statusOf } from './api-status.ts';
import type { ApiContext } from './http-api.ts';

const JS = 'text/javascript; charset=utf-8';

/**
 * The static files of the status page, read once at start (served without the token, see
 * api-guard.ts): the HTML, its script, and the ES modules the script imports.
 */
export const STATUS_PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status-page.js': { file: 'status-page.js', type: JS },
  '/status-page/dom.js': { file: 'dom.js', type: JS },
  '/status-page/charts.js': { file: 'charts.js', type: JS },
  '/status-page/now.js': { file: 'now.js', type: JS },
  '/status-page/history.js': { file: 'history.js', type: JS },
};

/** Routes a request: `path` (still %-encoded) and `query` parsed, `setRoute` names the route. */
export type ApiRoutes = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
  setRoute: (route: string) => void,
) => Promise<void>;

function methodNotAllowed(res: ServerResponse, allowed: string): void {
  res.setHeader('allow', allowed);
  throw new ApiRequestError(405, 'ERR_METHOD_NOT_ALLOWED', `use ${allowed} on this path`);
}

function shuttingDown(): ApiRequestError {
  return new ApiRequestError(503, 'ERR_SHUTTING_DOWN', 'the node is shutting down');
}

function notFound(path: string): ApiRequestError {
  return new ApiRequestError(404, 'ERR_NOT_FOUND', `no such path: ${path.slice(0, 200)}`);
}

/** The routes of the API over `ctx`; the status page's files are read from `statusPageDir`. */
export function createRoutes(ctx: ApiContext, statusPageDir: URL): ApiRoutes {
  const pages = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(STATUS_PAGE_FILES)) {
    pages.set(path, { body: readFileSync(new URL(file, statusPageDir)), type });
  }
  let uploads = 0;
  // A full upload or stream limit is logged once per spell (limit-log.ts), not per request.
  const limitLog = new LimitLog(ctx.logger.child({ component: 'api' }));
  const rate = {
    minBytesPerSecond: ctx.limits.uploadMinBytesPerSecond,
    graceMs: ctx.limits.uploadGraceMs,
  };

  // Throws UnknownChannelError (404), or 400 ERR_BAD_ENCODING.
  const channelOf = (name: string): Channel => ctx.node.channel(decodeSegment(name));

  return async (req, res, path, query, setRoute) => {
    const method = req.method ?? 'GET';
    if (path === '/healthz' || path === '/readyz') {
      setRoute(path.slice(1));
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET');
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      const readiness = ctx.readiness();
      return sendJson(res, readiness.ready ? 200 : 503, readiness);
    }
    const page = pages.get(path);
    if (page !== undefined) {
      setRoute('page');
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET');
      res.writeHead(200, {
        'content-type': page.type,
        'content-length': page.body.length,
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : page.body);
      return;
    }
    if (path === '/metrics') {
      setRoute('metrics');
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const text = await ctx.node.metrics.metrics();
      res.writeHead(200, { 'content-type': ctx.node.metrics.contentType });
      res.end(text);
      return;
    }
    if (path === '/v1/status') {
      setRoute('status');
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      sendJson(res, 200, {
        ...statusOf(ctx.node, ctx.subnet),
        ...processInfo(ctx.startedAt),
        ready: ctx.readiness(),
      });
      return;
    }
    if (path === '/v1/history') {
      setRoute('history');
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      sendJson(res, 200, ctx.history.toJSON());
      return;
    }
    const m = /^\/v1\/channels\/([^/]+)\/(artifacts|events|purge)(?:\/([^/]+))?$/.exec(path);
    if (m === null) {
      setRoute('unknown');
      throw notFound(path);
    }
    const [, name, kind, idText] = m as unknown as [string, string, string, string | undefined];
    if (kind === 'purge') {
      setRoute('purge');
      if (idText !== undefined) throw notFound(path);
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const channel = channelOf(name);
      const purge = parsePurge(await smallBody(req, res, MAX_PURGE_BODY_BYTES, rate));
      const purged =
        'below' in purge
          ? channel.purgeBelow(purge.below.field, purge.below.value)
          : channel.purge((a) => a.ageMs >= purge.olderThanMs);
      sendJson(res, 200, { purged });
      return;
    }
    if (kind === 'artifacts' && idText === undefined && method !== 'POST') {
      setRoute('list_artifacts');
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, 'GET, POST');
      const channel = channelOf(name);
      const page = channel.list(parseListQuery(query));
      const body: ArtifactListJson = {
        artifacts: page.artifacts.map((a) => ({
          id: a.id,
          size: a.size,
          attributes: Buffer.from(a.attributes).toString('base64'),
          origin: a.origin,
          ageMs: a.ageMs,
          held: a.held === 'partial' ? 'partial' : 'whole',
        })),
        next: page.next ?? null,
      };
      sendJson(res, 200, body);
      return;
    }
    if (kind === 'events') {
      setRoute('events');
      if (idText !== undefined) throw notFound(path);
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const channel = channelOf(name);
      if (ctx.draining()) throw shuttingDown();
      if (ctx.streams.size >= ctx.limits.maxEventStreams) {
        limitLog.reached('event_streams', '', { maxEventStreams: ctx.limits.maxEventStreams });
        throw new ApiRequestError(
          503,
          'ERR_TOO_MANY_STREAMS',
          `all ${ctx.limits.maxEventStreams} event streams (limits.maxEventStreams) are open`,
        );
      }
      ctx.streams.open(channel.name, res);
      return;
    }
    if (idText === undefined) {
      setRoute('post_artifact');
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const channel = channelOf(name);
      const attributes = parseAttributes(req.headers[ATTRIBUTES_HEADER]);
      const urgentText = query.get('urgent');
      if (urgentText !== null && urgentText !== 'true' && urgentText !== 'false') {
        throw new ApiRequestError(400, 'ERR_BAD_REQUEST', "query 'urgent' must be true or false");
      }
      if (ctx.draining()) throw shuttingDown();
      if (uploads >= ctx.limits.maxConcurrentUploads) {
        limitLog.reached('uploads', '', { maxConcurrentUploads: ctx.limits.maxConcurrentUploads });
        throw new ApiRequestError(
          503,
          'ERR_TOO_MANY_UPLOADS',
          `${ctx.limits.maxConcurrentUploads} uploads (limits.maxConcurrentUploads) are in progress`,
        );
      }
      const body = uploadBody(req, res, channel.name, ctx.maxArtifactBytes(channel.name), rate);
      uploads++;
      let posted: { id: ArtifactId; size: number };
      try {
        posted = await (ctx.accept ?? broadcastBody)(
          body,
          channel,
          ctx.chunking(channel.name)?.thresholdBytes ?? Number.POSITIVE_INFINITY,
          { attributes, urgent: urgentText === 'true' },
        );
      } finally {
        uploads--;
        // A body left unread (an error above) stops its reader: the connection closes.
        await body.return(undefined);
      }
      const { id } = posted;
      ctx.metrics.postedBytes.inc({ channel: channel.name }, posted.size);
      res.setHeader('location', `/v1/channels/${channel.name}/artifacts/${id}`);
      sendJson(res, 201, { id });
      return;
    }
    const read = method === 'GET' || method === 'HEAD';
    setRoute(read ? 'get_artifact' : method === 'DELETE' ? 'delete_artifact' : 'artifact');
    if (!read && method !== 'DELETE') return methodNotAllowed(res, 'GET, DELETE');
    const channel = channelOf(name);
    const id = parseId(decodeSegment(idText));
    if (read) {
      const bytes = channel.get(id);
      if (bytes !== undefined) {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': bytes.length,
        });
        res.end(method === 'HEAD' ? undefined : bytes);
        return;
      }
      // A chunked artifact is not in the pool: it is read from the chunk store.
      const chunked = channel.chunked(id);
      if (chunked === undefined) {
        throw new ApiRequestError(
          404,
          'ERR_NOT_FOUND',
          `this node does not hold artifact ${id} in channel '${channel.name}'`,
        );
      }
      if (!chunked.complete) {
        throw new ApiRequestError(
          404,
          'ERR_NOT_FOUND',
          `artifact ${id} in channel '${channel.name}' is still arriving: this node holds ${chunked.chunksDone} of its ${chunked.info.chunks} chunks`,
        );
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': chunked.info.size,
      });
      if (method === 'HEAD') res.end();
      else await sendChunked(res, channel, id, chunked.info.size);
      return;
    }
    const held = channel.abort(id);
    sendJson(res, 200, { id, held });
  };
}
