import type { DownloadLimits } from './types.ts';

/** What this node knows of the link to the peer a fetch goes to (see core/link-rates.ts). */
export interface LinkShare {
  /** Bytes of the fetches already in flight to that peer (all artifacts and channels). */
  aheadBytes: number;
  /**
   * The share of its link that peer gave us lately, bytes per second: bytes of its answers
   * that arrived while our fetches waited, over how long they waited. Undefined: not measured.
   */
  bytesPerSec: number | undefined;
}

/**
 * The measured share is divided by this before use: a margin for its swings (more requesters
 * on the peer's link, a burst of other traffic), as a retransmission timer allows for the
 * variance of round trips. A fetch then times out only past twice its expected time.
 */
export const SHARE_MARGIN = 2;

/** A peer nothing is in flight to and nothing was measured of. */
const UNKNOWN_LINK: LinkShare = Object.freeze({ aheadBytes: 0, bytesPerSec: undefined });

/** The limits the deadline rule reads. */
export type FetchDeadlineLimits = Pick<
  DownloadLimits,
  'downloadTimeoutMs' | 'minThroughputBytesPerSec' | 'maxFetchDeadlineMs'
>;

/**
 * The deadline of one fetch attempt of `bytes` bytes (a whole artifact, a manifest or one
 * chunk) from a peer, ms, rounded up. The one place this rule lives: whole-artifact downloads
 * (core/downloads.ts) and chunk fetches (core/chunk-fetches.ts) both call it, through the
 * core's per-peer measure (core/link-rates.ts). Pure.
 *
 * The peer's answers share one link with every other fetch in flight to it (and with its other
 * requesters), so the fetch waits for the bytes ahead of it too. Its deadline is the base
 * `downloadTimeoutMs` plus the time its bytes and those ahead take at the link's rate: half the
 * measured share ({@link SHARE_MARGIN}), or `minThroughputBytesPerSec` if that is slower or
 * nothing was measured (the floor of a link, no longer of each fetch). That deadline, base
 * included, is at most `maxFetchDeadlineMs`: a peer that delivers just slowly enough to lower its
 * measure cannot hold a fetch longer. Never less than the deadline of the fetch alone at the floor (base + bytes /
 * floor), the rule before links were measured; so `maxFetchDeadlineMs` below that gives exactly
 * that rule.
 *
 * @example
 * // 1 MiB with 3 MiB ahead, from a peer measured at 500 kB/s: 5 s + 4 MiB / 250 kB/s = 21.8 s
 * fetchDeadlineMs(1 << 20, DEFAULT_DOWNLOAD_LIMITS, { aheadBytes: 3 << 20, bytesPerSec: 500e3 });
 */
export function fetchDeadlineMs(
  bytes: number,
  limits: FetchDeadlineLimits,
  link: LinkShare = UNKNOWN_LINK,
): number {
  const alone = limits.downloadTimeoutMs + (bytes / limits.minThroughputBytesPerSec) * 1000;
  const shared = sharedDeadlineMs(bytes, limits, link);
  return Math.ceil(Math.max(alone, Math.min(limits.maxFetchDeadlineMs, shared)));
}

/**
 * Whether the link is expected to deliver a fetch of `bytes` behind the bytes in flight
 * within `maxFetchDeadlineMs` (its deadline is not cut by that bound). Chunk fetches go to a
 * busy peer only if so: a fetch that would time out at the bound is asked of another holder, or
 * later. Pure.
 */
export function fetchFits(bytes: number, limits: FetchDeadlineLimits, link: LinkShare): boolean {
  return sharedDeadlineMs(bytes, limits, link) <= limits.maxFetchDeadlineMs;
}

/** The base, plus the bytes and those ahead at the link's rate (the slower of measure and floor). */
function sharedDeadlineMs(bytes: number, limits: FetchDeadlineLimits, link: LinkShare): number {
  const { downloadTimeoutMs: base, minThroughputBytesPerSec: floor } = limits;
  const measured = link.bytesPerSec;
  const rate =
    measured === undefined ? floor : Math.min(floor, Math.max(0, measured / SHARE_MARGIN));
  return rate > 0 ? base + ((link.aheadBytes + bytes) / rate) * 1000 : Number.POSITIVE_INFINITY;
}
