import type { ArtifactId } from '../broadcast/index.ts';
import type { NodeId } from '../identity/index.ts';
import type { SimNetwork } from './network.ts';

/** An artifact broadcast during a run. */
export interface Broadcast {
  channel: string;
  id: ArtifactId;
  origin: NodeId;
  at: number;
  size: number;
  /** A label of the artifact's kind or phase (e.g. `small`, `block`, `bulk-phase`). */
  tag: string;
}

/** One receiver getting one artifact for the first time. */
export interface DeliveryRecord {
  artifact: Broadcast;
  node: NodeId;
  at: number;
}

/**
 * Who must receive what, and who holds what: the bookkeeping of a scenario. Each artifact is
 * expected at every node of `receivers` except its origin. `remaining` counts the expected
 * (artifact, node) pairs not held now; a crash puts the node's pairs back.
 */
export class Tracker {
  readonly net: SimNetwork;
  readonly sent: Broadcast[] = [];
  readonly #byKey = new Map<string, Broadcast>();
  readonly #receivers: ReadonlySet<NodeId>;
  readonly #held = new Map<NodeId, Set<string>>();
  /** First deliveries of expected pairs, in time order. */
  readonly firsts: DeliveryRecord[] = [];
  readonly #seen = new Set<string>();
  remaining = 0;
  /** Broadcasts scheduled and not yet made. */
  pending = 0;

  constructor(net: SimNetwork, receivers: readonly NodeId[]) {
    this.net = net;
    this.#receivers = new Set(receivers);
    for (const id of receivers) this.#held.set(id, new Set());
    net.onDeliver = (node, artifact) => {
      const key = `${artifact.channel}:${artifact.id}`;
      const b = this.#byKey.get(key);
      const held = this.#held.get(node.id);
      if (!b || !held || b.origin === node.id || held.has(key)) return;
      held.add(key);
      this.remaining--;
      const pair = `${node.id}/${key}`;
      if (!this.#seen.has(pair)) {
        this.#seen.add(pair);
        this.firsts.push({ artifact: b, node: node.id, at: this.net.now });
      }
    };
    net.onCrash = (node) => {
      const held = this.#held.get(node.id);
      if (!held) return;
      this.remaining += held.size;
      held.clear();
    };
  }

  /**
   * Broadcasts `size` random bytes from `origin` on `channel` at virtual time `at` (as a chunked
   * artifact if `chunked` is given).
   */
  schedule(
    at: number,
    origin: NodeId,
    channel: string,
    size: number,
    tag: string,
    chunked?: { chunkBytes?: number },
  ): void {
    this.pending++;
    this.net.at(at, () => {
      this.pending--;
      if (!this.net.node(origin).alive) return;
      this.broadcastNow(origin, channel, size, tag, chunked);
    });
  }

  broadcastNow(
    origin: NodeId,
    channel: string,
    size: number,
    tag: string,
    chunked?: { chunkBytes?: number },
  ): Broadcast {
    const bytes = this.net.rng.bytes(size);
    const id = chunked
      ? this.net.broadcastChunked(origin, channel, bytes, chunked)
      : this.net.broadcast(origin, channel, bytes);
    const b: Broadcast = { channel, id, origin, at: this.net.now, size, tag };
    const key = `${channel}:${id}`;
    this.sent.push(b);
    this.#byKey.set(key, b);
    for (const r of this.#receivers) {
      if (r === origin) continue;
      // Already held (the same bytes twice): counts as held.
      const core = this.net.node(r).core;
      if (core.get(channel, id) || core.chunkedInfo(channel, id)?.complete)
        this.#held.get(r)!.add(key);
      else this.remaining++;
    }
    return b;
  }

  /** Whether every broadcast was made and every expected pair is held. */
  get complete(): boolean {
    return this.pending === 0 && this.remaining === 0;
  }

  /** How many nodes must receive `b`. */
  receiversOf(b: Broadcast): number {
    return this.#receivers.size - (this.#receivers.has(b.origin) ? 1 : 0);
  }

  get expected(): number {
    let n = 0;
    for (const b of this.sent) n += this.receiversOf(b);
    return n;
  }

  /** Expected pairs held now. */
  get held(): number {
    return this.expected - this.remaining;
  }

  /** Latency of each first delivery of an expected pair still held. */
  latencies(filter: (r: DeliveryRecord) => boolean = () => true): number[] {
    return this.firsts.filter(filter).map((r) => r.at - r.artifact.at);
  }
}
