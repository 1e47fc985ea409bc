/**
 * A raw-pull node process of the comparison, the design's floor: the least subnet-p2p's design
 * requires, hand-written on the raw-TLS links (raw-links.ts) and nothing else. Against raw-tls
 * it measures what the design costs per byte (hashing every artifact, adverts and requests);
 * subnet-p2p against it, what the implementation adds.
 *
 * An artifact of at most {@link PUSH_THRESHOLD_BYTES} is pushed whole to every other node; a
 * receiver hashes it (SHA-256: its id) and delivers it unless it has seen the id. A larger one
 * is hashed once by its origin, kept by id, and advertised (id, size) to every other node; a
 * receiver that has neither seen nor requested the id requests it from the advertiser, which
 * answers with the bytes; the receiver checks that they hash to the id (a mismatch is counted
 * and dropped) and delivers them. Every node is linked to every other, so nothing is relayed;
 * nothing is retried, flow-controlled or prioritized.
 *
 * Frames, after the length prefix: a type byte, then PUSH: the artifact; ADVERT: id (32 bytes),
 * size (u32 BE); REQUEST: id; ARTIFACT: id, the artifact.
 * @module
 */
import { createHash } from 'node:crypto';
import type * as tls from 'node:tls';
import { runNodeProcess, type SystemNode } from './node-process.ts';
import { type NodeSetup, PUSH_THRESHOLD_BYTES } from './protocol.ts';
import { frameHead, PREFIX_BYTES, RawLinks, writeParts } from './raw-links.ts';

const PUSH = 1;
const ADVERT = 2;
const REQUEST = 3;
const ARTIFACT = 4;
const ID_BYTES = 32;
/** Where a frame's id starts and ends (after its type byte). */
const ID_START = 1;
const ID_END = ID_START + ID_BYTES;

/** A frame's head: prefix, type, and the 32-byte id of `idFrom` at `idAt` if given. */
function head(type: number, length: number, headBytes: number, idFrom?: Buffer, idAt = 0) {
  const b = frameHead(length, headBytes);
  b[PREFIX_BYTES] = type;
  idFrom?.copy(b, PREFIX_BYTES + ID_START, idAt, idAt + ID_BYTES);
  return b;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

class RawPullNode implements SystemNode {
  #links: RawLinks | undefined;
  #deliver: (bytes: Uint8Array) => void = () => undefined;
  /** Own advertised artifacts by id (hex), kept to answer requests. */
  readonly #held = new Map<string, Uint8Array>();
  /** Ids (hex) delivered here, and ids requested and not delivered yet. */
  readonly #seen = new Set<string>();
  readonly #requested = new Set<string>();
  /**
   * Frames sent by type (a push or an advert: one per artifact and peer; an artifact: one per
   * request answered), payloads received (pushes and artifacts, dropped ones included) and
   * artifacts dropped for a hash that is not their id.
   */
  readonly #counts = {
    pushesSent: 0,
    advertsSent: 0,
    requestsSent: 0,
    artifactsSent: 0,
    payloadsReceived: 0,
    hashMismatches: 0,
  };

  start(setup: NodeSetup, deliver: (bytes: Uint8Array) => void): Promise<string> {
    this.#deliver = deliver;
    this.#links = new RawLinks(setup, (frame, socket) => this.#onFrame(frame, socket));
    return this.#links.listen();
  }

  connect(addresses: readonly string[]): Promise<void> {
    return this.#links!.connect(addresses);
  }

  broadcast(bytes: Uint8Array): void {
    const sockets = this.#links!.sockets;
    if (bytes.length <= PUSH_THRESHOLD_BYTES) {
      const parts = [head(PUSH, 1 + bytes.length, 1), bytes];
      for (const s of sockets) writeParts(s, parts);
      this.#counts.pushesSent += sockets.length;
      return;
    }
    const id = createHash('sha256').update(bytes).digest();
    this.#held.set(id.toString('hex'), bytes);
    const advert = head(ADVERT, ID_END + 4, ID_END + 4, id);
    advert.writeUInt32BE(bytes.length, PREFIX_BYTES + ID_END);
    for (const s of sockets) s.write(advert);
    this.#counts.advertsSent += sockets.length;
  }

  #onFrame(frame: Buffer, socket: tls.TLSSocket): void {
    const c = this.#counts;
    switch (frame[0]) {
      case PUSH: {
        const bytes = frame.subarray(1);
        c.payloadsReceived += 1;
        this.#accept(sha256Hex(bytes), bytes);
        return;
      }
      case ADVERT: {
        const id = frame.toString('hex', ID_START, ID_END);
        if (this.#seen.has(id) || this.#requested.has(id)) return;
        this.#requested.add(id);
        socket.write(head(REQUEST, ID_END, ID_END, frame, ID_START));
        c.requestsSent += 1;
        return;
      }
      case REQUEST: {
        const bytes = this.#held.get(frame.toString('hex', ID_START, ID_END));
        if (bytes === undefined) return;
        writeParts(socket, [head(ARTIFACT, ID_END + bytes.length, ID_END, frame, ID_START), bytes]);
        c.artifactsSent += 1;
        return;
      }
      case ARTIFACT: {
        const id = frame.toString('hex', ID_START, ID_END);
        const bytes = frame.subarray(ID_END);
        c.payloadsReceived += 1;
        if (sha256Hex(bytes) !== id) {
          c.hashMismatches += 1;
          return;
        }
        this.#requested.delete(id);
        this.#accept(id, bytes);
        return;
      }
      default:
        throw new Error(`raw-pull: unknown frame type ${frame[0]}`);
    }
  }

  #accept(id: string, bytes: Uint8Array): void {
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    this.#deliver(bytes);
  }

  counters(): Record<string, number> {
    return { ...this.#counts };
  }

  payloadCopies(counters: Record<string, number>): number {
    return counters.payloadsReceived ?? 0;
  }

  async stop(): Promise<void> {
    this.#links?.stop();
  }
}

runNodeProcess(new RawPullNode());
