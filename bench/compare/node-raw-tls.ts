/**
 * A raw-TLS node process of the comparison, the ceiling: one mutual TLS 1.3 connection per pair
 * of nodes (plain `node:tls`, the lower index dials, the node's Ed25519 certificate on both
 * sides), and no protocol beyond a 4-byte length prefix. The origin writes each artifact
 * straight to every other node, once; receivers cut the stream at the prefixes. Nothing is
 * relayed, retried, hashed or flow-controlled: what is left is the cost of TLS and sockets.
 * @module
 */
import { once } from 'node:events';
import * as tls from 'node:tls';
import { runNodeProcess, type SystemNode } from './node-process.ts';
import type { NodeSetup } from './protocol.ts';

const PREFIX_BYTES = 4;

/** Cuts a byte stream into length-prefixed frames (chunks collected, concatenated once). */
class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = -1;
  readonly #onFrame: (frame: Uint8Array) => void;

  constructor(onFrame: (frame: Uint8Array) => void) {
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

/** The 4-byte prefix of a frame of `length` bytes. */
function prefix(length: number): Buffer {
  const b = Buffer.allocUnsafe(PREFIX_BYTES);
  b.writeUInt32BE(length, 0);
  return b;
}

class RawTlsNode implements SystemNode {
  #setup: NodeSetup | undefined;
  #server: tls.Server | undefined;
  #sockets: tls.TLSSocket[] = [];
  #deliver: (bytes: Uint8Array) => void = () => undefined;
  #linked: (() => void) | undefined;

  #adopt(socket: tls.TLSSocket): void {
    socket.setNoDelay(true);
    const reader = new FrameReader((frame) => this.#deliver(frame));
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => undefined);
    this.#sockets.push(socket);
    if (this.#sockets.length === this.#setup!.nodes - 1) this.#linked?.();
  }

  async start(setup: NodeSetup, deliver: (bytes: Uint8Array) => void): Promise<string> {
    this.#setup = setup;
    this.#deliver = deliver;
    const server = tls.createServer({
      key: setup.keyPem,
      cert: setup.certPem,
      minVersion: 'TLSv1.3',
      requestCert: true,
      // The ceiling authenticates nobody: any certificate is taken.
      rejectUnauthorized: false,
    });
    server.on('secureConnection', (socket) => this.#adopt(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#server = server;
    const addr = server.address() as { port: number };
    return `127.0.0.1:${addr.port}`;
  }

  async connect(addresses: readonly string[]): Promise<void> {
    const setup = this.#setup!;
    const linked = new Promise<void>((resolve) => {
      this.#linked = resolve;
    });
    if (this.#sockets.length === setup.nodes - 1) this.#linked?.();
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

  broadcast(bytes: Uint8Array): void {
    const head = prefix(bytes.length);
    for (const s of this.#sockets) {
      s.cork();
      s.write(head);
      s.write(bytes);
      s.uncork();
    }
  }

  counters(): Record<string, number> {
    return {};
  }

  /** Every frame is a first copy: nothing is relayed. */
  payloadCopies(): null {
    return null;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#server?.close();
  }
}

runNodeProcess(new RawTlsNode());
