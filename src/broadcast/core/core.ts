import { ConfigError } from '../../errors.ts';
import type { NodeId } from '../../identity/index.ts';
import type { Lane } from '../../transport/lanes.ts';
import type { ConnId } from '../../transport/link.ts';
import type { ResponseBody } from '../../transport/rpc.ts';
import { idFromBytes } from '../ids.ts';
import { FetchRequest } from '../proto/broadcast.ts';
import type {
  Artifact,
  ArtifactId,
  ChannelStats,
  ChunkedInfo,
  ChunkRead,
  CoreAction,
  FetchResult,
  HeldArtifactInfo,
  SlotNumber,
  Validation,
} from '../types.ts';
import type { Adverts } from './adverts.ts';
import {
  assembleCore,
  type CoreOptions,
  type CoreParts,
  type CoreStats,
  coreStats,
} from './assembly.ts';
import { artifactKey } from './channel-state.ts';
import type { ChunkedArtifacts } from './chunked.ts';
import type { CoreContext } from './context.ts';
import { missingResponse } from './fetch-response.ts';
import type { Holdings } from './holdings.ts';
import { addLocal, addLocalChunked, resumeStored } from './local.ts';
import { tokenOwner } from './tokens.ts';
import type { Validations } from './validations.ts';
import type { WholeArtifacts } from './whole.ts';

export type { CoreOptions, CoreStats, HeldUse } from './assembly.ts';
export { type ChannelState, channelNumber } from './channel-state.ts';
export { DEFAULT_MESSAGE_LIMITS, type MessageLimits } from './context.ts';

/** The sooner of two times, either of which may be absent. */
function earlier(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined || a <= b ? a : b;
}

/**
 * The broadcast protocol as a deterministic state machine, with no I/O: methods take events
 * (with the current time) and queue actions, which `takeActions()` hands to a driver. The
 * real-network driver and the simulator run this same code.
 *
 * It is the dispatcher of four sub-protocols that share a {@link CoreContext} (channels, peers
 * up, clock, action queue, counters, dismissed keys):
 * - {@link Adverts} (adverts.ts): the slot tables, slot updates sent and received;
 * - {@link WholeArtifacts} (whole.ts): wants, downloads, verification, validation verdicts,
 *   delivery and relay of whole artifacts (and the fetch of chunked artifacts' manifests);
 * - {@link ChunkedArtifacts} (chunked.ts): chunked artifacts held in whole or in part;
 * - {@link Holdings} (holdings.ts): what each channel holds, eviction, expiry, purges.
 *
 * Each issues its own tokens (tokens.ts), so results go straight to their owner.
 */
export class BroadcastCore {
  readonly self: NodeId;
  readonly #parts: CoreParts;
  readonly #ctx: CoreContext;
  readonly #adverts: Adverts;
  readonly #validations: Validations;
  readonly #whole: WholeArtifacts;
  readonly #chunked: ChunkedArtifacts;
  readonly #holdings: Holdings;
  #nextReprioritize: number | undefined;
  #wakeAt: number | undefined;
  #scheduleNeeded = false;

  constructor(opts: CoreOptions) {
    this.self = opts.self;
    this.#parts = assembleCore(opts);
    ({
      ctx: this.#ctx,
      adverts: this.#adverts,
      validations: this.#validations,
      whole: this.#whole,
      chunked: this.#chunked,
      holdings: this.#holdings,
    } = this.#parts);
  }

  // -------------------------------------------------------------------------------------------
  // Local artifacts

  /**
   * Starts broadcasting an artifact of `channel`; returns its id. Idempotent for an artifact
   * already held. `ageMs`: how old it already is (an artifact broadcast again after a restart
   * keeps its expiry). When the channel is full, older artifacts are evicted to make room (see
   * `ChannelConfig.peerShare`). Throws ERR_UNKNOWN_CHANNEL, ERR_ARTIFACT_TOO_LARGE,
   * ERR_ARTIFACT_EXPIRED (`ageMs` at or past the channel's `maxAgeMs`), ERR_QUEUE_FULL (the
   * pool refused it).
   */
  add(
    channel: string,
    bytes: Uint8Array,
    opts: { attributes?: Uint8Array; urgent?: boolean; ageMs?: number },
    now: number,
  ): ArtifactId {
    return addLocal(this.#parts, channel, bytes, opts, now, this.#touchFn);
  }

  /**
   * Starts broadcasting a chunked artifact whose chunks are all in the channel's chunk store
   * (the driver imported them): `id` must be the SHA-256 of `manifest`. Idempotent. `ageMs`
   * as for {@link add} (ERR_ARTIFACT_EXPIRED at or past `maxAgeMs`).
   */
  addChunked(
    channel: string,
    id: ArtifactId,
    manifest: Uint8Array,
    attributes: Uint8Array,
    now: number,
    ageMs = 0,
  ): ArtifactId {
    const touch = this.#touchFn;
    return addLocalChunked(this.#parts, channel, id, manifest, attributes, ageMs, now, touch);
  }

  /**
   * Artifacts found in the channel's chunk store at start: whole ones are held (and
   * advertised, under relay policy `relay`), partial ones resume downloading, without
   * fetching the chunks already held, as soon as peers advertise them.
   */
  resume(
    channel: string,
    stored: readonly { id: ArtifactId; manifest: Uint8Array; chunks: readonly number[] }[],
    now: number,
  ): number {
    return resumeStored(this.#parts, channel, stored, now, this.#touchFn);
  }

  /** What this node holds of a chunked artifact, if anything. */
  chunkedInfo(
    channel: string,
    id: ArtifactId,
  ): { info: ChunkedInfo; complete: boolean; chunksDone: number } | undefined {
    return this.#chunked.info(artifactKey(channel, id));
  }

  /** The driver wrote (ok) or failed to write chunk `index` of `id` to the chunk store. */
  onChunkWritten(channel: string, id: ArtifactId, index: number, ok: boolean, now: number): void {
    this.#touch(now);
    this.#chunked.written(channel, id, index, ok, now);
  }

  /**
   * Stops broadcasting `id`: frees its slot, tells every peer it is withdrawn, drops it from the
   * pool, and stops downloading it. Returns whether anything was there.
   */
  abort(channel: string, id: ArtifactId, now: number): boolean {
    const ch = this.#ctx.channel(channel);
    const withdrawn = this.#adverts.withdraw(ch, id);
    const key = artifactKey(channel, id);
    const record = ch.retention.remove(key);
    if (record) {
      this.#ctx.count('removed', { channel, reason: 'aborted' });
      this.#ctx.act({ type: 'removed', channel, id, reason: 'aborted' });
    }
    const chunked = this.#chunked.has(key) && this.#chunked.drop(key);
    const had = ch.pool.has(id) || chunked || record !== undefined;
    ch.pool.delete(id);
    const wanted = this.#whole.downloads.get(key) !== undefined || this.#validations.has(key);
    this.#whole.forget(key);
    // Dismissed: a validation in progress will not deliver it, and adverts will not fetch it.
    this.#ctx.dismiss(key);
    this.#touch(now);
    return withdrawn || had || wanted;
  }

  /** The artifact, if this node holds it. */
  get(channel: string, id: ArtifactId): Artifact | undefined {
    return this.#ctx.channel(channel).pool.get(id);
  }

  // -------------------------------------------------------------------------------------------
  // Purges and listings (holdings.ts)

  /**
   * Removes from `channel` every artifact held (whole or in part), advertised to us, or being
   * validated for which `predicate` is true; they are withdrawn from peers and will not be
   * fetched again (their ids are dismissed). Idempotent. Returns how many were held or wanted.
   */
  purge(channel: string, predicate: (a: HeldArtifactInfo) => boolean, now: number): number {
    const ch = this.#ctx.channel(channel);
    this.#ctx.now = now;
    let n = this.#holdings.purge(ch, predicate);
    n += this.#whole.purge(channel, predicate, now);
    this.#validations.purge(ch, predicate, now);
    this.#touch(now);
    return n;
  }

  /**
   * Sets the watermark of numeric attribute `field` (read by the channel's `numericAttribute`)
   * to `value` (a watermark only rises) and purges every artifact whose `field` is below it;
   * adverts of such artifacts are not fetched from now on. What a consensus layer does at each
   * finalized height. Returns how many were removed.
   */
  purgeBelow(channel: string, field: string, value: number, now: number): number {
    const ch = this.#ctx.channel(channel);
    if (!Number.isFinite(value))
      throw new ConfigError('purgeBelow', `value must be finite, got ${value}`);
    const h = Math.max(ch.watermarks.get(field) ?? Number.NEGATIVE_INFINITY, value);
    ch.watermarks.set(field, h);
    return this.purge(
      channel,
      (a) => {
        const v = ch.cfg.numericAttribute(a.attributes, field);
        return v !== undefined && v < h;
      },
      now,
    );
  }

  /**
   * The artifacts `channel` holds, whole or in part, in the order they were admitted: at most
   * `limit`, after the cursor `after` (the `next` of the previous page).
   */
  list(
    channel: string,
    opts: { after?: number; limit?: number } = {},
  ): { artifacts: HeldArtifactInfo[]; next: number | undefined } {
    return this.#holdings.list(this.#ctx.channel(channel), opts);
  }

  /** The channel's use of its bounds. */
  channelStats(channel: string): ChannelStats {
    const ch = this.#ctx.channel(channel);
    let wants = 0;
    for (const w of this.#whole.downloads.wants()) if (w.channel === channel) wants++;
    return this.#holdings.stats(ch, wants);
  }

  // -------------------------------------------------------------------------------------------
  // Peers and their messages

  /** A link to `peer` is up with connection id `connId`: (re)send every live slot. */
  peerUp(peer: NodeId, connId: ConnId, now: number): void {
    const up = this.#ctx.up;
    if (up.has(peer)) this.peerDown(peer, up.get(peer)!, now);
    up.set(peer, connId);
    this.#adverts.peerUp(peer);
    this.#chunked.peerUp();
    this.#touch(now);
  }

  /**
   * A message to `peer` (slot updates of `channel` covering `slots`) could not be sent: queue
   * those slots again, as they are now (a live slot's current update, or a withdrawal at the
   * latest commit, newer than anything the peer holds for it). The driver calls it after a
   * backoff when the transport's queue was full, so that no slot change is lost for good.
   */
  onSendFailed(peer: NodeId, channel: string, slots: readonly SlotNumber[], now: number): void {
    if (!this.#ctx.up.has(peer)) return;
    this.#adverts.sendFailed(peer, this.#ctx.channel(channel), slots);
    this.#touch(now);
  }

  /** The link `connId` to `peer` is down: forget what it advertised. */
  peerDown(peer: NodeId, connId: ConnId, now: number): void {
    if (this.#ctx.up.get(peer) !== connId) return;
    this.#ctx.up.delete(peer);
    this.#ctx.links.peerDown(peer);
    this.#adverts.peerDown(peer);
    this.#chunked.peerDown(peer);
    this.#touch(now);
  }

  /** A batch of slot updates arrived from `peer` on link `connId`, on `lane`. */
  onUpdates(peer: NodeId, connId: ConnId, lane: Lane, body: Uint8Array, now: number): void {
    this.#touch(now);
    this.#adverts.receive(peer, connId, lane, body);
  }

  /** The result of fetch `token` (a whole artifact's, a manifest's or a chunk's). */
  onFetched(token: number, result: FetchResult, now: number): void {
    this.#touch(now);
    this.#ctx.links.ended(token, result, now); // before its owner: the share, then the retry
    if (tokenOwner(token) === 'chunk') this.#chunked.onFetched(token, result, now);
    else this.#whole.fetched(token, result, now);
  }

  /** The application's verdict on the artifact of validation `token`. */
  onValidated(token: number, verdict: Validation, now: number): void {
    const v = this.#validations.end(token);
    if (!v) return;
    this.#touch(now);
    const ch = v.channel;
    this.#ctx.count('validations', { channel: ch.name, verdict });
    this.#ctx.timing('validation_duration', ch.name, now - v.startedAt);
    if (this.#ctx.dismissed(v.key)) return; // aborted meanwhile
    if (v.kind === 'chunked') this.#chunked.validated(v.key, verdict, v.pushedBy);
    else this.#whole.validated(v, verdict, now);
  }

  // -------------------------------------------------------------------------------------------
  // Serving

  /**
   * Answers a fetch request body that came on `lane` with a FetchResponse body. A large
   * artifact is not copied into it: the answer is then the field's header and the artifact's
   * own bytes, sent back to back.
   */
  serve(lane: Lane, body: Uint8Array): ResponseBody {
    const r = this.serveRequest(lane, body);
    return 'type' in r ? missingResponse() : r;
  }

  /**
   * As {@link serve}, but a chunk of a chunked artifact is answered with a {@link ChunkRead}:
   * the driver reads it from the chunk store and answers with it.
   */
  serveRequest(lane: Lane, body: Uint8Array): ResponseBody | ChunkRead {
    let req: FetchRequest;
    try {
      req = FetchRequest.decode(body);
    } catch {
      return missingResponse();
    }
    const ch = this.#ctx.byNumber.get(req.channel);
    if (ch && ch.cfg.lane !== lane) {
      this.#ctx.count('messages_dropped', { reason: 'wrong_lane' });
      return missingResponse();
    }
    const id = idFromBytes(req.id);
    if (!ch || !id) return missingResponse();
    const key = artifactKey(ch.name, id);
    const part = req.part ?? 0;
    if (this.#chunked.has(key)) return this.#chunked.serve(key, part)!;
    return this.#whole.serve(ch, id, part);
  }

  // -------------------------------------------------------------------------------------------
  // Priorities and time

  /** Asks the priority function again about every artifact not yet held (one channel or all). */
  reprioritize(channel: string | undefined, now: number): void {
    this.#whole.reprioritize(channel, now);
    this.#touch(now);
  }

  /** Time passed: periodic re-evaluation and retries that are due. */
  tick(now: number): void {
    this.#ctx.now = now;
    this.#holdings.expire(now);
    if (this.#nextReprioritize !== undefined && now >= this.#nextReprioritize) {
      this.#nextReprioritize = undefined;
      this.reprioritize(undefined, now);
    }
    this.#touch(now);
  }

  readonly #touchFn = (now: number) => this.#touch(now);

  #touch(now: number): void {
    this.#scheduleNeeded = true;
    this.#ctx.now = now;
    if (this.#nextReprioritize === undefined && this.#whole.downloads.size > 0) {
      this.#nextReprioritize = now + this.#ctx.limits.reprioritizeIntervalMs;
    }
  }

  /**
   * Starts the downloads that can start, flushes queued slot updates into messages, and
   * returns every action since the last call (in order).
   */
  takeActions(): CoreAction[] {
    const now = this.#ctx.now;
    this.#holdings.expire(now);
    // Wants that arrived in the last event (after its #touch) are re-evaluated too.
    if (this.#nextReprioritize === undefined && this.#whole.downloads.size > 0) {
      this.#nextReprioritize = now + this.#ctx.limits.reprioritizeIntervalMs;
    }
    if (this.#scheduleNeeded) {
      this.#scheduleNeeded = false;
      this.#startDownloads(now);
      this.#chunked.start(now);
    }
    this.#chunked.flushHaves(now);
    this.#adverts.releaseDue(now);
    this.#adverts.flush();
    const wake = this.#nextWake();
    if (wake !== undefined && wake !== this.#wakeAt) {
      this.#wakeAt = wake;
      this.#ctx.act({ type: 'wake', at: wake });
    } else if (wake === undefined) {
      this.#wakeAt = undefined;
    }
    return this.#ctx.takeActions();
  }

  #startDownloads(now: number): void {
    if (this.#validations.size >= this.#ctx.limits.maxPendingValidations) return;
    const isUp = (p: NodeId) => this.#ctx.up.has(p);
    // Chunked downloads take places, per channel (manifests being fetched and artifacts held
    // in part): a fair share per peer, and a stalled one yields its place (chunked-places.ts).
    // A preempted manifest fetch is cancelled and its want forgotten (no queue changes: it is
    // in flight), then wanted again below.
    const downloads = this.#whole.downloads;
    if (downloads.chunkedWants === 0 && this.#chunked.none) {
      // Nothing chunked anywhere: no place to weigh (the walk below is per event).
      this.#whole.start(now, () => true);
      return;
    }
    const cancel = (want: { key: string }) => this.#whole.forget(want.key);
    const places = this.#chunked.places(downloads.wants(), isUp, cancel, now);
    this.#whole.start(now, (want) => want.manifestSize === undefined || places.admit(want));
    this.#whole.wantAgain(places.evicted);
  }

  /** The soonest of the parts' wake times (run after every event: no arrays made). */
  #nextWake(): number | undefined {
    let at = earlier(this.#nextReprioritize, this.#whole.downloads.nextRetryAt);
    at = earlier(at, this.#adverts.wakeAt);
    for (const ch of this.#ctx.channels.values()) at = earlier(at, ch.retention.nextExpiry());
    for (const t of this.#chunked.wakeTimes()) at = earlier(at, t);
    return at;
  }

  /** Counts for gauges. */
  stats(): CoreStats {
    return coreStats(this.#parts);
  }
}
