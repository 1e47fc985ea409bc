/**
 * Server-sent event streams of the HTTP API: one stream per `GET .../events` request, fed with
 * the artifacts a channel delivers. Each stream queues at most `maxBacklog` events for a client
 * that reads slowly; past that the stream is closed (the client reconnects and reads what it
 * missed with GET), so a stalled client cannot make the daemon hold its artifacts.
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { DeliveredArtifact } from '../broadcast/index.ts';

/** What one `artifact` event carries (its `data`, as JSON). */
export interface ArtifactEvent {
  channel: string;
  id: string;
  /** The artifact's size, bytes (for a chunked artifact, its total size). */
  size: number;
  /** The artifact's attributes, base64. */
  attributes: string;
  /** The NodeId of the peer it came from. */
  from: string;
}

/** Why a stream was closed by the daemon (metric label). */
export type StreamCloseReason = 'slow_client' | 'shutdown';

/** Options of {@link EventStreams}. */
export interface EventStreamsOptions {
  /** Events queued for one slow stream before it is closed. */
  maxBacklog: number;
  /** Period of the keep-alive comment on every stream, ms. */
  keepAliveMs: number;
  /** Called when the daemon closes a stream. */
  onClosed?: (channel: string, reason: StreamCloseReason) => void;
  /** Called when the number of open streams of a channel changes. */
  onCount?: (channel: string, open: number) => void;
}

class Stream {
  readonly channel: string;
  readonly res: ServerResponse;
  /** Events not yet written because the socket buffer is full. */
  backlog: string[] = [];
  blocked = false;

  constructor(channel: string, res: ServerResponse) {
    this.channel = channel;
    this.res = res;
  }
}

/** Formats one artifact as an SSE `artifact` event. */
export function formatArtifactEvent(artifact: DeliveredArtifact): string {
  const data: ArtifactEvent = {
    channel: artifact.channel,
    id: artifact.id,
    size: artifact.chunked?.size ?? artifact.bytes.length,
    attributes: Buffer.from(artifact.attributes).toString('base64'),
    from: artifact.from,
  };
  return `event: artifact\nid: ${artifact.id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The open event streams, by channel. */
export class EventStreams {
  readonly #opts: EventStreamsOptions;
  readonly #streams = new Set<Stream>();
  readonly #timer: NodeJS.Timeout;

  constructor(opts: EventStreamsOptions) {
    this.#opts = opts;
    this.#timer = setInterval(() => {
      for (const s of this.#streams) this.#write(s, ': keep-alive\n\n');
    }, opts.keepAliveMs);
    this.#timer.unref();
  }

  /** Streams open now, all channels. */
  get size(): number {
    return this.#streams.size;
  }

  /**
   * Makes `res` an event stream of `channel`. The first bytes (a `: subscribed` comment) are
   * written once the stream is registered: a client that has read them sees every later
   * delivery.
   */
  open(channel: string, res: ServerResponse): void {
    const stream = new Stream(channel, res);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    this.#streams.add(stream);
    this.#count(channel);
    res.on('close', () => {
      if (this.#streams.delete(stream)) this.#count(channel);
    });
    res.on('drain', () => this.#flush(stream));
    this.#write(stream, ': subscribed\n\n');
  }

  /** Sends `artifact` to every stream of its channel. */
  publish(artifact: DeliveredArtifact): void {
    let event: string | undefined;
    for (const s of this.#streams) {
      if (s.channel !== artifact.channel) continue;
      event ??= formatArtifactEvent(artifact);
      this.#write(s, event);
    }
  }

  /** Ends every stream (shutdown) and stops the keep-alive timer. */
  closeAll(): void {
    clearInterval(this.#timer);
    for (const s of [...this.#streams]) this.#close(s, 'shutdown');
  }

  #count(channel: string): void {
    let open = 0;
    for (const s of this.#streams) if (s.channel === channel) open++;
    this.#opts.onCount?.(channel, open);
  }

  #write(stream: Stream, text: string): void {
    if (stream.blocked) {
      if (stream.backlog.length >= this.#opts.maxBacklog) {
        this.#close(stream, 'slow_client');
        return;
      }
      stream.backlog.push(text);
      return;
    }
    if (!stream.res.write(text)) stream.blocked = true;
  }

  #flush(stream: Stream): void {
    stream.blocked = false;
    while (stream.backlog.length > 0 && !stream.blocked) {
      if (!stream.res.write(stream.backlog.shift()!)) stream.blocked = true;
    }
  }

  #close(stream: Stream, reason: StreamCloseReason): void {
    if (!this.#streams.delete(stream)) return;
    stream.backlog = [];
    this.#opts.onClosed?.(stream.channel, reason);
    this.#count(stream.channel);
    if (reason === 'slow_client') stream.res.destroy();
    else stream.res.end();
  }
}
