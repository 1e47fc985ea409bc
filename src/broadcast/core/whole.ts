import type { NodeId } from '../../identity/index.ts';
import type { ResponseBody } from '../../transport/rpc.ts';
import { lengthDelimitedPrefix, ZERO_COPY_MIN_BYTES } from '../../transport/wire-parts.ts';
import { artifactId, idToBytes } from '../ids.ts';
import { FetchRequest, FetchResponse } from '../proto/broadcast.ts';
import type {
  AdvertInfo,
  ArtifactId,
  DeliveredArtifact,
  FetchResult,
  HeldArtifactInfo,
  Validation,
} from '../types.ts';
import type { Adverts, Offer } from './adverts.ts';
import { type ChannelState, keyChannel } from './channel-state.ts';
import type { EvictedDownload } from './chunked-places.ts';
import type { CoreContext } from './context.ts';
import { Downloads, type Want } from './downloads.ts';
import { fetchedBytes, missingResponse } from './fetch-response.ts';
import type { Holdings } from './holdings.ts';
import type { Owner } from './retention.ts';
import type { Validating, Validations } from './validations.ts';

/** What the whole artifacts use of the other sub-protocols. */
export interface WholeHost {
  /** Records an artifact as held, charged to its owner, making room (see `Holdings.admit`). */
  admit: Holdings['admit'];
  /** Whether `key` is a chunked artifact held in whole or in part. */
  chunked(key: string): boolean;
  /** A chunked artifact's manifest arrived (verified against its id): its chunks follow. */
  manifestFetched(ch: ChannelState, want: Want, peer: NodeId, bytes: Uint8Array): void;
}

/**
 * The whole-artifacts sub-protocol: an artifact advertised (or pushed inline) is wanted, fetched
 * from one advertiser at a time ({@link Downloads}), verified (advertised size, SHA-256),
 * validated by the application, then held, delivered and relayed. The manifests of chunked
 * artifacts are fetched the same way, then handed to the chunked artifacts. It also answers
 * peers' requests for the whole artifacts this node holds.
 */
export class WholeArtifacts {
  readonly #ctx: CoreContext;
  readonly #host: WholeHost;
  readonly #validations: Validations;
  readonly #adverts: Adverts;
  readonly downloads: Downloads;

  constructor(ctx: CoreContext, host: WholeHost, validations: Validations, adverts: Adverts) {
    this.#ctx = ctx;
    this.#host = host;
    this.#validations = validations;
    this.#adverts = adverts;
    this.downloads = new Downloads(ctx.limits, ctx.links);
  }

  /** `peer` offers `offer` (not a chunked artifact held here): the outcome to count. */
  offered(peer: NodeId, ch: ChannelState, offer: Offer): string {
    const { key, id, size, attributes, manifestSize, ageMs, createdAt } = offer;
    if (ch.pool.has(id) || this.#validations.has(key) || this.#ctx.dismissed(key)) {
      return 'duplicate';
    }
    const advert: AdvertInfo = {
      channel: ch.name,
      id,
      size,
      attributes,
      ...(manifestSize > 0 ? { manifestSize } : {}),
      ageMs,
    };
    if (offer.inline && this.#validations.size < this.#ctx.limits.maxPendingValidations) {
      this.forget(key);
      const artifact = { channel: ch.name, id, bytes: offer.inline, attributes, from: peer };
      this.#validate(ch, key, artifact, peer, peer, createdAt);
      return 'accepted';
    }
    // An advert (or an inline artifact we cannot validate now: we will fetch it later). An
    // advert of an artifact its origin pushed waits a grace period: the push is on its way.
    const grace = offer.pushed ? this.#ctx.now + this.#ctx.limits.pushGraceMs : 0;
    const want = this.downloads.advertised(key, advert, peer, ch.cfg.priority, grace, createdAt);
    return want === undefined ? 'dropped' : want.decision === 'later' ? 'later' : 'accepted';
  }

  /** `peer` no longer advertises `key`: its download from `peer`, if any, is cancelled. */
  withdrawn(key: string, peer: NodeId): void {
    const token = this.downloads.withdrawn(key, peer);
    if (token !== undefined) this.#cancel(token, key);
  }

  #cancel(token: number, key: string): void {
    this.#ctx.act({ type: 'cancel-fetch', token });
    this.#ctx.count('downloads', { channel: keyChannel(key), outcome: 'cancelled' });
  }

  /** Forgets any download of `key` (we hold it, or it was aborted). */
  forget(key: string): void {
    const token = this.downloads.remove(key);
    if (token !== undefined) this.#cancel(token, key);
  }

  /** Starts the downloads that can start (`canStart`: a chunked one's place, see the core). */
  start(now: number, canStart: (want: Want) => boolean): void {
    for (const s of this.downloads.schedule(now, this.#ctx.up, canStart)) {
      const ch = this.#ctx.channel(s.want.channel);
      this.#ctx.count('downloads', { channel: ch.name, outcome: 'started' });
      this.#ctx.act({
        type: 'fetch',
        token: s.token,
        peer: s.peer,
        lane: ch.cfg.lane,
        body: FetchRequest.encode({
          channel: ch.number,
          id: idToBytes(s.want.id) as Uint8Array<ArrayBuffer>,
        }),
        timeoutMs: s.timeoutMs,
      });
    }
  }

  /**
   * Chunked downloads that lost their place are wanted again from their whole advertisers
   * (after the scheduling pass, which must not see its queues change): those adverts still
   * stand, and an honest artifact whose sources were only slow must still arrive. A stalled
   * one's key is shelved meanwhile (`ChunkedArtifacts.shelved`), so it does not start at once.
   */
  wantAgain(evicted: readonly EvictedDownload[]): void {
    for (const { key, advert, advertisers, createdAt } of evicted) {
      const ch = this.#ctx.channels.get(advert.channel);
      if (!ch) continue;
      for (const peer of advertisers) {
        if (!this.#ctx.up.has(peer)) continue;
        this.downloads.advertised(key, advert, peer, ch.cfg.priority, 0, createdAt);
      }
    }
  }

  /** Asks the priority function again about every artifact not yet held (one channel or all). */
  reprioritize(channel: string | undefined, now: number): void {
    for (const want of [...this.downloads.wants()]) {
      if (channel !== undefined && want.channel !== channel) continue;
      const ch = this.#ctx.channel(want.channel);
      if (ch.retention.expired(want.createdAt, now)) {
        this.forget(want.key);
        this.#ctx.dismiss(want.key);
        this.#ctx.count('wants_removed', { channel: want.channel, reason: 'expired' });
        continue;
      }
      const size =
        want.manifestSize !== undefined ? want.totalSize : Math.max(...want.advertisers.values());
      const decision = ch.cfg.priority({
        channel: want.channel,
        id: want.id,
        size,
        attributes: want.attributes,
        ...(want.manifestSize !== undefined ? { manifestSize: want.manifestSize } : {}),
        ageMs: Math.max(0, now - want.createdAt),
      });
      const token = this.downloads.redecide(want, decision);
      if (token !== undefined) this.#cancel(token, want.key);
    }
  }

  /**
   * Forgets and dismisses the wants of `channel` for which `predicate` is true (as advertised
   * artifacts); returns how many.
   */
  purge(channel: string, predicate: (a: HeldArtifactInfo) => boolean, now: number): number {
    let n = 0;
    for (const want of [...this.downloads.wants()]) {
      if (want.channel !== channel) continue;
      const info: HeldArtifactInfo = {
        id: want.id,
        size: want.totalSize,
        attributes: want.attributes,
        origin: want.advertisers.keys().next().value ?? 'self',
        ageMs: Math.max(0, now - want.createdAt),
        held: 'advertised',
      };
      if (!predicate(info)) continue;
      this.forget(want.key);
      this.#ctx.dismiss(want.key);
      this.#ctx.count('wants_removed', { channel, reason: 'purged' });
      n++;
    }
    return n;
  }

  /** The result of download `token` (of a whole artifact or a manifest). */
  fetched(token: number, result: FetchResult, now: number): void {
    const done = this.downloads.finish(token);
    if (!done) return; // cancelled or superseded
    const { want, peer } = done;
    const ch = this.#ctx.channel(want.channel);
    const labels = { channel: ch.name };
    const bytes = fetchedBytes(result);
    if (bytes === 'retry') {
      this.#retry(want, peer, false);
      return;
    }
    if (bytes === 'malformed') {
      this.#faulty(want, peer, 'missing_body');
      return;
    }
    if (bytes.length > want.advertisers.get(peer)!) {
      this.#faulty(want, peer, 'oversized');
      return;
    }
    if (artifactId(bytes) !== want.id) {
      this.#faulty(want, peer, 'bad_hash');
      return;
    }
    if (ch.pool.has(want.id) || this.#host.chunked(want.key)) {
      this.#ctx.count('duplicate_downloads', labels);
      this.downloads.remove(want.key);
      return;
    }
    this.#ctx.count('downloads', { ...labels, outcome: 'succeeded' });
    if (want.manifestSize === undefined && want.firstFetchAt !== undefined) {
      this.#ctx.timing('download_duration', ch.name, now - want.firstFetchAt);
    }
    this.downloads.remove(want.key);
    // Charged to the peer that advertised it first: the one that brought it to us.
    const owner = want.advertisers.keys().next().value ?? peer;
    if (ch.retention.expired(want.createdAt, now)) {
      this.#ctx.dismiss(want.key);
      return;
    }
    if (want.manifestSize !== undefined) {
      // A chunked artifact is held (and takes its full size) from its manifest on.
      this.#host.admit(
        ch,
        want.key,
        want.id,
        owner,
        want.totalSize,
        want.attributes,
        want.createdAt,
      );
      this.#host.manifestFetched(ch, want, peer, bytes);
      if (!this.#host.chunked(want.key)) ch.retention.remove(want.key);
      return;
    }
    const artifact = {
      channel: ch.name,
      id: want.id,
      bytes,
      attributes: want.attributes,
      from: peer,
    };
    this.#validate(ch, want.key, artifact, undefined, owner, want.createdAt);
  }

  #retry(want: Want, peer: NodeId, faulty: boolean): void {
    const outcome = faulty ? 'faulty' : 'retried';
    this.#ctx.count('downloads', { channel: want.channel, outcome });
    this.downloads.failed(want, peer, faulty);
  }

  #faulty(want: Want, peer: NodeId, reason: string): void {
    this.#ctx.count('peer_faults', { channel: want.channel, peer, reason });
    this.#retry(want, peer, true);
  }

  #validate(
    ch: ChannelState,
    key: string,
    artifact: DeliveredArtifact,
    pushedBy: NodeId | undefined,
    owner: Owner,
    createdAt: number,
  ): void {
    this.#validations.start({
      key,
      channel: ch,
      artifact,
      kind: 'whole',
      pushedBy,
      owner,
      createdAt,
    });
  }

  /** The application's verdict on a whole artifact: accepted, it is held, delivered, relayed. */
  validated(v: Validating, verdict: Validation, now: number): void {
    const { channel: ch, artifact } = v;
    if (verdict !== 'accept') {
      if (verdict === 'reject') {
        const labels = { channel: ch.name, peer: artifact.from, reason: 'rejected' };
        this.#ctx.count('peer_faults', labels);
      }
      this.#ctx.dismiss(v.key);
      this.forget(v.key);
      return;
    }
    if (ch.pool.has(artifact.id)) return;
    if (ch.retention.expired(v.createdAt, now)) {
      this.#ctx.count('wants_removed', { channel: ch.name, reason: 'expired' });
      this.#ctx.dismiss(v.key);
      this.forget(v.key);
      return;
    }
    // The bytes may be views into a large received message, which must not be pinned: copied,
    // unless they are nearly all of it (a fetched artifact in its own reassembled message).
    const kept: DeliveredArtifact = {
      ...artifact,
      bytes: ownBytes(artifact.bytes),
      attributes: artifact.attributes.slice(),
    };
    this.#host.admit(ch, v.key, kept.id, v.owner, kept.bytes.length, kept.attributes, v.createdAt);
    try {
      ch.pool.put({
        channel: ch.name,
        id: kept.id,
        bytes: kept.bytes,
        attributes: kept.attributes,
      });
    } catch {
      ch.retention.remove(v.key);
      this.#ctx.count('pool_full', { channel: ch.name });
      this.#ctx.dismiss(v.key);
      this.forget(v.key);
      return;
    }
    this.forget(v.key);
    this.#ctx.act({ type: 'deliver', artifact: kept });
    this.#ctx.count('delivered', { channel: ch.name });
    this.#ctx.timing('delivery_latency', ch.name, now - v.createdAt);
    if (ch.cfg.relay === 'relay') {
      const relayed = this.#adverts.advertise(ch, {
        id: kept.id,
        size: kept.bytes.length,
        attributes: kept.attributes,
        inline: undefined,
        pushedBy: v.pushedBy,
        fetchedFrom: v.pushedBy === undefined ? artifact.from : undefined,
      });
      this.#ctx.count(relayed ? 'relayed' : 'relay_skipped', { channel: ch.name });
    }
  }

  /**
   * The answer to a request for whole artifact `id` (part 0): a large one is not copied into
   * it, the answer is then the field's header and the artifact's own bytes, sent back to back.
   */
  serve(ch: ChannelState, id: ArtifactId, part: number): ResponseBody {
    if (part !== 0) return missingResponse();
    const artifact = ch.pool.get(id);
    if (!artifact) return missingResponse();
    if (artifact.bytes.length >= ZERO_COPY_MIN_BYTES) {
      // FetchResponse { artifact = 1 } with `missing` false (omitted), artifact by reference.
      return [lengthDelimitedPrefix(1, artifact.bytes.length), artifact.bytes];
    }
    return FetchResponse.encode({
      artifact: artifact.bytes as Uint8Array<ArrayBuffer>,
      missing: false,
    });
  }
}

/** The most bytes a kept view may pin beyond its own: this, or an eighth of its length. */
const MAX_PINNED_EXTRA_BYTES = 4096;

/**
 * `bytes` itself if keeping it pins little else of its buffer (at most
 * {@link MAX_PINNED_EXTRA_BYTES}, or an eighth of its length), else a copy of it. A fetched
 * artifact arrives as most of one reassembled message: keeping that view saves a copy of every
 * fetched byte; inline artifacts share their message with others and are copied.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  const extra = bytes.buffer.byteLength - bytes.byteLength;
  return extra <= Math.max(MAX_PINNED_EXTRA_BYTES, bytes.byteLength >>> 3) ? bytes : bytes.slice();
}
