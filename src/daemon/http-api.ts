/**
 * The daemon's local HTTP API (node:http): status, metrics, the status page, and per channel
 * artifact upload, read, abort and event streams. Errors are JSON
 * `{ "error": { "code", "message" } }` with the matching status.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ArtifactId, Channel, ChunkingConfig } from '../broadcast/index.ts';
import { MAX_ATTRIBUTES_BYTES } from '../broadcast/index.ts';
import { ApiRequestError, SubnetP2pError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Node } from '../node/index.ts';
import type { AcceptBody } from './durable-accept.ts';
import type { DaemonMetrics } from './metrics.ts';
import type { EventStreams } from './sse.ts';
import type { StatusHistory } from './status-history.ts';
import { splitUploadBody } from './upload-body.ts';

/** Request header carrying an artifact's attributes, base64 (at most 256 bytes decoded). */
export const ATTRIBUTES_HEADER = 'x-artifact-attributes';

/** HTTP status of each error code the broadcast layer throws. */
const STATUS_OF_CODE: Record<string, number> = {
  ERR_UNKNOWN_CHANNEL: 404,
  ERR_ARTIFACT_TOO_LARGE: 413,
  ERR_QUEUE_FULL: 503,
  ERR_NODE_STOPPED: 503,
  ERR_DURABLE_WRITE: 503,
};

const ARTIFACT_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The static files of the status page, read once at start. */
const STATUS_PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status-page.js': { file: 'status-page.js', type: 'text/javascript; charset=utf-8' },
};

/** What the API needs from the daemon. */
export interface ApiContext {
  node: Node;
  subnet: string;
  streams: EventStreams;
  history: StatusHistory;
  metrics: DaemonMetrics;
  limits: { maxEventStreams: number; maxConcurrentUploads: number };
  /** The largest artifact of a configured channel, bytes. */
  maxArtifactBytes: (channel: string) => number;
  /** The chunking of a configured channel (undefined: none, every artifact whole). */
  chunking: (channel: string) => ChunkingConfig | undefined;
  logger: Logger;
  /** True once shutdown began: new uploads and streams are refused with 503. */
  draining: () => boolean;
  /**
   * The POST path's broadcast (default: straight to the channel). The daemon gives one that
   * stores the artifact durably before the 201 (`durable-accept.ts`).
   */
  accept?: AcceptBody;
}

/** One channel of `GET /v1/status`: its use of its bounds (`Channel.stats()`). */
export interface ChannelStatusJson {
  name: string;
  /** Slots taken by our own and relayed artifacts, of `maxSlots`. */
  slots: { used: number; max: number };
  /** Artifacts held whole or in part, of their limit, and their bytes, of `maxBytes`. */
  held: { artifacts: number; maxArtifacts: number; bytes: number; maxBytes: number };
  /** The most the artifacts charged to one peer may hold (`peerShare`). */
  perPeer: { maxArtifacts: number; maxBytes: number };
  /** What each owner (a peer's NodeId, or 'self') holds. */
  owners: { origin: string; artifacts: number; bytes: number }[];
  /** Advertised artifacts not held yet. */
  wants: number;
  maxAgeMs: number;
  /** `purgeBelow` watermarks in force, by attribute field. */
  watermarks: Record<string, number>;
}

/** `GET /v1/status`. */
export interface StatusJson {
  nodeId: string;
  subnet: string;
  registryVersion: number | null;
  address: string;
  channels: ChannelStatusJson[];
  peers: { nodeId: string; address: string; state: string; connId: number | null }[];
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Builds the `GET /v1/status` answer. */
export function statusOf(node: Node, subnet: string): StatusJson {
  return {
    nodeId: node.nodeId,
    subnet,
    registryVersion: node.transport.registryVersion ?? null,
    address: formatHostPort(node.address.host, node.address.port),
    channels: node.channels().map((name) => {
      const { channel: _, ...stats } = node.channel(name).stats();
      return { name, ...stats };
    }),
    peers: node.transport.peers().map((p) => ({
      nodeId: p.nodeId,
      address: p.address,
      state: p.state,
      connId: p.connId ?? null,
    })),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: { code, message } });
}

function parseId(text: string): ArtifactId {
  const id = text.toLowerCase();
  if (!ARTIFACT_ID.test(id)) {
    throw new ApiRequestError(
      400,
      'ERR_BAD_ARTIFACT_ID',
      `'${text.slice(0, 100)}' is not an artifact id (64 hex digits of SHA-256)`,
    );
  }
  return id as ArtifactId;
}

function parseAttributes(header: string | string[] | undefined): Uint8Array | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join('') : header.trim();
  if (!BASE64.test(text)) {
    throw new ApiRequestError(
      400,
      'ERR_BAD_ATTRIBUTES',
      `header ${ATTRIBUTES_HEADER} must be base64 (standard alphabet, padded)`,
    );
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > MAX_ATTRIBUTES_BYTES) {
    throw new ApiRequestError(
      400,
      'ERR_BAD_ATTRIBUTES',
      `attributes of ${bytes.length} bytes exceed the limit of ${MAX_ATTRIBUTES_BYTES}`,
    );
  }
  return bytes;
}

/** `GET /v1/channels/{ch}/artifacts`: page size by default, and at most. */
export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;

/** Largest body of `POST /v1/channels/{ch}/purge`, bytes. */
export const MAX_PURGE_BODY_BYTES = 4096;

/** Longest attribute field name a purge may name (attributes are at most 256 bytes). */
const MAX_FIELD_LENGTH = MAX_ATTRIBUTES_BYTES;

/** One artifact of `GET /v1/channels/{ch}/artifacts`. */
export interface HeldArtifactJson {
  id: string;
  size: number;
  /** Base64 (standard, padded). */
  attributes: string;
  /** The NodeId of the peer it is charged to, or 'self'. */
  origin: string;
  ageMs: number;
  held: 'whole' | 'partial';
}

/** `GET /v1/channels/{ch}/artifacts`: a page, and the cursor of the next (null on the last). */
export interface ArtifactListJson {
  artifacts: HeldArtifactJson[];
  next: number | null;
}

/** A query parameter that must be a non-negative safe integer (undefined when absent). */
function queryInt(query: URLSearchParams, name: string, min: number, max: number) {
  const text = query.get(name);
  if (text === null) return undefined;
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ApiRequestError(
      400,
      'ERR_BAD_QUERY',
      `query '${name}' must be an integer from ${min} to ${max}, got '${text.slice(0, 40)}'`,
    );
  }
  return n;
}

/** Parses the query of `GET /v1/channels/{ch}/artifacts`: `limit` and the cursor `after`. */
export function parseListQuery(query: URLSearchParams): { limit: number; after?: number } {
  for (const key of query.keys()) {
    if (key !== 'limit' && key !== 'after') {
      throw new ApiRequestError(
        400,
        'ERR_BAD_QUERY',
        `unknown query parameter '${key.slice(0, 40)}' (use limit and after)`,
      );
    }
  }
  const limit = queryInt(query, 'limit', 1, LIST_MAX_LIMIT) ?? LIST_DEFAULT_LIMIT;
  const after = queryInt(query, 'after', 0, Number.MAX_SAFE_INTEGER);
  return after === undefined ? { limit } : { limit, after };
}

/** What `POST /v1/channels/{ch}/purge` removes. */
export type PurgeRequest = { below: { field: string; value: number } } | { olderThanMs: number };

function badPurge(message: string): ApiRequestError {
  return new ApiRequestError(400, 'ERR_BAD_PURGE', message);
}

/**
 * Validates the body of `POST /v1/channels/{ch}/purge`: exactly one of
 * `{"below": {"field", "value"}}` (a watermark) and `{"olderThanMs"}` (an age). Throws
 * ERR_BAD_PURGE (400).
 */
export function parsePurge(text: string): PurgeRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badPurge('the body must be JSON: {"below": {"field", "value"}} or {"olderThanMs"}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badPurge('the body must be a JSON object');
  }
  const keys = Object.keys(body);
  const unknown = keys.find((k) => k !== 'below' && k !== 'olderThanMs');
  if (unknown !== undefined) throw badPurge(`unknown field '${unknown.slice(0, 40)}'`);
  if (keys.length !== 1) throw badPurge("give exactly one of 'below' and 'olderThanMs'");
  const b = body as Record<string, unknown>;
  if ('olderThanMs' in b) {
    const ms = b.olderThanMs;
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) {
      throw badPurge("'olderThanMs' must be an integer >= 0 (milliseconds)");
    }
    return { olderThanMs: ms };
  }
  const below = b.below;
  if (typeof below !== 'object' || below === null || Array.isArray(below)) {
    throw badPurge("'below' must be an object with 'field' (a string) and 'value' (a number)");
  }
  const w = below as Record<string, unknown>;
  const extra = Object.keys(w).find((k) => k !== 'field' && k !== 'value');
  if (extra !== undefined) throw badPurge(`unknown field 'below.${extra.slice(0, 40)}'`);
  if (typeof w.field !== 'string' || w.field.length === 0 || w.field.length > MAX_FIELD_LENGTH) {
    throw badPurge(`'below.field' must be a string of 1 to ${MAX_FIELD_LENGTH} characters`);
  }
  if (typeof w.value !== 'number' || !Number.isFinite(w.value)) {
    throw badPurge("'below.value' must be a finite number");
  }
  return { below: { field: w.field, value: w.value } };
}

/** The body of a small JSON request, at most `max` bytes (413 ERR_BODY_TOO_LARGE past it). */
async function smallBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<string> {
  const tooBig = () => {
    // The rest of the body is not read: the connection closes after the answer.
    res.setHeader('connection', 'close');
    return new ApiRequestError(413, 'ERR_BODY_TOO_LARGE', `the body exceeds ${max} bytes`);
  };
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) throw tooBig();
  const pieces: Buffer[] = [];
  let size = 0;
  for await (const piece of req.iterator({ destroyOnReturn: false })) {
    const chunk = piece as Buffer;
    size += chunk.length;
    if (size > max) throw tooBig();
    pieces.push(chunk);
  }
  return Buffer.concat(pieces, size).toString('utf8');
}

function methodNotAllowed(res: ServerResponse, allowed: string): void {
  res.setHeader('allow', allowed);
  throw new ApiRequestError(405, 'ERR_METHOD_NOT_ALLOWED', `use ${allowed} on this path`);
}

function tooLarge(channel: string, max: number, size: string): ApiRequestError {
  return new ApiRequestError(
    413,
    'ERR_ARTIFACT_TOO_LARGE',
    `artifact of ${size} bytes exceeds channel '${channel}' limit of ${max}`,
  );
}

/**
 * The request body, at most `max` bytes in all, as it arrives. A declared Content-Length over
 * `max` is refused before anything is read; a body that grows past `max` is refused as soon as
 * it does (ERR_ARTIFACT_TOO_LARGE): neither is buffered whole. Whenever the body is not read to
 * its end (a refusal, or a reader that stops: a full chunk store), the connection is closed
 * after the response, since the rest of the body is not read.
 */
async function* bodyOf(
  req: IncomingMessage,
  res: ServerResponse,
  channel: string,
  max: number,
): AsyncGenerator<Buffer> {
  let ended = false;
  try {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > max) throw tooLarge(channel, max, declared);
    let size = 0;
    // Not destroyed when left early: the socket must still carry the error response.
    for await (const piece of req.iterator({ destroyOnReturn: false })) {
      const chunk = piece as Buffer;
      size += chunk.length;
      if (size > max) throw tooLarge(channel, max, `more than ${max}`);
      yield chunk;
    }
    ended = true;
  } finally {
    if (!ended && !res.headersSent) res.setHeader('connection', 'close');
  }
}

/**
 * Broadcasts the request body on `channel`. A body of at most `thresholdBytes` (any body, for a
 * channel without chunking) is read whole and broadcast as is. A larger one is chunked into the
 * channel's chunk store as it arrives (one chunk in memory at a time; `urgent` does not apply:
 * chunked artifacts are never inline), and the request waits until it is stored and advertised,
 * so that what fails (a full chunk store, a body past the limit) is the request's error status.
 * Returns the id and the body's size.
 */
async function broadcastBody(
  body: AsyncGenerator<Buffer>,
  channel: Channel,
  thresholdBytes: number,
  opts: { attributes: Uint8Array | undefined; urgent: boolean },
): Promise<{ id: ArtifactId; size: number }> {
  const b = await splitUploadBody(body, thresholdBytes);
  if (b.kind === 'whole') return { id: channel.broadcast(b.bytes, opts), size: b.bytes.length };
  const id = await channel.broadcastStream(b.chunks, { attributes: opts.attributes });
  return { id, size: b.size() };
}

/** Resolves when `res` can take more (or is closed). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Sends a complete chunked artifact of `size` bytes from the chunk store, one chunk at a time,
 * waiting for the socket to drain (a slow client holds at most about a chunk). A store that
 * gives fewer bytes (a chunk lost, the artifact deleted meanwhile) throws, and the response,
 * already begun, is cut short.
 */
async function sendChunked(
  res: ServerResponse,
  channel: Channel,
  id: ArtifactId,
  size: number,
): Promise<void> {
  let sent = 0;
  for await (const chunk of channel.stream(id)) {
    if (res.destroyed) return; // the client left
    sent += chunk.length;
    if (!res.write(chunk)) await drained(res);
  }
  if (res.destroyed) return;
  if (sent !== size) {
    throw new Error(`chunk store gave ${sent} of the ${size} bytes of ${id}`);
  }
  res.end();
}

/** The request handler of the API, for `http.createServer`. */
export function createApiHandler(
  ctx: ApiContext,
  statusPageDir: URL,
): (req: IncomingMessage, res: ServerResponse) => void {
  const pages = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(STATUS_PAGE_FILES)) {
    pages.set(path, { body: readFileSync(new URL(file, statusPageDir)), type });
  }
  let uploads = 0;

  const channelOf = (name: string): Channel => {
    // Throws UnknownChannelError (404).
    return ctx.node.channel(decodeURIComponent(name));
  };

  const routes = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    setRoute: (route: string) => void,
  ): Promise<void> => {
    const method = req.method ?? 'GET';
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
      sendJson(res, 200, statusOf(ctx.node, ctx.subnet));
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
      throw new ApiRequestError(404, 'ERR_NOT_FOUND', `no such path: ${path.slice(0, 200)}`);
    }
    const [, name, kind, idText] = m as unknown as [string, string, string, string | undefined];
    if (kind === 'purge') {
      setRoute('purge');
      if (idText !== undefined) {
        throw new ApiRequestError(404, 'ERR_NOT_FOUND', `no such path: ${path.slice(0, 200)}`);
      }
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const channel = channelOf(name);
      const purge = parsePurge(await smallBody(req, res, MAX_PURGE_BODY_BYTES));
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
      if (idText !== undefined) {
        throw new ApiRequestError(404, 'ERR_NOT_FOUND', `no such path: ${path.slice(0, 200)}`);
      }
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const channel = channelOf(name);
      if (ctx.draining()) throw shuttingDown();
      if (ctx.streams.size >= ctx.limits.maxEventStreams) {
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
        throw new ApiRequestError(
          503,
          'ERR_TOO_MANY_UPLOADS',
          `${ctx.limits.maxConcurrentUploads} uploads (limits.maxConcurrentUploads) are in progress`,
        );
      }
      const body = bodyOf(req, res, channel.name, ctx.maxArtifactBytes(channel.name));
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
    const id = parseId(decodeURIComponent(idText));
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

  return (req, res) => {
    let route = 'unknown';
    // During shutdown, no connection is kept for another request.
    if (ctx.draining()) res.setHeader('connection', 'close');
    res.on('finish', () => ctx.metrics.requests.inc({ route, status: res.statusCode }));
    const url = new URL(req.url ?? '/', 'http://api');
    routes(req, res, url.pathname, url.searchParams, (r) => {
      route = r;
    }).catch((err: unknown) => {
      if (err instanceof ApiRequestError) {
        sendError(res, err.status, err.code, err.message);
      } else if (err instanceof SubnetP2pError && STATUS_OF_CODE[err.code] !== undefined) {
        sendError(res, STATUS_OF_CODE[err.code]!, err.code, err.message);
      } else {
        ctx.logger.error({ err, path: url.pathname }, 'API request failed');
        sendError(res, 500, 'ERR_INTERNAL', 'internal error (see the daemon log)');
      }
    });
  };
}

function shuttingDown(): ApiRequestError {
  return new ApiRequestError(503, 'ERR_SHUTTING_DOWN', 'the node is shutting down');
}
