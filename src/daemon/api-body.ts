/**
 * Request and response bodies of the API: reading a request body with a minimum rate (a client
 * that sends too slowly is cut off rather than holding an upload slot), the bounded bodies of
 * uploads and small JSON requests, and sending a chunked artifact at the client's pace.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ArtifactId, Channel } from '../broadcast/index.ts';
import { ApiRequestError } from '../errors.ts';
import { splitUploadBody } from './upload-body.ts';

/** The minimum rate a request body must arrive at (`limits.uploadMinBytesPerSecond`, ...). */
export interface BodyRate {
  /** Slowest average rate, bytes per second, over the time spent waiting for the client. */
  minBytesPerSecond: number;
  /** Waiting time before the rate is checked, ms. */
  graceMs: number;
}

/** The request was cut off: its body arrived slower than {@link BodyRate} allows. */
export function uploadTooSlow(rate: BodyRate, bytes: number, waitedMs: number): ApiRequestError {
  return new ApiRequestError(
    408,
    'ERR_UPLOAD_TOO_SLOW',
    `the body arrived at ${Math.round((bytes * 1000) / Math.max(1, waitedMs))} bytes/s, under ` +
      `limits.uploadMinBytesPerSecond (${rate.minBytesPerSecond}) after ${Math.round(waitedMs)} ms`,
  );
}

/**
 * The pieces of `req`'s body as they arrive. Only the time spent waiting for the client counts
 * (while the consumer works on a piece, the clock stops): once it passes `rate.graceMs`, the
 * body must have arrived at `rate.minBytesPerSecond` on average over it, or this throws 408
 * `ERR_UPLOAD_TOO_SLOW` at the moment it falls under (one timer per wait). A client that goes
 * away ends it with the stream's error. Never destroys `req`: the socket must still carry the
 * error response.
 */
export async function* readBody(req: IncomingMessage, rate: BodyRate): AsyncGenerator<Buffer> {
  let bytes = 0;
  let waitedMs = 0;
  for (;;) {
    const piece = req.read() as Buffer | null;
    if (piece !== null) {
      bytes += piece.length;
      yield piece;
      continue;
    }
    if (req.readableEnded) return;
    if (req.destroyed) throw clientGone(req);
    // The waiting time at which the average falls under the minimum if nothing more arrives.
    const limitMs = Math.max(rate.graceMs, (bytes * 1000) / rate.minBytesPerSecond);
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        req.off('readable', onReady);
        req.off('end', onReady);
        req.off('error', onError);
        req.off('close', onClose);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onReady = () => done();
      const onError = (err: Error) => done(err);
      const onClose = () => done(req.readableEnded ? undefined : clientGone(req));
      const timer = setTimeout(
        () => done(uploadTooSlow(rate, bytes, waitedMs + performance.now() - started)),
        limitMs - waitedMs,
      );
      req.on('readable', onReady);
      req.on('end', onReady);
      req.on('error', onError);
      req.on('close', onClose);
    });
    waitedMs += performance.now() - started;
  }
}

/** The error of a request whose client went away mid-body. */
function clientGone(req: IncomingMessage): Error {
  const err = new Error(`client closed the request (${req.method} ${req.url?.slice(0, 100)})`);
  (err as NodeJS.ErrnoException).code = 'ECONNRESET';
  return err;
}

/** Whether `err` is a client going away (not a failure of the node): logged at debug. */
export function isClientAbort(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'ERR_STREAM_DESTROYED'
  );
}

/** The body of a small JSON request, at most `max` bytes (413 ERR_BODY_TOO_LARGE past it). */
export async function smallBody(
  req: IncomingMessage,
  res: ServerResponse,
  max: number,
  rate: BodyRate,
): Promise<string> {
  const tooBig = () => {
    // The rest of the body is not read: the connection closes after the answer.
    res.setHeader('connection', 'close');
    return new ApiRequestError(413, 'ERR_BODY_TOO_LARGE', `the body exceeds ${max} bytes`);
  };
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) throw tooBig();
  const pieces: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of readBody(req, rate)) {
      size += chunk.length;
      if (size > max) throw tooBig();
      pieces.push(chunk);
    }
  } catch (err) {
    if (!res.headersSent) res.setHeader('connection', 'close');
    throw err;
  }
  return Buffer.concat(pieces, size).toString('utf8');
}

function tooLarge(channel: string, max: number, size: string): ApiRequestError {
  return new ApiRequestError(
    413,
    'ERR_ARTIFACT_TOO_LARGE',
    `artifact of ${size} bytes exceeds channel '${channel}' limit of ${max}`,
  );
}

/**
 * The request body, at most `max` bytes in all, as it arrives (at `rate` at least). A declared
 * Content-Length over `max` is refused before anything is read; a body that grows past `max` is
 * refused as soon as it does (ERR_ARTIFACT_TOO_LARGE): neither is buffered whole. Whenever the
 * body is not read to its end (a refusal, a client too slow, or a reader that stops: a full
 * chunk store), the connection is closed after the response, since the rest of the body is not
 * read.
 */
export async function* uploadBody(
  req: IncomingMessage,
  res: ServerResponse,
  channel: string,
  max: number,
  rate: BodyRate,
): AsyncGenerator<Buffer> {
  let ended = false;
  try {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > max) throw tooLarge(channel, max, declared);
    let size = 0;
    for await (const chunk of readBody(req, rate)) {
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
export async function broadcastBody(
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
export async function sendChunked(
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
