/**
 * A hand-driven member of a subnet for adversarial tests: it holds a valid identity, dials a
 * node, completes TLS and the Hello, answers pings, and then says whatever the test wants:
 * slot updates, fetch answers (right, wrong, late or never), raw frames and raw bytes. It reads
 * what the node sends (slot updates, fetch requests) so tests can react to them.
 */
import type { TLSSocket } from 'node:tls';
import { channelNumber, SlotUpdates } from '../../src/broadcast/index.ts';
import type { SlotUpdate } from '../../src/broadcast/proto/broadcast.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import {
  encodeFrameHeaderInto,
  FLAG_END,
  FLAG_START,
  FRAME_HEADER_BYTES,
  FrameDecoder,
} from '../../src/transport/frame.ts';
import { Lane } from '../../src/transport/index.ts';
import { decodeWire, encodeWire, type WireMessage } from '../../src/transport/messages.ts';
import type { Request } from '../../src/transport/proto/wire.ts';
import { helloFrame, rawConnect } from './raw-peer.ts';

/** What the peer does with a request: answer with a body, or stay silent (`undefined`). */
export type RequestPolicy = (lane: Lane, req: Request) => Uint8Array | undefined;

export class WirePeer {
  readonly socket: TLSSocket;
  /** Slot updates the node sent us, decoded. */
  readonly updates: { lane: Lane; batch: SlotUpdates }[] = [];
  /** Requests the node sent us. */
  readonly requests: { lane: Lane; request: Request }[] = [];
  onRequest: RequestPolicy = () => undefined;
  onUpdates: (batch: SlotUpdates) => void = () => {};
  /** While set, `send` writes nothing (no pongs, no answers): raw `write`s only. */
  muted = false;
  /** Request ids the node cancelled. */
  readonly cancels: number[] = [];
  readonly #pongs = new Map<number, () => void>();
  #nonce = 0;
  #closed = false;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    const decoder = new FrameDecoder(
      { maxFrameBytes: 16 << 20, maxMessageBytes: 64 << 20, maxControlMessageBytes: 16 << 20 },
      (lane, message) => this.#onMessage(lane, decodeWire(message)),
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.once('close', () => {
      this.#closed = true;
    });
  }

  /** Dials `address` as `identity`, sends its Hello; resolves after the TLS handshake. */
  static async connect(
    address: string,
    identity: NodeIdentity,
    subnet: string,
    opts: { hello?: boolean } = {},
  ): Promise<WirePeer> {
    const socket = await rawConnect(address, identity);
    const peer = new WirePeer(socket);
    if (opts.hello !== false) socket.write(helloFrame(identity.nodeId, subnet));
    return peer;
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  #onMessage(lane: Lane, msg: WireMessage): void {
    switch (msg.kind) {
      case 'ping':
        this.send(Lane.control, { kind: 'pong', nonce: msg.nonce });
        return;
      case 'pong':
        this.#pongs.get(msg.nonce)?.();
        this.#pongs.delete(msg.nonce);
        return;
      case 'cancel':
        this.cancels.push(msg.id);
        return;
      case 'message': {
        try {
          const batch = SlotUpdates.decode(msg.body);
          this.updates.push({ lane, batch });
          this.onUpdates(batch);
        } catch {}
        return;
      }
      case 'request': {
        this.requests.push({ lane, request: msg.request });
        const body = this.onRequest(lane, msg.request);
        if (body !== undefined) {
          this.send(lane, {
            kind: 'response',
            response: {
              id: msg.request.id,
              body: body as Uint8Array<ArrayBuffer>,
              errorCode: '',
              errorMessage: '',
            },
          });
        }
        return;
      }
      default:
        return;
    }
  }

  /** Writes one wire message, cut into frames of at most `maxFrame` bytes. */
  send(lane: Lane, msg: WireMessage, maxFrame = 64 * 1024): boolean {
    if (this.muted) return false;
    return this.write(frames(lane, encodeWire(msg), maxFrame));
  }

  /** Sends slot updates of `channel` as one application message. */
  sendUpdates(channel: string, lane: Lane, updates: SlotUpdate[]): boolean {
    const body = SlotUpdates.encode({ channel: channelNumber(channel), updates });
    return this.send(lane, { kind: 'message', body });
  }

  /** Writes raw bytes (whatever the test wants). */
  write(bytes: Uint8Array): boolean {
    if (this.closed) return false;
    return this.socket.write(bytes);
  }

  /**
   * Sends a Ping and resolves on its Pong: the node has then handled everything we sent before
   * (one connection, read in order, handlers synchronous).
   */
  roundTrip(): Promise<void> {
    const nonce = ++this.#nonce;
    return new Promise((resolve, reject) => {
      const closed = () => reject(new Error('closed before the pong'));
      this.#pongs.set(nonce, () => {
        this.socket.off('close', closed);
        resolve();
      });
      this.socket.once('close', closed);
      this.send(Lane.control, { kind: 'ping', nonce });
    });
  }

  /** Resolves when the socket has room again (or is closed). */
  async drained(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /** Resolves when the node closed the connection. */
  async whenClosed(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** `body` as frames of `lane` of at most `maxFrame` payload bytes. */
export function frames(lane: Lane, body: Uint8Array, maxFrame = 64 * 1024): Buffer {
  const count = Math.max(1, Math.ceil(body.length / maxFrame));
  const out = Buffer.allocUnsafe(count * FRAME_HEADER_BYTES + body.length);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const piece = body.subarray(i * maxFrame, Math.min(body.length, (i + 1) * maxFrame));
    const flags = (i === 0 ? FLAG_START : 0) | (i === count - 1 ? FLAG_END : 0);
    encodeFrameHeaderInto(out, pos, piece.length, lane, flags);
    out.set(piece, pos + FRAME_HEADER_BYTES);
    pos += FRAME_HEADER_BYTES + piece.length;
  }
  return out;
}

/** An advert update. */
export function advert(
  slot: number,
  commit: number,
  id: Uint8Array,
  size: number,
  attributes: Uint8Array = new Uint8Array(0),
): SlotUpdate {
  return {
    slot,
    commit,
    advert: {
      id: id as Uint8Array<ArrayBuffer>,
      size,
      attributes: attributes as Uint8Array<ArrayBuffer>,
      pushed: false,
    },
    withdrawn: false,
  };
}

/** A withdrawal update. */
export function withdrawal(slot: number, commit: number): SlotUpdate {
  return { slot, commit, withdrawn: true };
}
