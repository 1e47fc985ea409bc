/**
 * The simulator's {@link DriverEnvironment}: one per incarnation of a simulated node, so that
 * the production {@link BroadcastDriver} runs over the virtual network and clock. Sends and
 * requests cross the simulated links (and their bandwidth model); failures are the transport's
 * typed errors, mapped by the driver as in production; chunk-store operations act on the
 * node's in-memory store; validation promises are counted so that `SimNetwork.runAsync` lets
 * them settle in virtual time.
 * @module
 */
import type { Cancel, ChunkOp, DriverEnvironment, RequestOutcome } from '../broadcast/index.ts';
import { type ArtifactId, FetchRequest, FetchResponse } from '../broadcast/index.ts';
import {
  ArtifactNotOpenError,
  LinkClosedError,
  QueueFullError,
  RequestTimeoutError,
} from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import { concatParts, type Lane, lengthDelimitedPrefix } from '../transport/index.ts';
import { messageEnvelopeBytes, requestEnvelopeBytes, responseEnvelopeBytes } from './bandwidth.ts';
import type { EventQueue } from './event-queue.ts';
import type { SimNode } from './node.ts';
import type { Rng } from './rng.ts';
import type { Link, SimWire } from './wire.ts';

/** What the environment needs of the simulated network (SimNetwork provides it). */
export interface SimWorld {
  readonly queue: EventQueue;
  readonly rng: Rng;
  /** Time a chunk-store write takes, ms. */
  readonly chunkWriteMs: number;
  /** Carries messages over the links. */
  readonly wire: SimWire;
  node(id: NodeId): SimNode;
  /** The link between `a` and `b`, if there is one (up or not). */
  link(a: NodeId, b: NodeId): Link | undefined;
  /** Runs `fn` after the current event. */
  defer(fn: () => void): void;
  /** Counts validation promises not settled yet (+1, -1). */
  pending(delta: number): void;
  /** The origin's array for chunk `index` of `id` if `bytes` equal it, else `bytes`. */
  shared(id: ArtifactId, index: number, bytes: Uint8Array): Uint8Array;
}

/** The environment of one incarnation of a simulated node. */
export class SimEnvironment implements DriverEnvironment {
  readonly #world: SimWorld;
  readonly #node: SimNode;
  readonly #incarnation: number;
  /** Requests made, for their keys and (without bandwidth) their request ids. */
  #fetches = 0;

  constructor(world: SimWorld, node: SimNode) {
    this.#world = world;
    this.#node = node;
    this.#incarnation = node.incarnation;
  }

  /** Whether this incarnation of the node still runs. */
  #live(): boolean {
    return this.#node.alive && this.#node.incarnation === this.#incarnation;
  }

  /** {@inheritDoc DriverEnvironment.now} */
  now(): number {
    return this.#world.queue.now;
  }

  /** {@inheritDoc DriverEnvironment.defer} */
  defer(fn: () => void): void {
    this.#world.defer(fn);
  }

  /** {@inheritDoc DriverEnvironment.setTimer} */
  setTimer(at: number, fn: () => void): Cancel {
    let armed = true;
    this.#world.queue.at(at, () => {
      if (armed && this.#live()) fn();
    });
    return () => {
      armed = false;
    };
  }

  /** {@inheritDoc DriverEnvironment.send} */
  send(peer: NodeId, lane: Lane, body: Uint8Array, failed: (err: unknown) => void): void {
    const from = this.#node.id;
    const outcome = this.#world.wire.transmit(
      this.#world.link(from, peer),
      this.#node,
      this.#world.node(peer),
      lane,
      messageEnvelopeBytes(body.length),
      (receiver, connId) => receiver.driver.onMessage(from, connId, lane, body),
    );
    // As the transport's promise, the failure comes after the current event.
    if (outcome === 'full')
      this.#world.defer(() => failed(new QueueFullError(`send queue to ${peer} full`)));
    else if (outcome === 'down')
      this.#world.defer(() => failed(new LinkClosedError(`no link to ${peer}`)));
  }

  /** {@inheritDoc DriverEnvironment.request} */
  request(
    peer: NodeId,
    lane: Lane,
    body: Uint8Array,
    timeoutMs: number,
    done: (outcome: RequestOutcome) => void,
  ): Cancel {
    const world = this.#world;
    const node = this.#node;
    const server = world.node(peer);
    const key = `${node.id}#${this.#fetches++}`;
    const link = world.link(node.id, peer);
    let open = true;
    const finish = (outcome: RequestOutcome) => {
      if (!open) return;
      open = false;
      link?.fetches.delete(key);
      if (this.#live()) done(outcome);
    };
    const closed = () => finish({ ok: false, error: new LinkClosedError(`no link to ${peer}`) });
    if (!link?.up) {
      world.defer(closed);
      return () => {
        open = false;
      };
    }
    link.fetches.set(key, closed);
    world.queue.at(world.queue.now + timeoutMs, () =>
      finish({ ok: false, error: new RequestTimeoutError(`no response from ${peer}`) }),
    );
    const pipe = link.pipes.get(node.id);
    const requestId = pipe ? pipe.nextRequestId++ : this.#fetches;
    const sent = world.wire.transmit(
      link,
      node,
      server,
      lane,
      requestEnvelopeBytes(requestId, timeoutMs, body.length),
      (srv) => this.#serve(srv, lane, body, requestId, finish),
    );
    if (sent === 'full')
      world.defer(() =>
        finish({ ok: false, error: new QueueFullError(`send queue to ${peer} full`) }),
      );
    return () => {
      open = false;
      link.fetches.delete(key);
    };
  }

  /** The server's side of a request: its answer, sent back over the link. */
  #serve(
    srv: SimNode,
    lane: Lane,
    body: Uint8Array,
    requestId: number,
    finish: (outcome: RequestOutcome) => void,
  ): void {
    if (srv.serve === 'silent') return;
    let length: number;
    let response: () => Uint8Array;
    let chunk: { key: string; index: number } | undefined;
    const answer =
      srv.serve === 'wrong-bytes'
        ? this.#wrongBytes(body)
        : srv.driver.core.serveRequest(lane, body);
    if ('type' in answer) {
      // A chunk: read from the server's store now, sent with its real size; the response body
      // is only assembled on arrival (so chunks in flight cost no memory).
      const key = `${answer.channel}:${answer.id}`;
      const data = srv.chunks.get(key)?.get(answer.index);
      if (data) {
        srv.chunksServed++;
        srv.chunkBytesServed += data.length;
        const prefix = lengthDelimitedPrefix(1, data.length);
        length = prefix.length + data.length;
        response = () => concatParts([prefix, data]);
        chunk = { key, index: answer.index };
      } else {
        const missing = FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
        length = missing.length;
        response = () => missing;
      }
    } else {
      const whole = concatParts(answer);
      length = whole.length;
      response = () => whole;
    }
    // A response the responder cannot queue is lost: the requester times out.
    this.#world.wire.transmit(
      this.#world.link(srv.id, this.#node.id),
      srv,
      this.#node,
      lane,
      responseEnvelopeBytes(requestId, length),
      (receiver) => {
        if (chunk) chunkReceived(receiver, chunk.key, chunk.index);
        finish({ ok: true, body: response() });
      },
    );
  }

  #wrongBytes(requestBody: Uint8Array): Uint8Array {
    FetchRequest.decode(requestBody);
    return FetchResponse.encode({
      artifact: this.#world.rng.bytes(64) as Uint8Array<ArrayBuffer>,
      missing: false,
    });
  }

  /** {@inheritDoc DriverEnvironment.chunkOp} */
  chunkOp(channel: string, id: ArtifactId, op: ChunkOp, done: (err?: unknown) => void): void {
    const node = this.#node;
    const key = `${channel}:${id}`;
    if (op.kind === 'open') {
      if (!node.chunks.has(key)) node.chunks.set(key, new Map());
      done();
    } else if (op.kind === 'delete') {
      node.chunks.delete(key);
      node.chunksReceived.delete(key);
      done();
    } else {
      this.setTimer(this.now() + this.#world.chunkWriteMs, () => {
        // As InMemoryChunkStore: a write to an artifact not open (deleted meanwhile) fails.
        const held = node.chunks.get(key);
        held?.set(op.index, this.#world.shared(id, op.index, op.bytes));
        done(held ? undefined : new ArtifactNotOpenError(id));
      });
    }
  }

  /** {@inheritDoc DriverEnvironment.settle} */
  settle<T>(promise: PromiseLike<T>, ok: (value: T) => void, failed: (err: unknown) => void) {
    const world = this.#world;
    world.pending(1);
    Promise.resolve(promise).then(
      (value) => {
        world.pending(-1);
        if (this.#live()) ok(value);
      },
      (err: unknown) => {
        world.pending(-1);
        if (this.#live()) failed(err);
      },
    );
  }
}

/** Counts a chunk response with data arriving at `node` (a duplicate if already had). */
function chunkReceived(node: SimNode, key: string, index: number): void {
  let got = node.chunksReceived.get(key);
  if (!got) {
    got = new Set();
    node.chunksReceived.set(key, got);
  }
  if (got.has(index) || node.chunks.get(key)?.has(index)) node.duplicateChunks++;
  got.add(index);
}
