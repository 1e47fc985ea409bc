import type { NodeId } from '../../identity/index.ts';
import {
  type FetchDeadlineLimits,
  fetchDeadlineMs,
  fetchFits,
  type LinkShare,
} from '../fetch-deadline.ts';
import type { FetchResult } from '../types.ts';

/**
 * Weight of the past at each new sample of a link's share (a moving average over about the
 * last five fetches of the peer: one round of `maxChunksPerPeer` in flight and a little more).
 */
export const SHARE_DECAY = 0.8;

/**
 * An answer counts as a sample of the link's share only if at least this many bytes arrived
 * from the peer while it waited: below, its time is mostly latency (covered by the deadline's
 * base), and it would make a fast link look slow. A timeout always counts.
 */
export const MIN_SAMPLE_BYTES = 64 * 1024;

/**
 * Until a link is measured, chunk fetches go to it only while our bytes in flight to it stay
 * within this, the first one whatever its size: a slow start. The first deadlines of a link
 * assume the floor `minThroughputBytesPerSec`; on a slower link, chunks queued behind others
 * would expire. Within 256 KiB they arrive inside the base of their deadlines (5 s) on links
 * down to about 50 kB/s; a chunk of the default 1 MiB goes alone, and small ones (tests, or
 * 64 KiB chunks) go up to `maxChunksPerPeer` at once as before.
 */
export const UNMEASURED_WINDOW_BYTES = 256 * 1024;

interface PeerLink {
  /** The fetches in flight to the peer, and their expected bytes. */
  inFlight: number;
  inFlightBytes: number;
  /** Bytes of every answer of the peer so far (on this link). */
  delivered: number;
  /** Decayed sums of the samples: bytes that arrived while a fetch waited, and its wait, ms. */
  sampleBytes: number;
  sampleMs: number;
  /** Samples taken: none, and the share is not measured. */
  samples: number;
  /** Its latest fetch to end (with an answer or a timeout) timed out. */
  timedOut: boolean;
}

interface InFlight {
  peer: NodeId;
  bytes: number;
  at: number;
  /** The peer's `delivered` when it started. */
  deliveredAt: number;
}

/**
 * Per peer whose link is up, the share of its link it gives this node (bytes of its answers per
 * second while our fetches wait for them) and the bytes of our fetches in flight to it, whole
 * artifacts, manifests and chunks alike: from these, each fetch's deadline ({@link
 * fetchDeadlineMs}), and whether one more chunk fetch may go to it ({@link LinkRates.admits}).
 * A peer's state goes when its link goes down (bounded by the peers up), a fetch's when it ends
 * or is cancelled (bounded by the fetches in flight).
 *
 * A sample is one fetch that ended: the bytes of all the peer's answers that arrived while it
 * waited (its own included) over how long it waited. Fetches in flight at once all see the
 * same shared link, so each measures it whole, whatever order the peer answers in. A timeout is
 * a sample too: a peer whose share fell (more requesters) is measured slower and its next
 * fetches wait longer; a peer that stalls is measured slower the same way, but its deadlines
 * stay within `maxFetchDeadlineMs` and one fetch at a time goes to it. Samples are averaged as
 * bytes over time (a short answer weighs little), the past weighing {@link SHARE_DECAY} at each.
 * No clock of its own: the caller passes the time.
 */
export class LinkRates {
  readonly #limits: FetchDeadlineLimits;
  readonly #peers = new Map<NodeId, PeerLink>();
  readonly #fetches = new Map<number, InFlight>();

  constructor(limits: FetchDeadlineLimits) {
    this.#limits = limits;
  }

  /** Peers with state (for tests: bounded by the peers up). */
  get peers(): number {
    return this.#peers.size;
  }

  /** Fetches in flight being measured (for tests: bounded by the fetches in flight). */
  get inFlight(): number {
    return this.#fetches.size;
  }

  /** What is known of the link to `peer`: bytes in flight to it, and its measured share. */
  share(peer: NodeId): LinkShare {
    const p = this.#peers.get(peer);
    if (!p) return { aheadBytes: 0, bytesPerSec: undefined };
    return {
      aheadBytes: p.inFlightBytes,
      bytesPerSec: p.samples > 0 ? (p.sampleBytes / p.sampleMs) * 1000 : undefined,
    };
  }

  /**
   * Whether a chunk fetch of `bytes` may go to `peer` now: always if nothing is in flight to it;
   * else not while its latest fetch timed out (until an answer comes: a peer that stalls holds
   * one fetch more at most, not one more per timeout); within {@link UNMEASURED_WINDOW_BYTES}
   * in flight until its link is measured (a slow start); and once measured, only if the fetch
   * fits within `maxFetchDeadlineMs` at the measured share ({@link fetchFits}).
   */
  admits(peer: NodeId, bytes: number): boolean {
    const p = this.#peers.get(peer);
    if (!p || p.inFlight === 0) return true;
    if (p.timedOut) return false;
    if (p.samples === 0) return p.inFlightBytes + bytes <= UNMEASURED_WINDOW_BYTES;
    return fetchFits(bytes, this.#limits, this.share(peer));
  }

  /**
   * Fetch `token` of `bytes` bytes goes to `peer` at `now`: returns its deadline, ms (the
   * fetches already in flight to the peer are ahead of it).
   */
  start(token: number, peer: NodeId, bytes: number, now: number): number {
    const timeoutMs = fetchDeadlineMs(bytes, this.#limits, this.share(peer));
    let p = this.#peers.get(peer);
    if (!p) {
      p = {
        inFlight: 0,
        inFlightBytes: 0,
        delivered: 0,
        sampleBytes: 0,
        sampleMs: 0,
        samples: 0,
        timedOut: false,
      };
      this.#peers.set(peer, p);
    }
    p.inFlight++;
    p.inFlightBytes += bytes;
    this.#fetches.set(token, { peer, bytes, at: now, deliveredAt: p.delivered });
    return timeoutMs;
  }

  /**
   * Fetch `token` ended with `result` at `now` (unknown tokens are ignored: cancelled, or of a
   * peer whose link went down). An answer's bytes count as delivered; the fetch is a sample if
   * it timed out, or if at least {@link MIN_SAMPLE_BYTES} arrived while it waited.
   */
  ended(token: number, result: FetchResult, now: number): void {
    const f = this.#end(token);
    if (!f) return;
    const p = this.#peers.get(f.peer);
    if (!p) return;
    if (result.ok) p.delivered += result.body.length;
    else if (result.reason !== 'timeout') return;
    p.timedOut = !result.ok;
    const bytes = p.delivered - f.deliveredAt;
    if (result.ok && bytes < MIN_SAMPLE_BYTES) return;
    p.sampleBytes = SHARE_DECAY * p.sampleBytes + bytes;
    p.sampleMs = SHARE_DECAY * p.sampleMs + Math.max(1, now - f.at);
    p.samples++;
  }

  /** This node cancelled fetch `token`: it is no longer in flight, and says nothing of the link. */
  cancelled(token: number): void {
    this.#end(token);
  }

  /** The link to `peer` went down: its measure and its fetches are forgotten. */
  peerDown(peer: NodeId): void {
    if (!this.#peers.delete(peer)) return;
    for (const [token, f] of this.#fetches) if (f.peer === peer) this.#fetches.delete(token);
  }

  #end(token: number): InFlight | undefined {
    const f = this.#fetches.get(token);
    if (!f) return undefined;
    this.#fetches.delete(token);
    const p = this.#peers.get(f.peer);
    if (p) {
      p.inFlight--;
      p.inFlightBytes -= f.bytes;
    }
    return f;
  }
}
