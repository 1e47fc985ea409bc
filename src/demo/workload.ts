/**
 * The demo workload of one node: sending bulk and urgent messages to every peer with a bounded
 * number in flight, and counting what arrives (per sender and lane, with one-way latency).
 * @module
 */
import type { NodeId } from '../identity/index.ts';
import { type InboundMessage, Lane, type Transport } from '../transport/index.ts';
import {
  type DemoWorkload,
  expectedPerPeer,
  HEADER_BYTES,
  type LaneCounts,
  URGENT_BYTES,
  URGENT_EVERY,
} from './protocol.ts';

/** Bytes of bulk messages kept in flight per peer (at least 2 messages, at most 64). */
const WINDOW_BYTES = 1024 * 1024;

/** Messages kept in flight per peer for messages of `size` bytes. */
export function sendWindow(size: number): number {
  return Math.min(64, Math.max(2, Math.floor(WINDOW_BYTES / size)));
}

/** A demo message of `size` bytes stamped with the current time, `sender` and `seq`. */
export function encodeMessage(size: number, sender: number, seq: number): Uint8Array {
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  view.setBigUint64(0, process.hrtime.bigint(), true);
  view.setUint32(8, sender, true);
  view.setUint32(12, seq, true);
  return body;
}

/** Milliseconds since `body` was stamped by {@link encodeMessage} (any thread of this process). */
export function ageMs(body: Uint8Array): number {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return Number(process.hrtime.bigint() - view.getBigUint64(0, true)) / 1e6;
}

/**
 * Sends the workload to every peer: `messages` bulk messages each, with an urgent one before
 * every {@link URGENT_EVERY}th. At most {@link sendWindow} sends per peer are awaited at once,
 * so send queues stay far below their limits. Never rejects: a failed send is passed to
 * `onError` and counted.
 */
export async function sendWorkload(
  transport: Transport,
  peers: readonly NodeId[],
  workload: DemoWorkload,
  sender: number,
  onError: (peer: NodeId, err: unknown) => void,
): Promise<number> {
  let errors = 0;
  const window = sendWindow(workload.size);
  const sendOne = (peer: NodeId, lane: Lane, body: Uint8Array): Promise<void> =>
    transport.send(peer, lane, body).then(undefined, (err: unknown) => {
      errors += 1;
      onError(peer, err);
    });
  const toPeer = async (peer: NodeId): Promise<void> => {
    const inFlight: Promise<void>[] = [];
    let seq = 0;
    for (let i = 0; i < workload.messages; i++) {
      if (i % URGENT_EVERY === 0) {
        inFlight.push(sendOne(peer, Lane.high, encodeMessage(URGENT_BYTES, sender, seq++)));
      }
      inFlight.push(sendOne(peer, Lane.bulk, encodeMessage(workload.size, sender, seq++)));
      while (inFlight.length >= window) await inFlight.shift();
    }
    await Promise.all(inFlight);
  };
  await Promise.all(peers.map(toPeer));
  return errors;
}

interface LaneStats {
  count: number;
  latencies: Float64Array;
}

/**
 * Counts the messages a node receives. {@link complete} resolves once as many messages arrived
 * as all peers together send it.
 */
export class Receiver {
  /** Body bytes received, all lanes. */
  payloadBytes = 0;
  /** Messages on an unexpected lane or with an unexpected length. */
  malformed = 0;
  /** Resolves when the expected number of messages has arrived. */
  readonly complete: Promise<void>;
  readonly #expected: LaneCounts;
  readonly #size: number;
  readonly #perPeer = new Map<NodeId, LaneCounts>();
  readonly #lanes: { high: LaneStats; bulk: LaneStats };
  readonly #total: number;
  #received = 0;
  #resolve!: () => void;

  constructor(workload: DemoWorkload, peerCount: number) {
    this.#expected = expectedPerPeer(workload);
    this.#size = workload.size;
    this.#total = peerCount * (this.#expected.high + this.#expected.bulk);
    this.#lanes = {
      high: { count: 0, latencies: new Float64Array(peerCount * this.#expected.high) },
      bulk: { count: 0, latencies: new Float64Array(peerCount * this.#expected.bulk) },
    };
    this.complete = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Records one inbound message (the transport's `onMessage`). */
  record(msg: InboundMessage): void {
    const name = msg.lane === Lane.high ? 'high' : msg.lane === Lane.bulk ? 'bulk' : undefined;
    const want = name === 'high' ? URGENT_BYTES : this.#size;
    if (name === undefined || msg.body.byteLength !== want || want < HEADER_BYTES) {
      this.malformed += 1;
      return;
    }
    const stats = this.#lanes[name];
    if (stats.count < stats.latencies.length) stats.latencies[stats.count] = ageMs(msg.body);
    stats.count += 1;
    this.payloadBytes += msg.body.byteLength;
    let counts = this.#perPeer.get(msg.peer);
    if (!counts) {
      counts = { high: 0, bulk: 0 };
      this.#perPeer.set(msg.peer, counts);
    }
    counts[name] += 1;
    this.#received += 1;
    if (this.#received === this.#total) this.#resolve();
  }

  /** Messages received, per lane. */
  delivered(): LaneCounts {
    return { high: this.#lanes.high.count, bulk: this.#lanes.bulk.count };
  }

  /** (peer, lane) pairs of `peers` whose count is not exactly the expected one. */
  shortPairs(peers: readonly NodeId[]): number {
    let short = 0;
    for (const peer of peers) {
      const counts = this.#perPeer.get(peer) ?? { high: 0, bulk: 0 };
      if (counts.high !== this.#expected.high) short += 1;
      if (counts.bulk !== this.#expected.bulk) short += 1;
    }
    return short;
  }

  /** Latencies recorded so far, ms, per lane (copies). */
  latencies(): { high: Float64Array; bulk: Float64Array } {
    const { high, bulk } = this.#lanes;
    return {
      high: high.latencies.slice(0, Math.min(high.count, high.latencies.length)),
      bulk: bulk.latencies.slice(0, Math.min(bulk.count, bulk.latencies.length)),
    };
  }
}
