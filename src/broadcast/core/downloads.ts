import type { NodeId } from '../../identity/index.ts';
import { backoffDelay } from '../../util/backoff.ts';
import type { AdvertInfo, ArtifactId, DownloadLimits, PriorityDecision } from '../types.ts';
import { LinkRates } from './link-rates.ts';
import { TokenSpace } from './tokens.ts';

/** An artifact this node has seen advertised and does not hold. */
export interface Want {
  readonly key: string;
  readonly channel: string;
  readonly id: ArtifactId;
  readonly attributes: Uint8Array;
  /** Set for a chunked artifact (what is fetched first is its manifest, of this size). */
  readonly manifestSize: number | undefined;
  /** The artifact's size as first advertised (for a chunked one, its total size). */
  readonly totalSize: number;
  /** The peers advertising it, with the size each claims (a manifest's for a chunked one). */
  readonly advertisers: Map<NodeId, number>;
  decision: 'fetch' | 'later';
  priority: number;
  /** Arrival order: ties of priority are served first come, first served. */
  readonly seq: number;
  inflight: { token: number; peer: NodeId; bytes: number } | undefined;
  /** Advertisers tried in this round; a round ends when all were tried. */
  readonly tried: Set<NodeId>;
  /** Advertisers that served wrong bytes: never asked again for this artifact. */
  readonly faulty: Set<NodeId>;
  round: number;
  /** No attempt before this time (backoff between rounds). */
  notBefore: number;
  /** When its origin broadcast it, by this node's clock (from the first advert's age). */
  readonly createdAt: number;
  /** When the first fetch request for it went out (none yet: undefined). */
  firstFetchAt: number | undefined;
}

/** A download to start: ask `peer` for `want`. */
export interface Start {
  token: number;
  want: Want;
  peer: NodeId;
  bytes: number;
  timeoutMs: number;
}

interface Load {
  count: number;
  bytes: number;
}

/**
 * Which artifacts to download, from whom, and when. Fetch-now artifacts are served in priority
 * order (then arrival order), each from one advertiser at a time, within the global, per-peer
 * and bytes-per-peer bounds. An attempt that fails moves on to the next advertiser; once all
 * were tried, the next round waits a backoff that doubles up to `retryMaxMs`.
 */
export class Downloads {
  readonly #limits: DownloadLimits;
  /** The links' measured shares, for deadlines (the core's, shared with chunk fetches). */
  readonly #links: LinkRates;
  readonly #wants = new Map<string, Want>();
  /** Wants of chunked artifacts (an advert with a manifest size), in #wants. */
  #chunkedWants = 0;
  /** Fetch-now wants not in flight, by priority (Sets keep arrival order). */
  readonly #queues = new Map<number, Set<string>>();
  /** Priorities present in #queues, highest first. */
  #priorities: number[] = [];
  readonly #load = new Map<NodeId, Load>();
  readonly #tokens = new Map<number, string>();
  #active = 0;
  #seq = 0;
  readonly #tokenSpace = new TokenSpace('download');
  #earliestRetry = Number.POSITIVE_INFINITY;

  /** `links`: the core's measure of each peer's link (its own, alone in a test). */
  constructor(limits: DownloadLimits, links = new LinkRates(limits)) {
    this.#limits = limits;
    this.#links = links;
  }

  get size(): number {
    return this.#wants.size;
  }

  get active(): number {
    return this.#active;
  }

  get(key: string): Want | undefined {
    return this.#wants.get(key);
  }

  /** How many wants are of chunked artifacts. */
  get chunkedWants(): number {
    return this.#chunkedWants;
  }

  wants(): IterableIterator<Want> {
    return this.#wants.values();
  }

  /** The want a token belongs to, if it is still current. */
  byToken(token: number): Want | undefined {
    const key = this.#tokens.get(token);
    const want = key === undefined ? undefined : this.#wants.get(key);
    return want?.inflight?.token === token ? want : undefined;
  }

  /**
   * Records that `peer` advertises `advert`. A new artifact is first put to `decide` (the
   * channel's priority function); on 'drop' nothing is kept. Returns the want, if any.
   */
  advertised(
    key: string,
    advert: AdvertInfo,
    peer: NodeId,
    decide: (a: AdvertInfo) => PriorityDecision,
    notBefore = 0,
    createdAt = 0,
  ): Want | undefined {
    let want = this.#wants.get(key);
    if (!want) {
      const decision = decide(advert);
      if (decision === 'drop') return undefined;
      want = {
        key,
        channel: advert.channel,
        id: advert.id,
        // A copy: the advert's bytes are a view into the whole received message.
        attributes: advert.attributes.slice(),
        manifestSize: advert.manifestSize,
        totalSize: advert.size,
        advertisers: new Map(),
        decision: decision === 'later' ? 'later' : 'fetch',
        priority: decision === 'later' ? 0 : decision.fetch,
        seq: this.#seq++,
        inflight: undefined,
        tried: new Set(),
        faulty: new Set(),
        round: 0,
        notBefore,
        createdAt,
        firstFetchAt: undefined,
      };
      this.#wants.set(key, want);
      if (want.manifestSize !== undefined) this.#chunkedWants++;
      this.#enqueue(want);
    }
    want.advertisers.set(peer, advert.manifestSize ?? advert.size);
    return want;
  }

  /**
   * `peer` no longer advertises the artifact. When no advertiser is left the want is removed;
   * returns the token of a download that must be cancelled, if any.
   */
  withdrawn(key: string, peer: NodeId): number | undefined {
    const want = this.#wants.get(key);
    if (!want?.advertisers.delete(peer)) return undefined;
    want.tried.delete(peer);
    if (want.advertisers.size > 0) {
      if (want.inflight?.peer === peer) return this.#stop(want);
      return undefined;
    }
    return this.remove(key);
  }

  /** Forgets a want; returns the token of its download in flight, if any. */
  remove(key: string): number | undefined {
    const want = this.#wants.get(key);
    if (!want) return undefined;
    this.#wants.delete(key);
    if (want.manifestSize !== undefined) this.#chunkedWants--;
    this.#dequeue(want);
    return want.inflight ? this.#stop(want) : undefined;
  }

  /** Applies a new priority decision; returns a token to cancel if the download must stop. */
  redecide(want: Want, decision: PriorityDecision): number | undefined {
    if (decision === 'drop') return this.remove(want.key);
    const token = decision === 'later' && want.inflight ? this.#stop(want) : undefined;
    this.#dequeue(want);
    want.decision = decision === 'later' ? 'later' : 'fetch';
    want.priority = decision === 'later' ? 0 : decision.fetch;
    this.#enqueue(want);
    return token;
  }

  /** Ends the attempt `token` (success or failure); returns its want and peer. */
  finish(token: number): { want: Want; peer: NodeId } | undefined {
    const want = this.byToken(token);
    this.#tokens.delete(token);
    if (!want?.inflight) return undefined;
    const peer = want.inflight.peer;
    this.#release(want);
    return { want, peer };
  }

  /**
   * An attempt failed. A faulty peer is never asked again for this artifact; the want goes
   * back in the queue for the next advertiser.
   */
  failed(want: Want, peer: NodeId, faulty: boolean): void {
    if (faulty) want.faulty.add(peer);
    if (this.#wants.get(want.key) === want) this.#enqueue(want);
  }

  /**
   * Picks downloads to start now (of the wants `canStart` lets start: it may count them), from
   * the peers `up` (those whose link is up).
   */
  schedule(
    now: number,
    up: { has(peer: NodeId): boolean; readonly size: number },
    canStart: (want: Want) => boolean = () => true,
  ): Start[] {
    const isUp = (peer: NodeId) => up.has(peer);
    const starts: Start[] = [];
    if (now >= this.#earliestRetry) this.#earliestRetry = Number.POSITIVE_INFINITY;
    const max = this.#limits.maxConcurrentDownloads;
    if (this.#active >= max) return starts;
    // While every peer has all the downloads it may serve, no want can start: the walk stops
    // (a burst of adverts otherwise walked every queued want on each one). Backed-off wants
    // are not reached then, and #earliestRetry is not lowered: a finishing download schedules
    // again, and the walk then finds them.
    const perPeer = this.#limits.maxDownloadsPerPeer;
    let busyPeers = 0;
    for (const [peer, load] of this.#load) if (load.count >= perPeer && up.has(peer)) busyPeers++;
    // #start dequeues while we iterate: Sets allow deleting the current item, and a priority
    // whose queue empties is dropped from a new array (this loop goes on over the old one).
    outer: for (const priority of this.#priorities) {
      const queue = this.#queues.get(priority);
      if (!queue) continue;
      for (const key of queue) {
        if (this.#active >= max) break outer;
        if (busyPeers >= up.size) break outer;
        const want = this.#wants.get(key)!;
        if (want.notBefore > now) {
          this.#earliestRetry = Math.min(this.#earliestRetry, want.notBefore);
          continue;
        }
        const peer = this.#choosePeer(want, now, isUp);
        if (peer === undefined || !canStart(want)) continue;
        want.firstFetchAt ??= now;
        starts.push(this.#start(want, peer, now));
        if (this.#load.get(peer)!.count >= perPeer) busyPeers++;
      }
    }
    return starts;
  }

  /** When a backed-off want becomes eligible again, if any. */
  get nextRetryAt(): number | undefined {
    return Number.isFinite(this.#earliestRetry) ? this.#earliestRetry : undefined;
  }

  #choosePeer(want: Want, now: number, isUp: (peer: NodeId) => boolean): NodeId | undefined {
    const candidates: NodeId[] = [];
    let untried = 0;
    for (const peer of want.advertisers.keys()) {
      if (want.faulty.has(peer) || !isUp(peer)) continue;
      if (want.tried.has(peer)) continue;
      untried++;
      if (this.#hasCapacity(peer, want.advertisers.get(peer)!)) candidates.push(peer);
    }
    if (untried === 0) {
      // Every usable advertiser was tried: start a new round after a backoff.
      const usable = [...want.advertisers.keys()].some((p) => !want.faulty.has(p) && isUp(p));
      if (usable && want.tried.size > 0) {
        want.tried.clear();
        want.round++;
        const { retryBaseMs, retryMaxMs } = this.#limits;
        want.notBefore =
          now + backoffDelay(want.round - 1, { baseMs: retryBaseMs, maxMs: retryMaxMs });
        this.#earliestRetry = Math.min(this.#earliestRetry, want.notBefore);
      }
      return undefined;
    }
    if (candidates.length === 0) return undefined;
    // Least loaded first; ties rotate with the artifact and the round, deterministically.
    candidates.sort(
      (a, b) =>
        (this.#load.get(a)?.count ?? 0) - (this.#load.get(b)?.count ?? 0) || (a < b ? -1 : 1),
    );
    const least = this.#load.get(candidates[0]!)?.count ?? 0;
    const tied = candidates.filter((p) => (this.#load.get(p)?.count ?? 0) === least);
    return tied[(want.seq + want.round) % tied.length];
  }

  #hasCapacity(peer: NodeId, bytes: number): boolean {
    const load = this.#load.get(peer);
    if (!load) return true;
    if (load.count >= this.#limits.maxDownloadsPerPeer) return false;
    return load.bytes === 0 || load.bytes + bytes <= this.#limits.maxBytesInFlightPerPeer;
  }

  #start(want: Want, peer: NodeId, now: number): Start {
    const bytes = want.advertisers.get(peer)!;
    const token = this.#tokenSpace.next();
    this.#dequeue(want);
    want.inflight = { token, peer, bytes };
    want.tried.add(peer);
    this.#tokens.set(token, want.key);
    const load = this.#load.get(peer) ?? { count: 0, bytes: 0 };
    load.count++;
    load.bytes += bytes;
    this.#load.set(peer, load);
    this.#active++;
    // The deadline counts the bytes in flight to the peer before this download (chunks too).
    const timeoutMs = this.#links.start(token, peer, bytes, now);
    return { token, want, peer, bytes, timeoutMs };
  }

  /** Stops the download in flight (it will be cancelled); the want is queued again. */
  #stop(want: Want): number {
    const token = want.inflight!.token;
    this.#tokens.delete(token);
    this.#release(want);
    if (this.#wants.get(want.key) === want) this.#enqueue(want);
    return token;
  }

  #release(want: Want): void {
    const inflight = want.inflight!;
    want.inflight = undefined;
    // Measured already if it ended with a result (see BroadcastCore.onFetched): then a no-op.
    this.#links.cancelled(inflight.token);
    this.#active--;
    const load = this.#load.get(inflight.peer)!;
    load.count--;
    load.bytes -= inflight.bytes;
    if (load.count === 0) this.#load.delete(inflight.peer);
  }

  #enqueue(want: Want): void {
    if (want.decision !== 'fetch' || want.inflight) return;
    let queue = this.#queues.get(want.priority);
    if (!queue) {
      queue = new Set();
      this.#queues.set(want.priority, queue);
      this.#priorities.push(want.priority);
      this.#priorities.sort((a, b) => b - a);
    }
    queue.add(want.key);
  }

  #dequeue(want: Want): void {
    const queue = this.#queues.get(want.priority);
    if (!queue?.delete(want.key) || queue.size > 0) return;
    this.#queues.delete(want.priority);
    this.#priorities = this.#priorities.filter((p) => p !== want.priority);
  }
}
