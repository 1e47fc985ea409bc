import type { NodeId } from '../../identity/index.ts';
import type { ArtifactId, RemovalReason } from '../types.ts';

/** Who an artifact held by a node is charged to: the peer that brought it, or this node. */
export type Owner = NodeId | 'self';

export type { RemovalReason };

/** One artifact a channel holds, whole or in part. */
export interface HeldRecord {
  key: string;
  id: ArtifactId;
  /** Bytes it takes (for a chunked artifact, its total size, reserved from the start). */
  size: number;
  attributes: Uint8Array;
  owner: Owner;
  /** When its origin broadcast it, by this node's clock (ms): it expires at createdAt + maxAgeMs. */
  createdAt: number;
  /** Admission order (paging cursor). */
  seq: number;
}

/** What one owner holds in a channel. */
interface Share {
  count: number;
  bytes: number;
  /** Its records, oldest admitted first (Map insertion order). */
  records: Map<string, HeldRecord>;
}

/** The bounds of one channel's retention (see ChannelConfig). */
export interface RetentionLimits {
  maxArtifacts: number;
  maxBytes: number;
  maxAgeMs: number;
  /** Fraction of `maxArtifacts` and of `maxBytes` one peer's artifacts may hold. */
  peerShare: number;
}

/**
 * What one channel holds, whole or in part, and who it is charged to: the bounds that keep a
 * channel from wedging whatever its peers send. Pure bookkeeping (no I/O, no protocol): the core
 * asks it which artifacts to evict before it admits one, which have expired, and which match a
 * purge, and carries out the removals itself.
 *
 * Eviction (when an artifact is admitted):
 * 1. a peer over its share (`peerShare` of the artifacts or of the bytes) loses its own oldest
 *    artifacts first, down to its share;
 * 2. then, while the channel is over `maxArtifacts` or `maxBytes`, the owner holding the most
 *    (artifacts, or bytes) loses its oldest: max-min fairness, so an owner holding no more than
 *    an equal split never loses an artifact to another owner's arrivals.
 * This node's own artifacts are subject to rule 2 only.
 */
export class Retention {
  readonly limits: RetentionLimits;
  readonly #records = new Map<string, HeldRecord>();
  readonly #shares = new Map<Owner, Share>();
  /** Expiry times, a binary min-heap of [expiresAt, key] (entries of removed keys are skipped). */
  readonly #heap: [number, string][] = [];
  #bytes = 0;
  #seq = 0;

  constructor(limits: RetentionLimits) {
    this.limits = limits;
  }

  get count(): number {
    return this.#records.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): HeldRecord | undefined {
    return this.#records.get(key);
  }

  has(key: string): boolean {
    return this.#records.has(key);
  }

  /** Every record, in admission order. */
  records(): IterableIterator<HeldRecord> {
    return this.#records.values();
  }

  /** Artifacts and bytes held per owner. */
  shares(): { owner: Owner; count: number; bytes: number }[] {
    return [...this.#shares].map(([owner, s]) => ({ owner, count: s.count, bytes: s.bytes }));
  }

  /** The most artifacts (and bytes) one peer may hold. */
  get peerMaxArtifacts(): number {
    return Math.max(1, Math.floor(this.limits.maxArtifacts * this.limits.peerShare));
  }

  get peerMaxBytes(): number {
    return Math.max(1, Math.floor(this.limits.maxBytes * this.limits.peerShare));
  }

  /** Whether an artifact created at `createdAt` has expired at `now`. */
  expired(createdAt: number, now: number): boolean {
    return now >= createdAt + this.limits.maxAgeMs;
  }

  /**
   * The records to evict so that an artifact of `size` bytes charged to `owner` fits, in order:
   * see the class comment. `size` must not exceed `maxBytes` (nor a peer's share of it: the
   * channel's maxArtifactBytes is checked against both when it is configured).
   */
  victims(owner: Owner, size: number): { record: HeldRecord; over: Owner }[] {
    const out: { record: HeldRecord; over: Owner }[] = [];
    const gone = new Set<string>();
    const taken = new Map<Owner, { count: number; bytes: number }>();
    const shareOf = (o: Owner) => {
      const s = this.#shares.get(o);
      const t = taken.get(o);
      return { count: (s?.count ?? 0) - (t?.count ?? 0), bytes: (s?.bytes ?? 0) - (t?.bytes ?? 0) };
    };
    let count = this.#records.size + 1;
    let bytes = this.#bytes + size;
    const evictOldest = (o: Owner): boolean => {
      const s = this.#shares.get(o);
      if (!s) return false;
      for (const r of s.records.values()) {
        if (gone.has(r.key)) continue;
        gone.add(r.key);
        out.push({ record: r, over: o });
        const t = taken.get(o) ?? { count: 0, bytes: 0 };
        t.count++;
        t.bytes += r.size;
        taken.set(o, t);
        count--;
        bytes -= r.size;
        return true;
      }
      return false;
    };
    if (owner !== 'self') {
      while (
        shareOf(owner).count + 1 > this.peerMaxArtifacts ||
        shareOf(owner).bytes + size > this.peerMaxBytes
      ) {
        if (!evictOldest(owner)) break;
      }
    }
    while (count > this.limits.maxArtifacts || bytes > this.limits.maxBytes) {
      const byBytes = bytes > this.limits.maxBytes;
      let largest: Owner | undefined;
      let most = -1;
      for (const o of this.#shares.keys()) {
        const s = shareOf(o);
        // The newcomer's owner counts with the newcomer: it may be the one to give way.
        const held = byBytes ? s.bytes + (o === owner ? size : 0) : s.count + (o === owner ? 1 : 0);
        if ((byBytes ? s.bytes : s.count) === 0) continue;
        // Ties go against peers before this node.
        if (held > most || (held === most && largest === 'self')) {
          most = held;
          largest = o;
        }
      }
      if (largest === undefined || !evictOldest(largest)) break;
    }
    return out;
  }

  /** Records an artifact as held (after its victims were removed). */
  add(r: Omit<HeldRecord, 'seq'>): HeldRecord {
    const old = this.#records.get(r.key);
    if (old) return old;
    const record: HeldRecord = { ...r, seq: this.#seq++ };
    this.#records.set(r.key, record);
    let share = this.#shares.get(r.owner);
    if (!share) {
      share = { count: 0, bytes: 0, records: new Map() };
      this.#shares.set(r.owner, share);
    }
    share.count++;
    share.bytes += r.size;
    share.records.set(r.key, record);
    this.#bytes += r.size;
    this.#push([r.createdAt + this.limits.maxAgeMs, r.key]);
    return record;
  }

  /** Forgets a record; returns it, if it was held. */
  remove(key: string): HeldRecord | undefined {
    const r = this.#records.get(key);
    if (!r) return undefined;
    this.#records.delete(key);
    const share = this.#shares.get(r.owner)!;
    share.count--;
    share.bytes -= r.size;
    share.records.delete(key);
    if (share.count === 0) this.#shares.delete(r.owner);
    this.#bytes -= r.size;
    return r;
  }

  /** The records expired at `now`, oldest first (they stay held until removed). */
  expiredAt(now: number): HeldRecord[] {
    const out: HeldRecord[] = [];
    while (this.#heap.length > 0 && this.#heap[0]![0] <= now) {
      const [at, key] = this.#pop();
      const r = this.#records.get(key);
      if (r && r.createdAt + this.limits.maxAgeMs === at) out.push(r);
    }
    return out;
  }

  /** When the next held artifact expires, if any. */
  nextExpiry(): number | undefined {
    while (this.#heap.length > 0) {
      const [at, key] = this.#heap[0]!;
      const r = this.#records.get(key);
      if (r && r.createdAt + this.limits.maxAgeMs === at) return at;
      this.#pop(); // removed since: skip
    }
    return undefined;
  }

  #push(e: [number, string]): void {
    if (this.#heap.length > 2 * this.#records.size + 1024) this.#rebuild();
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]![0] <= e[0]) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  /** Drops the entries of removed records (the heap stays within twice the records held). */
  #rebuild(): void {
    const live = this.#heap.filter(([at, key]) => {
      const r = this.#records.get(key);
      return r !== undefined && r.createdAt + this.limits.maxAgeMs === at;
    });
    this.#heap.length = 0;
    for (const e of live) this.#push(e);
  }

  #pop(): [number, string] {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]![0] < h[l]![0] ? r : l;
        if (h[c]![0] >= last[0]) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
