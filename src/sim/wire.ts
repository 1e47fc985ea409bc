/**
 * The simulated wire: carries a message over a link, through the bandwidth model's pipes
 * (upload, latency, download, bulk credits) or one latency later without one, and records the
 * traffic.
 * @module
 */
import type { NodeId } from '../identity/index.ts';
import { type ConnId, creditThreshold, Lane } from '../transport/index.ts';
import {
  type Batch,
  creditEnvelopeBytes,
  framedBytes,
  Pipe,
  type PipeHost,
  type SimTransportLimits,
} from './bandwidth.ts';
import type { EventQueue } from './event-queue.ts';
import type { SimNode } from './node.ts';

/** Whether a message was queued on a link: sent, link down, or the send queue full. */
export type SendOutcome = 'sent' | 'down' | 'full';

/** A link between two simulated nodes, up or down. */
export interface Link {
  a: NodeId;
  b: NodeId;
  latency: number;
  up: boolean;
  /** Bumped every time the link comes up; in-flight traffic of an older epoch is lost. */
  epoch: number;
  conn: Map<NodeId, ConnId>;
  /** Last delivery time per direction (keyed by the sender): keeps each direction FIFO. */
  last: Map<NodeId, number>;
  /** Fetches in flight over this link: token -> requesting node. */
  fetches: Map<string, () => void>;
  /** Bandwidth model: the pipe of each direction, keyed by its sender. */
  pipes: Map<NodeId, Pipe>;
}

/** Traffic on all links: frame bytes (headers included) per lane, in total and over time. */
export interface Traffic {
  /** Frame bytes per lane: control, high, bulk. */
  readonly bytes: [number, number, number];
  /** Frame bytes per lane per time bin (bin index = floor(t / binMs)). */
  readonly series: Map<number, [number, number, number]>;
  readonly binMs: number;
  /** Messages sent (slot updates, requests, responses, credits). */
  messages: number;
}

/** The key of the link between `a` and `b` (either order). */
export function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Carries messages over links and counts the traffic. */
export class SimWire {
  readonly traffic: Traffic;
  readonly #queue: EventQueue;
  readonly #transport: SimTransportLimits;

  constructor(queue: EventQueue, transport: SimTransportLimits, binMs: number) {
    this.#queue = queue;
    this.#transport = transport;
    this.traffic = { bytes: [0, 0, 0], series: new Map(), binMs, messages: 0 };
  }

  /**
   * Sends a message of `length` wire bytes on `lane`; `deliver` runs at the receiver when it
   * has arrived, if the link stayed up and the receiver did not restart meanwhile. Without
   * bandwidth it arrives one latency later; with it, it crosses the bandwidth model.
   */
  transmit(
    link: Link | undefined,
    from: SimNode,
    to: SimNode,
    lane: Lane,
    length: number,
    deliver: (receiver: SimNode, connId: ConnId) => void,
  ): SendOutcome {
    if (!link?.up) return 'down';
    const epoch = link.epoch;
    const incarnation = to.incarnation;
    const run = () => {
      if (!link.up || link.epoch !== epoch || !to.alive || to.incarnation !== incarnation) return;
      deliver(to, link.conn.get(to.id)!);
    };
    const pipe = link.pipes.get(from.id);
    if (pipe) {
      if (!pipe.send(lane, length, run)) return 'full';
      this.traffic.messages++;
      return 'sent';
    }
    this.traffic.messages++;
    const laneBytes = [0, 0, 0];
    laneBytes[lane] = framedBytes(length, this.#transport.maxFrameBytes);
    this.record(this.#queue.now, laneBytes);
    from.uploadBytes += laneBytes[lane]!;
    const at = Math.max(this.#queue.now + link.latency, link.last.get(from.id) ?? 0);
    link.last.set(from.id, at);
    this.#queue.at(at, run);
    return 'sent';
  }

  /**
   * Opens the pipes of both directions of `link` if both ends have an access link (bandwidth
   * model); `windowOf` gives the bulk window a receiver announces.
   */
  openPipes(link: Link, a: SimNode, b: SimNode, windowOf: (n: NodeId) => number): void {
    if (!a.nic || !b.nic) return;
    const now = () => this.#queue.now;
    const pipe = (from: SimNode, to: SimNode) =>
      new Pipe(
        from.nic!,
        this.pipeHost(link, link.epoch, from, to),
        this.#transport,
        windowOf(to.id),
        now,
      );
    link.pipes.set(a.id, pipe(a, b));
    link.pipes.set(b.id, pipe(b, a));
  }

  /** Carries the batches of the pipe `from` -> `to` of `link` (of link epoch `epoch`). */
  pipeHost(link: Link, epoch: number, from: SimNode, to: SimNode): PipeHost {
    const incarnation = to.incarnation;
    return {
      depart: (pipe: Pipe, batch: Batch, at: number) => {
        this.record(at, batch.laneBytes);
        from.uploadBytes += batch.bytes;
        const valid = () =>
          link.up && link.epoch === epoch && to.alive && to.incarnation === incarnation;
        this.#queue.at(at + link.latency, () => {
          if (!valid()) return;
          const done = to.downlink!.arrive(this.#queue.now, batch.bytes);
          const bulk = batch.laneBytes[Lane.bulk];
          if (batch.ends.length === 0 && bulk === 0) return;
          this.#queue.at(done, () => {
            if (!valid()) return;
            for (const msg of batch.ends) msg.deliver();
            if (bulk > 0) this.#credit(link, pipe, from.id, to.id, bulk);
          });
        });
      },
    };
  }

  /** The receiver read `bytes` of bulk data from `pipe`: credit them back as the transport does. */
  #credit(link: Link, pipe: Pipe, sender: NodeId, receiver: NodeId, bytes: number): void {
    pipe.uncredited += bytes;
    if (pipe.uncredited < creditThreshold(pipe.window)) return;
    const credit = pipe.uncredited;
    pipe.uncredited = 0;
    const back = link.pipes.get(receiver);
    if (!back) return;
    const length = creditEnvelopeBytes(credit);
    this.traffic.messages++;
    back.send(Lane.control, length, () => {
      if (link.pipes.get(sender) === pipe) pipe.scheduler.credit(Lane.bulk, credit);
    });
  }

  /** Adds a batch's frame bytes per lane to the traffic at time `at`. */
  record(at: number, laneBytes: readonly number[]): void {
    const t = this.traffic;
    const bin = Math.floor(at / t.binMs);
    let row = t.series.get(bin);
    if (!row) {
      row = [0, 0, 0];
      t.series.set(bin, row);
    }
    for (let l = 0; l < 3; l++) {
      row[l]! += laneBytes[l]!;
      t.bytes[l]! += laneBytes[l]!;
    }
  }
}
