/**
 * What the hand-written node processes of the comparison (raw-tls, raw-pull) share: a full mesh
 * of mutual TLS 1.3 connections on plain `node:tls`, one per pair of nodes (the lower index
 * dials, the node's Ed25519 certificate on both sides, any certificate taken: nobody is
 * authenticated), and frames cut at a 4-byte length prefix.
 * @module
 */
import { once } from 'node:events';
import * as tls from 'node:tls';
import type { NodeSetup } from './protocol.ts';

/** The length prefix of every frame: u32 big-endian, the bytes that follow it. */
export const PREFIX_BYTES = 4;

/** Cuts a byte stream into length-prefixed frames (chunks collected, concatenated once). */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = -1;
  readonly #onFrame: (frame: Buffer) => void;

  constructor(onFrame: (frame: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < PREFIX_BYTES) return;
        this.#need = this.#take(PREFIX_BYTES).readUInt32BE(0);
      }
      if (this.#buffered < this.#need) return;
      const frame = this.#take(this.#need);
      this.#need = -1;
      this.#onFrame(frame);
    }
  }

  /** Removes the first `n` buffered bytes (n <= buffered) as one buffer. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      this.#buffered -= n;
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.#chunks[0]!;
      if (c.length <= left) {
        parts.push(c);
        this.#chunks.shift();
        left -= c.length;
      } else {
        parts.push(c.subarray(0, left));
        this.#chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.#buffered -= n;
    return Buffer.concat(parts, n);
  }
}

/**
 * The start of a frame of `length` bytes: its prefix, then `headBytes` bytes for the caller to
 * fill (a type, an id); the rest of the frame, if any, is written after it as separate parts.
 */
export function frameHead(length: number, headBytes = 0): Buffer {
  const b = Buffer.allocUnsafe(PREFIX_BYTES + headBytes);
  b.writeUInt32BE(length, 0);
  return b;
}

/** Writes `parts` to `socket` in one batch (cork / uncork), without copying them into one. */
export function writeParts(socket: tls.TLSSocket, parts: readonly Uint8Array[]): void {
  socket.cork();
  for (const p of parts) socket.write(p);
  socket.uncork();
}

/** One node's links to every other node; each frame received goes to `onFrame` with its socket. */
export class RawLinks {
  /** The linked sockets, one per other node once {@link connect} resolved. */
  readonly sockets: tls.TLSSocket[] = [];
  readonly #setup: NodeSetup;
  readonly #onFrame: (frame: Buffer, socket: tls.TLSSocket) => void;
  #server: tls.Server | undefined;
  #linked: (() => void) | undefined;

  constructor(setup: NodeSetup, onFrame: (frame: Buffer, socket: tls.TLSSocket) => void) {
    this.#setup = setup;
    this.#onFrame = onFrame;
  }

  #adopt(socket: tls.TLSSocket): void {
    socket.setNoDelay(true);
    const reader = new FrameReader((frame) => this.#onFrame(frame, socket));
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
    this.sockets.push(socket);
    if (this.sockets.length === this.#setup.nodes - 1) this.#linked?.();
  }

  /** Listens on 127.0.0.1; resolves with the address peers reach this node at. */
  async listen(): Promise<string> {
    const setup = this.#setup;
    const server = tls.createServer({
      key: setup.keyPem,
      cert: setup.certPem,
      minVersion: 'TLSv1.3',
      requestCert: true,
      rejectUnauthorized: false,
    });
    server.on('secureConnection', (socket) => this.#adopt(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#server = server;
    const addr = server.address() as { port: number };
    return `127.0.0.1:${addr.port}`;
  }

  /** Dials the nodes of higher index; resolves once linked to every other node. */
  async connect(addresses: readonly string[]): Promise<void> {
    const setup = this.#setup;
    const linked = new Promise<void>((resolve) => {
      this.#linked = resolve;
    });
    if (this.sockets.length === setup.nodes - 1) this.#linked?.();
    for (let j = setup.index + 1; j < setup.nodes; j++) {
      const [host, port] = addresses[j]!.split(':') as [string, string];
      const socket = tls.connect({
        host,
        port: Number(port),
        key: setup.keyPem,
        cert: setup.certPem,
        minVersion: 'TLSv1.3',
        rejectUnauthorized: false,
      });
      await once(socket, 'secureConnect');
      this.#adopt(socket);
    }
    await linked;
  }

  stop(): void {
    for (const s of this.sockets) s.destroy();
    this.#server?.close();
  }
}
