/**
 * A fault-injecting TCP proxy for tests. It listens on 127.0.0.1 (OS-chosen port) and forwards
 * each connection to one target; each direction can be given faults, changed at any time:
 *
 * - `delayMs`: every chunk is held this long before it is forwarded (order is kept);
 * - `bytesPerSec`: a throughput limit (chunks are paced, at most 16 KiB at a time);
 * - `blackHole`: bytes are read and discarded, nothing is forwarded (the connection stays open);
 * - `resetAfterBytes`: once this many more bytes went this way (counted from when the fault
 *   was set, over all connections), the connection carrying the next byte is reset on both
 *   sides (TCP RST), cutting whatever frame was in flight; once;
 * - `flipAfterBytes`: likewise, the byte at that point is inverted; once.
 *
 * `dropConnections()` destroys every open connection. To put the proxy in front of a node, list
 * the proxy's address in the registry for that node: every peer that dials it goes through.
 */
import { once } from 'node:events';
import * as net from 'node:net';

export interface DirectionFaults {
  delayMs?: number;
  bytesPerSec?: number;
  blackHole?: boolean;
  resetAfterBytes?: number;
  flipAfterBytes?: number;
}

/** Faults as kept: the one-shot offsets made absolute (total bytes forwarded that way). */
interface ActiveFaults {
  delayMs?: number;
  bytesPerSec?: number;
  blackHole?: boolean;
  resetAt?: number;
  flipAt?: number;
}

/** `toTarget`: from the dialer to the node behind the proxy; `toClient`: back. */
export type Direction = 'toTarget' | 'toClient';

/** What happened, for assertions. */
export interface ProxyStats {
  accepted: number;
  forwarded: Record<Direction, number>;
  discarded: Record<Direction, number>;
  flipped: number;
  resets: number;
  dropped: number;
}

/** Bytes buffered in one direction before the source is paused. */
const MAX_BUFFERED = 1 << 20;
const PACE_CHUNK = 16 * 1024;

class Pipe {
  readonly #queue: { chunk: Buffer; at: number }[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextFree = 0;
  #waitingDrain = false;
  #ended = false;

  constructor(
    readonly proxy: FaultProxy,
    readonly dir: Direction,
    readonly conn: Connection,
    readonly src: net.Socket,
    readonly dst: net.Socket,
  ) {
    src.on('data', (chunk: Buffer) => this.#onData(chunk));
    // A half-close is passed on once everything before it was forwarded.
    src.on('end', () => {
      this.#ended = true;
      this.#pump();
    });
    dst.on('drain', () => {
      this.#waitingDrain = false;
      this.#pump();
    });
  }

  #onData(chunk: Buffer): void {
    const f = this.proxy.faults[this.dir];
    if (f.blackHole) {
      this.proxy.stats.discarded[this.dir] += chunk.length;
      return;
    }
    this.#queue.push({ chunk, at: performance.now() + (f.delayMs ?? 0) });
    this.#queued += chunk.length;
    if (this.#queued > MAX_BUFFERED) this.src.pause();
    this.#pump();
  }

  #pump(): void {
    if (this.#timer || this.#waitingDrain || this.conn.closed) return;
    while (this.#queue.length > 0) {
      const f = this.proxy.faults[this.dir];
      const head = this.#queue[0]!;
      const now = performance.now();
      const readyAt = Math.max(head.at, f.bytesPerSec ? this.#nextFree : 0);
      if (readyAt > now) {
        this.#timer = setTimeout(
          () => {
            this.#timer = undefined;
            this.#pump();
          },
          Math.ceil(readyAt - now),
        );
        return;
      }
      let chunk = head.chunk;
      if (f.bytesPerSec && chunk.length > PACE_CHUNK) {
        head.chunk = chunk.subarray(PACE_CHUNK);
        chunk = chunk.subarray(0, PACE_CHUNK);
      } else {
        this.#queue.shift();
      }
      this.#queued -= chunk.length;
      if (f.bytesPerSec) {
        this.#nextFree = Math.max(now, this.#nextFree) + (chunk.length / f.bytesPerSec) * 1000;
      }
      chunk = this.#flip(chunk);
      const total = this.proxy.stats.forwarded[this.dir];
      if (f.resetAt !== undefined && total + chunk.length > f.resetAt) {
        const before = chunk.subarray(0, Math.max(0, f.resetAt - total));
        f.resetAt = undefined; // once
        this.proxy.forwarded(this.dir, before.length);
        this.proxy.stats.resets++;
        this.dst.write(before, () => this.conn.reset());
        return;
      }
      this.proxy.forwarded(this.dir, chunk.length);
      if (!this.dst.write(chunk)) {
        this.#waitingDrain = true;
        return;
      }
    }
    if (this.#ended) this.dst.end();
    else if (this.#queued <= MAX_BUFFERED / 2) this.src.resume();
  }

  #flip(chunk: Buffer): Buffer {
    const f = this.proxy.faults[this.dir];
    const total = this.proxy.stats.forwarded[this.dir];
    const at = f.flipAt;
    if (at === undefined || at < total || at >= total + chunk.length) return chunk;
    f.flipAt = undefined; // once
    const copy = Buffer.from(chunk);
    copy[at - total] = copy[at - total]! ^ 0xff;
    this.proxy.stats.flipped++;
    return copy;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

class Connection {
  closed = false;
  readonly pipes: Pipe[];

  constructor(
    proxy: FaultProxy,
    readonly client: net.Socket,
    readonly target: net.Socket,
  ) {
    this.pipes = [
      new Pipe(proxy, 'toTarget', this, client, target),
      new Pipe(proxy, 'toClient', this, target, client),
    ];
    for (const s of [client, target]) {
      s.on('error', () => this.destroy());
      s.on('close', () => this.destroy());
    }
  }

  /** Both sides get a TCP RST. */
  reset(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pipes) p.stop();
    this.client.resetAndDestroy();
    this.target.resetAndDestroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pipes) p.stop();
    this.client.destroy();
    this.target.destroy();
  }
}

export class FaultProxy {
  readonly faults: Record<Direction, ActiveFaults> = { toTarget: {}, toClient: {} };
  readonly stats: ProxyStats = {
    accepted: 0,
    forwarded: { toTarget: 0, toClient: 0 },
    discarded: { toTarget: 0, toClient: 0 },
    flipped: 0,
    resets: 0,
    dropped: 0,
  };
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  readonly #waiters: { dir: Direction; total: number; resolve: () => void }[] = [];
  readonly #target: { host: string; port: number };
  #address = '';

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) =>
      this.#onClient(client),
    );
  }

  /** A proxy on 127.0.0.1 (any port) in front of `target` ("host:port"). */
  static async start(target: string): Promise<FaultProxy> {
    const i = target.lastIndexOf(':');
    const proxy = new FaultProxy({ host: target.slice(0, i), port: Number(target.slice(i + 1)) });
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    proxy.#address = `127.0.0.1:${(proxy.#server.address() as net.AddressInfo).port}`;
    return proxy;
  }

  /** Where peers should dial ("127.0.0.1:port"): put it in the registry. */
  get address(): string {
    return this.#address;
  }

  /** Connections open now. */
  get open(): number {
    return this.#connections.size;
  }

  /** Replaces the faults of one direction (or both with `'both'`). */
  set(dir: Direction | 'both', faults: DirectionFaults): void {
    for (const d of dir === 'both' ? (['toTarget', 'toClient'] as const) : [dir]) {
      const total = this.stats.forwarded[d];
      this.faults[d] = {
        delayMs: faults.delayMs,
        bytesPerSec: faults.bytesPerSec,
        blackHole: faults.blackHole,
        resetAt: faults.resetAfterBytes === undefined ? undefined : total + faults.resetAfterBytes,
        flipAt: faults.flipAfterBytes === undefined ? undefined : total + faults.flipAfterBytes,
      };
    }
  }

  /** Resolves once `bytes` more bytes (from now) have been forwarded in `dir`. */
  whenForwarded(dir: Direction, bytes: number): Promise<void> {
    const total = this.stats.forwarded[dir] + bytes;
    return new Promise((resolve) => {
      this.#waiters.push({ dir, total, resolve });
      this.forwarded(dir, 0);
    });
  }

  /** Counts bytes forwarded (the pipes call it) and wakes whoever waits for them. */
  forwarded(dir: Direction, bytes: number): void {
    this.stats.forwarded[dir] += bytes;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.dir === dir && this.stats.forwarded[dir] >= w.total) {
        this.#waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Clears every fault. */
  heal(): void {
    this.set('both', {});
  }

  /** Destroys every open connection (a dropped connection, as a crashed middlebox would). */
  dropConnections(): void {
    for (const c of [...this.#connections]) {
      this.stats.dropped++;
      c.destroy();
    }
  }

  #onClient(client: net.Socket): void {
    this.stats.accepted++;
    const target = net.connect({ ...this.#target, allowHalfOpen: true });
    const conn = new Connection(this, client, target);
    this.#connections.add(conn);
    client.once('close', () => this.#connections.delete(conn));
    target.once('connect', () => client.resume());
    client.setNoDelay(true);
    target.setNoDelay(true);
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
