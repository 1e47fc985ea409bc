/**
 * Every decision the core makes is counted through this interface, so the driver can export
 * prom-client metrics and the simulator can keep plain counters. Names and labels:
 *
 * - `adverts` {channel, outcome, peer}: accepted | duplicate | stale | over_limit | oversized |
 *   malformed | dropped | later
 * - `downloads` {channel, outcome}: started | succeeded | retried | faulty | cancelled
 * - `peer_faults` {channel, peer, reason}: bad_hash | oversized | rejected | missing_body |
 *   bad_manifest | chunk_missing (a chunk the peer claims, answered `missing`) | chunk_timeout
 *   (a chunk the peer claims, not answered in time)
 * - `validations` {channel, verdict}: accept | reject | ignore
 * - `delivered` {channel}; `relayed` {channel}; `duplicate_downloads` {channel}
 * - `relay_skipped` {channel}: an accepted artifact not relayed because all slots are in use
 * - `relay_suppressed` {channel}: a delayed relayed advert not sent: the peer advertised the
 *   artifact to us or sent a receipt of it meanwhile (or it was withdrawn)
 * - `receipts` {channel, kind}: sent | received (see receipts.ts)
 * - `updates_sent` {channel, kind}: advert | inline | withdrawn
 * - `messages_dropped` {reason, peer}: stale_connection | malformed | unknown_channel | wrong_lane
 * - `pool_full` {channel}
 * - `chunks` {channel, outcome}: fetched | retried | faulty | written | write_failed | evicted
 *   | stalled | preempted: chunked downloads that lost their place to a waiting one: evicted,
 *   dormant (nobody offers it); stalled, no verified chunk for `chunkStallMs` or only faulty
 *   sources; preempted, its one advertiser held more than its share of the channel's places
 * - `removed` {channel, reason}: held artifacts that left the channel: expired | purged |
 *   evicted | aborted | rejected (a chunked artifact held until its validation refused it)
 * - `evicted` {channel, peer}: artifacts evicted to make room, by the owner that was over its
 *   share or held the most (a NodeId, or `self`)
 * - `wants_removed` {channel, reason}: advertised artifacts no longer wanted: expired | purged
 */
export interface CoreObserver {
  count(name: CounterName, labels: Record<string, string>, n?: number): void;
  /**
   * A duration the core measured in `channel`, ms, by its clock (see {@link TIMING_NAMES});
   * optional: the simulator keeps none.
   */
  timing?(name: TimingName, channel: string, ms: number): void;
}

/**
 * The durations the core measures, per channel (the driver exports each as a histogram
 * `subnet_p2p_broadcast_<name>_seconds{channel}`):
 *
 * - `delivery_latency`: from the origin's broadcast to the delivery here. The origin's time is
 *   the receipt time minus the age the last relayer put in its slot update (`age_ms`): the last
 *   hop's transit is left out, and no clocks are compared.
 * - `download_duration`: from the first fetch request for an artifact to the moment it is all
 *   here and verified, retries and other advertisers included; for a chunked artifact, from
 *   the first request for its manifest to the last chunk written.
 * - `validation_duration`: from handing the artifact to the validation hook to its verdict.
 */
export const TIMING_NAMES = [
  'delivery_latency',
  'download_duration',
  'validation_duration',
] as const;

export type TimingName = (typeof TIMING_NAMES)[number];

export const COUNTER_NAMES = [
  'adverts',
  'downloads',
  'peer_faults',
  'validations',
  'delivered',
  'relayed',
  'relay_skipped',
  'relay_suppressed',
  'receipts',
  'duplicate_downloads',
  'updates_sent',
  'messages_dropped',
  'pool_full',
  'chunks',
  'removed',
  'evicted',
  'wants_removed',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

/** Label names of each counter. */
export const COUNTER_LABELS: Record<CounterName, readonly string[]> = {
  adverts: ['channel', 'outcome', 'peer'],
  downloads: ['channel', 'outcome'],
  peer_faults: ['channel', 'peer', 'reason'],
  validations: ['channel', 'verdict'],
  delivered: ['channel'],
  relayed: ['channel'],
  relay_skipped: ['channel'],
  relay_suppressed: ['channel'],
  receipts: ['channel', 'kind'],
  duplicate_downloads: ['channel'],
  updates_sent: ['channel', 'kind'],
  messages_dropped: ['reason', 'peer'],
  pool_full: ['channel'],
  chunks: ['channel', 'outcome'],
  removed: ['channel', 'reason'],
  evicted: ['channel', 'peer'],
  wants_removed: ['channel', 'reason'],
};

/** An observer that keeps counts in a Map (tests, the simulator). */
export class CountingObserver implements CoreObserver {
  readonly counts = new Map<string, number>();

  count(name: CounterName, labels: Record<string, string>, n = 1): void {
    const key = `${name}${JSON.stringify(labels)}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** Sum of `name` over the series whose labels include `labels`. */
  get(name: CounterName, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const [key, v] of this.counts) {
      if (!key.startsWith(`${name}{`)) continue;
      const l = JSON.parse(key.slice(name.length)) as Record<string, string>;
      if (Object.entries(labels).every(([k, want]) => l[k] === want)) sum += v;
    }
    return sum;
  }
}
