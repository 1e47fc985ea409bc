/**
 * Parsing what an API request gives: its URL (inside the error boundary: a URL that cannot be
 * parsed, or a path segment with a bad %-encoding, is a 400, never an exception), artifact ids,
 * attributes, list queries and purge bodies. Every problem is an {@link ApiRequestError}.
 * @module
 */
import type { ArtifactId } from '../broadcast/index.ts';
import { MAX_ATTRIBUTES_BYTES } from '../broadcast/index.ts';
import { ApiRequestError } from '../errors.ts';

/** Request header carrying an artifact's attributes, base64 (at most 256 bytes decoded). */
export const ATTRIBUTES_HEADER = 'x-artifact-attributes';

const ARTIFACT_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function parseId(text: string): ArtifactId {
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

export function parseAttributes(header: string | string[] | undefined): Uint8Array | undefined {
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

/**
 * The path (dot segments resolved, still %-encoded) and query of a request target. Only the
 * origin form (`/path?query`) is served: anything else (`*`, an absolute URL, a target the
 * WHATWG parser refuses) is 400 `ERR_BAD_URL`.
 */
export function parseTarget(target: string | undefined): { path: string; query: URLSearchParams } {
  const bad = () =>
    new ApiRequestError(
      400,
      'ERR_BAD_URL',
      `'${(target ?? '').slice(0, 100)}' is not a request path (/path?query)`,
    );
  if (target === undefined || !target.startsWith('/')) throw bad();
  let url: URL;
  try {
    // Prefixed by the origin, '//x' stays a path (alone, it would be a host).
    url = new URL(`http://api${target}`);
  } catch {
    throw bad();
  }
  if (url.host !== 'api') throw bad();
  return { path: url.pathname, query: url.searchParams };
}

/** A %-decoded path segment; a bad %-encoding is 400 `ERR_BAD_ENCODING`. */
export function decodeSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ApiRequestError(
      400,
      'ERR_BAD_ENCODING',
      `path segment '${text.slice(0, 100)}' has a bad %-encoding`,
    );
  }
}
