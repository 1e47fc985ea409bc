import { crc32 } from 'node:zlib';
import type { NodeId } from '../../identity/index.ts';
import type { ConnId } from '../../transport/link.ts';
import { chunkLength } from '../chunks/manifest.ts';
import { idToBytes } from '../ids.ts';
import { FetchRequest } from '../proto/broadcast.ts';
import type { CoreAction, DownloadLimits } from '../types.ts';
import type { ChunkState } from './chunk-state.ts';
import type { LinkRates } from './link-rates.ts';
import { TokenSpace } from './tokens.ts';

/** Missing chunks a scheduling pass looks at per artifact, from its rotation point. */
const CHUNK_WINDOW = 64;

/** What the chunk fetches use of the core that owns them. */
export interface ChunkFetchHost {
  readonly self: NodeId;
  readonly limits: DownloadLimits;
  /** The peers whose link is up (the core's own map, always current). */
  readonly up: ReadonlyMap<NodeId, ConnId>;
  /** Queues an action, in order with the core's own. */
  act(action: CoreAction): void;
  /** The time of the latest event, ms. */
  now(): number;
  /** Whether members `a` and `b` keep a link (the topology). */
  linked(a: NodeId, b: NodeId): boolean;
  /** The core's measure of each peer's link, shared with whole downloads: fetch deadlines. */
  readonly links: LinkRates;
  /** The members `node` keeps a link with, if the topology is known (see CoreOptions). */
  neighbors?(node: NodeId): Iterable<NodeId>;
}

/** A chunk fetch that ended while still current. */
export interface EndedChunkFetch {
  s: ChunkState;
  index: number;
  peer: NodeId;
  at: number;
}

/**
 * Which chunk of a chunked artifact to fetch from whom, and when, and the fetches in flight:
 * their tokens, the load per peer, the throughput measured per peer, and the chunks held in
 * memory (in flight or being written), bounded by `maxChunksInFlight`.
 */
export class ChunkFetches {
  readonly #host: ChunkFetchHost;
  /** The chunked artifacts, by key (their owner's map). */
  readonly #chunks: ReadonlyMap<string, ChunkState>;
  readonly #tokens = new Map<number, { key: string; index: number }>();
  readonly #load = new Map<NodeId, number>();
  /** Per peer, measured chunk throughput, bytes per ms (moving average). */
  readonly #throughput = new Map<NodeId, number>();
  #inFlight = 0;
  readonly #tokenSpace = new TokenSpace('chunk');
  /** Per artifact, each node's place in the order of its shares (see #shares). */
  readonly #ranks = new WeakMap<ChunkState, { seed: number; ranks: Map<NodeId, number> }>();
  /** When the chunk choice should be looked at again (a share's owner falls silent). */
  #wakeAt: number | undefined;
  /** The links' measured shares, for deadlines (the core's, shared with whole downloads). */
  readonly #links: LinkRates;

  constructor(host: ChunkFetchHost, chunks: ReadonlyMap<string, ChunkState>) {
    this.#host = host;
    this.#chunks = chunks;
    this.#links = host.links;
  }

  /** Chunks in flight or being written. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** When the chunk choice should be looked at again, if a share's owner is silent. */
  get wakeAt(): number | undefined {
    return this.#wakeAt;
  }

  /** The earliest time after `now` at which a chunk's backoff ends, if any. */
  retryAt(now: number): number | undefined {
    let at: number | undefined;
    for (const s of this.#chunks.values()) {
      if (s.phase !== 'downloading') continue;
      for (const t of s.notBefore.values()) {
        if (t > now && (at === undefined || t < at)) at = t;
      }
    }
    return at;
  }

  /**
   * Who asks a whole holder for each chunk nobody holds in part: the chunks are cut into equal
   * shares, one per node getting the artifact, in an order every node computes alike for the
   * artifact (CRC-32 of each NodeId, seeded by the artifact id), so each share has a single
   * owner and no node is given a larger share than another (a larger share is a longer tail:
   * its owner is the one source of those chunks for a while). The nodes getting it: this node
   * and its peers up that do not hold it whole; or, when the topology is known, the whole
   * holder's neighbours (only they can ask it; in a sparse subnet most of this node's peers
   * cannot), less those of this node's own peers that are down or hold it whole. Returns the
   * owner of chunk `i`, and where this node's share starts.
   */
  #shares(s: ChunkState): { owner: (i: number) => NodeId; start: number } {
    const { self, up, neighbors, linked } = this.#host;
    const members: { rank: number; peer: NodeId }[] = [{ rank: this.#rank(s, self), peer: self }];
    const add = (peer: NodeId) => members.push({ rank: this.#rank(s, peer), peer });
    const holder = neighbors ? this.#wholeHolder(s) : undefined;
    if (holder === undefined) {
      for (const peer of up.keys()) if (s.sources.get(peer) !== 'all') add(peer);
    } else {
      for (const peer of neighbors!(holder)) {
        if (peer === self) continue;
        if (up.has(peer)) {
          if (s.sources.get(peer) !== 'all') add(peer);
        } else if (!linked(self, peer)) add(peer); // not ours to see: taken to be getting it
      }
    }
    members.sort((x, y) => x.rank - y.rank || (x.peer < y.peer ? -1 : 1));
    const m = members.length;
    const n = s.have.size;
    const k = members.findIndex((x) => x.peer === self);
    return {
      owner: (i) => members[Math.floor((i * m) / n)]!.peer,
      start: Math.ceil((k * n) / m) % n,
    };
  }

  /**
   * Where `peer` stands in the order of `s`'s shares: CRC-32 of its NodeId seeded with the
   * artifact id's first 4 bytes (every node computes every node's), once per peer.
   */
  #rank(s: ChunkState, peer: NodeId): number {
    let order = this.#ranks.get(s);
    if (!order) {
      order = { seed: Number.parseInt(s.id.slice(0, 8), 16) >>> 0, ranks: new Map() };
      this.#ranks.set(s, order);
    }
    let rank = order.ranks.get(peer);
    if (rank === undefined) {
      rank = crc32(peer, order.seed);
      order.ranks.set(peer, rank);
    }
    return rank;
  }

  /** The whole holder of `s` the shares are cut for: the lowest NodeId among those up. */
  #wholeHolder(s: ChunkState): NodeId | undefined {
    let best: NodeId | undefined;
    for (const [peer, src] of s.sources) {
      if (src === 'all' && this.#host.up.has(peer) && (best === undefined || peer < best)) {
        best = peer;
      }
    }
    return best;
  }

  /**
   * Starts chunk fetches. Per artifact, from this node's start point, the first CHUNK_WINDOW
   * missing chunks it may take, rarest first: a chunk a partial holder has (asked of partial
   * holders only), or one only whole holders have if it is in this node's share, or its share's
   * owner is silent (see {@link #silenceMs}). So the origin uploads about one copy and the nodes
   * swap the rest.
   */
  start(now: number): void {
    const { limits, up, self } = this.#host;
    this.#wakeAt = undefined;
    if (this.#inFlight >= limits.maxChunksInFlight) return;
    // The highest-priority downloads, at most maxChunkedDownloads per channel.
    const perChannel = new Map<ChunkState['channel'], number>();
    const active = [...this.#chunks.values()]
      .filter((s) => s.phase === 'downloading' && s.sources.size > 0)
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      .filter((s) => {
        const n = perChannel.get(s.channel) ?? 0;
        perChannel.set(s.channel, n + 1);
        return n < limits.maxChunkedDownloads;
      });
    for (const s of active) {
      const n = s.have.size;
      const { owner, start } = this.#shares(s);
      let silence: number | undefined;
      const candidates: { index: number; holders: number; partial: boolean }[] = [];
      for (let k = 0; k < n && candidates.length < CHUNK_WINDOW; k++) {
        const i = (start + k) % n;
        if (s.have.has(i) || s.inflight.has(i) || s.writing.has(i)) continue;
        const notBefore = s.notBefore.get(i);
        if (notBefore !== undefined && notBefore > now) continue;
        let whole = 0;
        let partial = 0;
        let partialUntried = 0;
        const tried = s.tried.get(i);
        for (const [p, src] of s.sources) {
          if (s.faulty.has(p) || !up.has(p)) continue;
          if (src === 'all') whole++;
          else if (src.has(i)) {
            partial++;
            if (!tried?.has(p)) partialUntried++;
          }
        }
        if (partialUntried > 0) {
          candidates.push({ index: i, holders: whole + partial, partial: true });
          continue;
        }
        if (whole === 0) {
          // Every partial holder failed it once: retried after a backoff (see #pickPeer).
          if (partial > 0) candidates.push({ index: i, holders: partial, partial: true });
          continue;
        }
        const o = owner(i);
        // A chunk whose partial holders all failed it goes to a whole holder at once.
        if (o !== self && partial === 0) {
          silence ??= this.#silenceMs(s, now);
          // An owner among our peers is silent once it sent no Have for that long; one we do
          // not see (not linked to us) only once our own download made no progress for that
          // long (its chunks reach us through others meanwhile).
          const since = up.has(o)
            ? (s.haveFrom.get(o) ?? s.createdAt)
            : (s.progressAt ?? s.createdAt);
          const until = since + silence;
          if (now < until) {
            if (this.#wakeAt === undefined || until < this.#wakeAt) {
              this.#wakeAt = until;
            }
            continue;
          }
        }
        candidates.push({ index: i, holders: whole + partial, partial: false });
      }
      candidates.sort((a, b) => a.holders - b.holders);
      for (const { index, partial } of candidates) {
        if (this.#inFlight >= limits.maxChunksInFlight) return;
        const peer = this.#pickPeer(s, index, partial, now);
        if (peer !== undefined) this.#fetch(s, index, peer, now);
      }
    }
  }

  /**
   * How long a share's owner may send no `Have` before another node asks a whole holder for
   * its chunks: `chunkOwnerSilenceMs`, or twice as long as this node's own fetches of the
   * artifact take if that is longer (a moving average, or the oldest fetch still in flight).
   * The owner fetches its share through links like ours: on slow links a chunk takes seconds
   * to reach it, and an owner that is merely waiting for it is not silent. Without this, every
   * node fell back to the origin on slow links, and the origin uploaded 6 copies at 25 Mbit/s.
   */
  #silenceMs(s: ChunkState, now: number): number {
    let expected = s.fetchMs ?? 0;
    for (const f of s.inflight.values()) expected = Math.max(expected, now - f.at);
    return Math.max(this.#host.limits.chunkOwnerSilenceMs, 2 * expected);
  }

  /**
   * The holder of chunk `index` to ask: only partial holders if `partialOnly` (a whole
   * holder's upload, the origin's above all, is left for chunks nobody else has), then the
   * highest measured throughput per request in flight (an unmeasured peer counts as the best
   * measured).
   */
  #pickPeer(s: ChunkState, index: number, partialOnly: boolean, now: number): NodeId | undefined {
    const { limits, up } = this.#host;
    const tried = s.tried.get(index);
    let best: NodeId | undefined;
    let bestRank = -1;
    let holders = 0;
    const bytes = chunkLength(s.manifest, index);
    const optimistic = Math.max(1, ...this.#throughput.values());
    for (const [peer, src] of s.sources) {
      if (s.faulty.has(peer) || !up.has(peer)) continue;
      if (src === 'all' ? partialOnly : !src.has(index)) continue;
      holders++;
      if (tried?.has(peer)) continue;
      const load = this.#load.get(peer) ?? 0;
      if (load >= limits.maxChunksPerPeer) continue;
      // Its link's slow start, none more after a timeout, and one more must fit the bound.
      if (!this.#links.admits(peer, bytes)) continue;
      const rank = (this.#throughput.get(peer) ?? optimistic) / (load + 1);
      if (rank > bestRank) {
        best = peer;
        bestRank = rank;
      }
    }
    if (best === undefined && holders > 0 && tried && tried.size >= holders) {
      // Every holder failed this chunk once: try them again after a backoff.
      s.tried.delete(index);
      s.notBefore.set(index, now + limits.retryBaseMs);
    }
    return best;
  }

  #fetch(s: ChunkState, index: number, peer: NodeId, now: number): void {
    const token = this.#tokenSpace.next();
    s.inflight.set(index, { token, peer, at: now });
    this.#tokens.set(token, { key: s.key, index });
    this.#load.set(peer, (this.#load.get(peer) ?? 0) + 1);
    this.#inFlight++;
    let tried = s.tried.get(index);
    if (!tried) {
      tried = new Set();
      s.tried.set(index, tried);
    }
    tried.add(peer);
    // The deadline counts the bytes in flight to the peer before this chunk (whole ones too).
    const timeoutMs = this.#links.start(token, peer, chunkLength(s.manifest, index), now);
    this.#host.act({
      type: 'fetch',
      token,
      peer,
      lane: s.channel.cfg.lane,
      body: FetchRequest.encode({
        channel: s.channel.number,
        id: idToBytes(s.id) as Uint8Array<ArrayBuffer>,
        part: index + 1,
      }),
      timeoutMs,
    });
  }

  /** Ends chunk fetch `token`; returns its artifact, chunk and peer if still current. */
  end(token: number): EndedChunkFetch | undefined {
    const t = this.#tokens.get(token);
    if (!t) return undefined;
    this.#tokens.delete(token);
    // Measured already if it ended with a result (see BroadcastCore.onFetched): then a no-op.
    this.#links.cancelled(token);
    const s = this.#chunks.get(t.key);
    const inflight = s?.inflight.get(t.index);
    if (!s || inflight?.token !== token) return undefined;
    s.inflight.delete(t.index);
    const took = this.#host.now() - inflight.at;
    s.fetchMs = s.fetchMs === undefined ? took : 0.7 * s.fetchMs + 0.3 * took;
    this.#inFlight--;
    const load = (this.#load.get(inflight.peer) ?? 1) - 1;
    if (load <= 0) this.#load.delete(inflight.peer);
    else this.#load.set(inflight.peer, load);
    return { s, index: t.index, peer: inflight.peer, at: inflight.at };
  }

  /** `peer` served a chunk of `bytes` asked at `at`: its throughput's moving average moves. */
  measured(peer: NodeId, bytes: number, at: number, now: number): void {
    const rate = bytes / Math.max(1, now - at);
    const old = this.#throughput.get(peer);
    this.#throughput.set(peer, old === undefined ? rate : 0.7 * old + 0.3 * rate);
  }

  /** A fetched chunk is being written: it stays in memory, so it counts as in flight. */
  writeStarted(): void {
    this.#inFlight++;
  }

  /** `n` chunk writes ended (done, failed, or their artifact forgotten). */
  writesEnded(n: number): void {
    this.#inFlight -= n;
  }

  /** Ends every fetch of `s` and asks the driver to cancel each. */
  cancel(s: ChunkState): void {
    for (const { token } of [...s.inflight.values()]) {
      this.end(token);
      this.#host.act({ type: 'cancel-fetch', token });
    }
  }
}
