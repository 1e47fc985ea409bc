import { ArtifactExpiredError } from '../../errors.ts';
import type { ArtifactId, ChannelStats, HeldArtifactInfo, RemovalReason } from '../types.ts';
import type { Adverts } from './adverts.ts';
import { type ChannelState, keyChannel } from './channel-state.ts';
import type { CoreContext } from './context.ts';
import type { Owner } from './retention.ts';

/** What the holdings use of the sub-protocols that fetch and hold artifacts. */
export interface HoldingsHost {
  /** Stops any download of `key` and drops what is held of it as a chunked artifact. */
  release(key: string): void;
  /** Whether `key` is a chunked artifact held only in part. */
  partial(key: string): boolean;
}

/**
 * What each channel holds, as the application and the bounds see it: admission (making room by
 * eviction, see {@link Retention}), removal from everything, expiry, and the listings.
 */
export class Holdings {
  readonly #ctx: CoreContext;
  readonly #adverts: Adverts;
  readonly #host: HoldingsHost;

  constructor(ctx: CoreContext, adverts: Adverts, host: HoldingsHost) {
    this.#ctx = ctx;
    this.#adverts = adverts;
    this.#host = host;
  }

  /** When an artifact of age `ageMs` was created; throws ERR_ARTIFACT_EXPIRED if it has expired. */
  createdAt(ch: ChannelState, ageMs: number): number {
    if (!(ageMs >= 0) || !Number.isFinite(ageMs)) {
      throw new ArtifactExpiredError(`ageMs must be a finite number >= 0, got ${ageMs}`);
    }
    const now = this.#ctx.now;
    const createdAt = now - ageMs;
    if (ch.retention.expired(createdAt, now)) {
      throw new ArtifactExpiredError(
        `artifact of age ${ageMs} ms is past channel '${ch.name}' maxAgeMs of ${ch.cfg.maxAgeMs}`,
      );
    }
    return createdAt;
  }

  /**
   * Makes room for an artifact charged to `owner` and records it as held: evicts what
   * {@link Retention.victims} names (a peer over its share loses its oldest first; then the
   * largest owner). Always admits: the channel's limits hold at least one artifact of any
   * size it accepts per owner.
   */
  admit(
    ch: ChannelState,
    key: string,
    id: ArtifactId,
    owner: Owner,
    size: number,
    attributes: Uint8Array,
    createdAt: number,
  ): void {
    for (const { record, over } of ch.retention.victims(owner, size)) {
      this.#ctx.count('evicted', { channel: ch.name, peer: over });
      this.remove(ch, record.key, 'evicted');
    }
    ch.retention.add({ key, id, size, attributes, owner, createdAt });
  }

  /**
   * Removes a held artifact from everything: its slot (withdrawn at every peer), the pool, the
   * chunk store, any download; dismissed, so that adverts of it are not fetched again.
   */
  remove(ch: ChannelState, key: string, reason: RemovalReason): void {
    const r = ch.retention.remove(key);
    if (!r) return;
    this.#adverts.withdraw(ch, r.id);
    ch.pool.delete(r.id);
    this.#host.release(key);
    this.#ctx.dismiss(key);
    this.#ctx.count('removed', { channel: ch.name, reason });
    this.#ctx.act({ type: 'removed', channel: ch.name, id: r.id, reason });
  }

  /** The chunked artifacts forgot `key` by themselves (evicted dormant, or rejected). */
  dropped(key: string, reason: 'evicted' | 'rejected'): void {
    const ch = this.#ctx.channels.get(keyChannel(key));
    const r = ch?.retention.remove(key);
    if (ch && r) {
      this.#ctx.count('removed', { channel: ch.name, reason });
      this.#ctx.act({ type: 'removed', channel: ch.name, id: r.id, reason });
    }
  }

  /** Removes the held artifacts whose age passed `maxAgeMs`. */
  expire(now: number): void {
    for (const ch of this.#ctx.channels.values()) {
      if ((ch.retention.nextExpiry() ?? Number.POSITIVE_INFINITY) > now) continue;
      for (const r of ch.retention.expiredAt(now)) this.remove(ch, r.key, 'expired');
    }
  }

  /** The held artifact `key` as the application sees it. */
  info(ch: ChannelState, key: string): HeldArtifactInfo | undefined {
    const r = ch.retention.get(key);
    if (!r) return undefined;
    return {
      id: r.id,
      size: r.size,
      attributes: r.attributes,
      origin: r.owner,
      ageMs: Math.max(0, this.#ctx.now - r.createdAt),
      held: this.#host.partial(key) ? 'partial' : 'whole',
    };
  }

  /** Removes every held artifact for which `predicate` is true; returns how many. */
  purge(ch: ChannelState, predicate: (a: HeldArtifactInfo) => boolean): number {
    let n = 0;
    for (const r of [...ch.retention.records()]) {
      if (!predicate(this.info(ch, r.key)!)) continue;
      this.remove(ch, r.key, 'purged');
      n++;
    }
    return n;
  }

  /** See `BroadcastCore.list`. */
  list(
    ch: ChannelState,
    opts: { after?: number; limit?: number },
  ): { artifacts: HeldArtifactInfo[]; next: number | undefined } {
    const limit = Math.max(1, Math.min(opts.limit ?? 100, 10_000));
    const after = opts.after ?? -1;
    const artifacts: HeldArtifactInfo[] = [];
    let last: number | undefined;
    let more = false;
    for (const r of ch.retention.records()) {
      if (r.seq <= after) continue;
      if (artifacts.length === limit) {
        more = true;
        break;
      }
      artifacts.push(this.info(ch, r.key)!);
      last = r.seq;
    }
    return { artifacts, next: more ? last : undefined };
  }

  /** The channel's use of its bounds, with `wants` artifacts advertised and not held. */
  stats(ch: ChannelState, wants: number): ChannelStats {
    const rt = ch.retention;
    return {
      channel: ch.name,
      slots: { used: ch.table.size, max: ch.cfg.maxSlots },
      held: {
        artifacts: rt.count,
        maxArtifacts: rt.limits.maxArtifacts,
        bytes: rt.bytes,
        maxBytes: rt.limits.maxBytes,
      },
      perPeer: { maxArtifacts: rt.peerMaxArtifacts, maxBytes: rt.peerMaxBytes },
      owners: rt.shares().map((s) => ({ origin: s.owner, artifacts: s.count, bytes: s.bytes })),
      wants,
      maxAgeMs: ch.cfg.maxAgeMs,
      watermarks: Object.fromEntries(ch.watermarks),
    };
  }
}
