/**
 * The places of chunked downloads: which chunked download may start (fetch its manifest), per
 * channel, and which one yields its place to it (docs/protocol.md, Chunked artifacts, Bounds).
 * @module
 */
import type { NodeId } from '../../identity/index.ts';
import type { AdvertInfo, DownloadLimits } from '../types.ts';
import type { ChunkState } from './chunk-state.ts';
import type { Want } from './downloads.ts';

/**
 * Why a chunked download lost its place: `evicted`, dormant (no peer offers it any more,
 * nothing in flight, idle for `downloadTimeoutMs`); `stalled`, no verified chunk for
 * `chunkStallMs`, or every source faulty; `preempted`, the peer that alone offers it held more
 * than its share of the channel's places while another's download waited (its manifest fetch
 * is cancelled, or its chunks dropped).
 */
export type EvictionReason = 'evicted' | 'stalled' | 'preempted';

/** A chunked download that lost its place, to be wanted again from its whole advertisers. */
export interface EvictedDownload {
  key: string;
  advert: AdvertInfo;
  advertisers: NodeId[];
  /** When its origin broadcast it (its expiry runs from there). */
  createdAt: number;
}

/** What the places use of the chunked artifacts. */
export interface PlacesHost {
  readonly limits: DownloadLimits;
  /** Whether `key` is kept out for now (a stalled download of it lost its place lately). */
  shelved(key: string, now: number): boolean;
  /** Forgets `s`, which lost its place; what to want again, if anything. */
  evict(s: ChunkState, reason: EvictionReason, now: number): EvictedDownload | undefined;
  /** Cancels the manifest fetch of `want`, preempted, and forgets it (it is wanted again). */
  preempt(want: Want): void;
}

/** One channel's places in this pass. */
interface Channel {
  /** Places taken: manifests being fetched and artifacts held in part. */
  used: number;
  /** Places taken per owner (the one peer offering the artifact). */
  held: Map<NodeId, number>;
  /** Downloads waiting for a place, per owner ('' for those several peers offer). */
  waiting: Map<NodeId | '', number>;
  waitingTotal: number;
  /** Its artifacts held in part, and its manifests being fetched: those may lose their place. */
  states: ChunkState[];
  manifests: Want[];
}

/** The one peer that offers `s` (whole or in part), if only one does. */
export function soleSource(s: ChunkState): NodeId | undefined {
  return s.sources.size === 1 ? s.sources.keys().next().value : undefined;
}

/** The one peer that advertises `want`, if only one does. */
function soleAdvertiser(want: Want): NodeId | undefined {
  return want.advertisers.size === 1 ? want.advertisers.keys().next().value : undefined;
}

/** Whether every source of `s` is faulty (and it has one). */
function onlyFaulty(s: ChunkState): boolean {
  if (s.sources.size === 0) return false;
  for (const peer of s.sources.keys()) if (!s.faulty.has(peer)) return false;
  return true;
}

/** Whether `s` made no progress for `chunkStallMs` (since it started), or has only faulty sources. */
export function isStalled(s: ChunkState, now: number, chunkStallMs: number): boolean {
  if (s.phase !== 'downloading') return false;
  return now - (s.progressAt ?? s.createdAt) >= chunkStallMs || onlyFaulty(s);
}

/**
 * Which of two stalled downloads yields first: one whose every source is faulty, then one with
 * no chunk yet, then the one without progress for longest (an honest download that has chunks
 * and waits, say, for a slow share owner goes last).
 */
function yieldsBefore(a: ChunkState, b: ChunkState): boolean {
  const rank = (s: ChunkState) => (onlyFaulty(s) ? 0 : s.have.count === 0 ? 1 : 2);
  const since = (s: ChunkState) => s.progressAt ?? s.createdAt;
  return rank(a) < rank(b) || (rank(a) === rank(b) && since(a) < since(b));
}

function isDormant(s: ChunkState, now: number, downloadTimeoutMs: number): boolean {
  return (
    s.phase === 'downloading' &&
    s.sources.size === 0 &&
    s.inflight.size === 0 &&
    s.writing.size === 0 &&
    now - s.activeAt >= downloadTimeoutMs
  );
}

function add<K>(map: Map<K, number>, key: K, n: number): void {
  const v = (map.get(key) ?? 0) + n;
  if (v <= 0) map.delete(key);
  else map.set(key, v);
}

/**
 * The places of chunked downloads for one scheduling pass of the core: `admit` is asked, in
 * the scheduler's order, about each chunked want that could start.
 *
 * - Each channel has `maxChunkedDownloads` places: its manifests being fetched and artifacts
 *   held in part. Channels do not share them, so a flood on one cannot stop another.
 * - A download is charged to its owner, the one peer that offers it (its only advertiser, or
 *   the only source of its chunks), if only one does: an artifact several peers offer is
 *   nobody's. An owner holding `ceil(max / 2)` places or more starts no other download while a
 *   download of another owner (or of none) waits in the channel.
 * - A download waiting in a full channel takes the place of, first, a dormant one (the oldest;
 *   counted `evicted`), then a stalled one (no verified chunk for `chunkStallMs`, or only faulty
 *   sources; the longest stalled; counted `stalled`, and its key is kept out for a while: see
 *   `ChunkedArtifacts.shelved`), then one of an owner over its share (the one with the fewest
 *   chunks; counted `preempted`). When nothing waits, a stalled download keeps its place.
 */
export class ChunkedPlaces {
  readonly #host: PlacesHost;
  readonly #now: number;
  readonly #max: number;
  /** The most places one owner holds while another's download waits. */
  readonly #share: number;
  readonly #channels = new Map<string, Channel>();
  /** Downloads that lost their place in this pass. */
  readonly evicted: EvictedDownload[] = [];
  /** Whether a download found its channel full in this pass. */
  blocked = false;

  constructor(
    host: PlacesHost,
    states: Iterable<ChunkState>,
    wants: Iterable<Want>,
    isUp: (peer: NodeId) => boolean,
    now: number,
  ) {
    this.#host = host;
    this.#now = now;
    this.#max = host.limits.maxChunkedDownloads;
    this.#share = Math.ceil(this.#max / 2);
    for (const s of states) {
      if (s.phase === 'held') continue;
      const c = this.#channel(s.channel.name);
      c.used++;
      c.states.push(s);
      const owner = soleSource(s);
      if (owner !== undefined) add(c.held, owner, 1);
    }
    for (const w of wants) {
      if (w.manifestSize === undefined) continue;
      const c = this.#channel(w.channel);
      const owner = soleAdvertiser(w);
      if (w.inflight) {
        c.used++;
        c.manifests.push(w);
        if (owner !== undefined) add(c.held, owner, 1);
        continue;
      }
      if (w.decision !== 'fetch' || w.notBefore > now || host.shelved(w.key, now)) continue;
      let usable = false;
      for (const p of w.advertisers.keys()) usable ||= !w.faulty.has(p) && isUp(p);
      if (!usable) continue;
      add(c.waiting, owner ?? '', 1);
      c.waitingTotal++;
    }
  }

  #channel(name: string): Channel {
    let c = this.#channels.get(name);
    if (!c) {
      c = {
        used: 0,
        held: new Map(),
        waiting: new Map(),
        waitingTotal: 0,
        states: [],
        manifests: [],
      };
      this.#channels.set(name, c);
    }
    return c;
  }

  /** Whether chunked `want` may start now (it then takes a place, maybe another's). */
  admit(want: Want): boolean {
    if (this.#host.shelved(want.key, this.#now)) return false;
    const c = this.#channel(want.channel);
    const owner = soleAdvertiser(want);
    const mine = c.waiting.get(owner ?? '') ?? 0;
    if (
      owner !== undefined &&
      (c.held.get(owner) ?? 0) >= this.#share &&
      c.waitingTotal - mine > 0
    ) {
      return false; // its owner has its share, and another's download waits
    }
    if (c.used >= this.#max && !this.#makeRoom(c, owner)) {
      this.blocked = true;
      return false;
    }
    c.used++;
    if (owner !== undefined) add(c.held, owner, 1);
    if (mine > 0) {
      add(c.waiting, owner ?? '', -1);
      c.waitingTotal--;
    }
    return true;
  }

  /** Frees a place of `c` for a download of `owner`, if one may be taken; see the class. */
  #makeRoom(c: Channel, owner: NodeId | undefined): boolean {
    const now = this.#now;
    const { downloadTimeoutMs, chunkStallMs } = this.#host.limits;
    // An owner at its share takes only a dormant place (nobody's) or one of its own stalled
    // ones: a liar whose fakes stall and come back must not evict honest downloads that wait.
    const underShare = owner === undefined || (c.held.get(owner) ?? 0) < this.#share;
    let dormant: ChunkState | undefined;
    let stalled: ChunkState | undefined;
    let over: ChunkState | undefined;
    for (const s of c.states) {
      if (s.phase !== 'downloading') continue;
      if (isDormant(s, now, downloadTimeoutMs)) {
        if (!dormant || s.activeAt < dormant.activeAt) dormant = s;
      } else if (isStalled(s, now, chunkStallMs)) {
        if (!underShare && soleSource(s) !== owner) continue;
        if (!stalled || yieldsBefore(s, stalled)) stalled = s;
      } else if (underShare) {
        const o = soleSource(s);
        if (o === undefined || o === owner || (c.held.get(o) ?? 0) <= this.#share) continue;
        const fewer =
          !over ||
          s.have.count < over.have.count ||
          (s.have.count === over.have.count && s.seq > over.seq);
        if (fewer) over = s;
      }
    }
    const [victim, reason]: [ChunkState | undefined, EvictionReason] = dormant
      ? [dormant, 'evicted']
      : stalled
        ? [stalled, 'stalled']
        : [over, 'preempted'];
    if (reason === 'preempted' && underShare) {
      // Over its share, a manifest being fetched goes first: it loses no chunk.
      const overShare = (w: Want) => {
        const o = soleAdvertiser(w);
        return o !== undefined && o !== owner && (c.held.get(o) ?? 0) > this.#share;
      };
      let manifest: Want | undefined;
      for (const w of c.manifests)
        if (overShare(w) && (!manifest || w.seq > manifest.seq)) manifest = w;
      if (manifest) {
        add(c.held, soleAdvertiser(manifest)!, -1);
        c.used--;
        c.manifests.splice(c.manifests.indexOf(manifest), 1);
        this.#host.preempt(manifest);
        this.evicted.push({
          key: manifest.key,
          advert: {
            channel: manifest.channel,
            id: manifest.id,
            size: manifest.totalSize,
            attributes: manifest.attributes,
            manifestSize: manifest.manifestSize!,
            ageMs: Math.max(0, this.#now - manifest.createdAt),
          },
          advertisers: [...manifest.advertisers.keys()],
          createdAt: manifest.createdAt,
        });
        return true;
      }
    }
    if (!victim) return false;
    const o = soleSource(victim);
    if (o !== undefined) add(c.held, o, -1);
    c.used--;
    c.states.splice(c.states.indexOf(victim), 1);
    const again = this.#host.evict(victim, reason, now);
    if (again) this.evicted.push(again);
    return true;
  }
}

/** When the next download in progress that has not stalled yet will have stalled. */
export function nextStall(
  chunks: Iterable<ChunkState>,
  now: number,
  chunkStallMs: number,
): number | undefined {
  let at: number | undefined;
  for (const s of chunks) {
    if (s.phase !== 'downloading' || isStalled(s, now, chunkStallMs)) continue;
    const t = (s.progressAt ?? s.createdAt) + chunkStallMs;
    if (at === undefined || t < at) at = t;
  }
  return at;
}

/**
 * A download that lost its place, to be wanted again from its whole advertisers (undefined if
 * it has none): their adverts still stand. Its expiry runs from its first broadcast.
 */
export function evictedDownload(s: ChunkState, now: number): EvictedDownload | undefined {
  const advertisers: NodeId[] = [];
  for (const [peer, src] of s.sources) if (src === 'all') advertisers.push(peer);
  if (advertisers.length === 0) return undefined;
  const createdAt = s.channel.retention.get(s.key)?.createdAt ?? s.createdAt;
  return {
    key: s.key,
    advert: {
      channel: s.channel.name,
      id: s.id,
      size: s.manifest.totalBytes,
      attributes: s.attributes,
      manifestSize: s.manifestBytes.length,
      ageMs: Math.max(0, now - createdAt),
    },
    advertisers,
    createdAt,
  };
}
