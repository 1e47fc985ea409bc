/**
 * The broadcast layer's prom-client metrics: what the node's driver observer counts (core
 * decisions, timings, fetch failures, full send queues, dropped deliveries).
 * @module
 */
import { Counter, Gauge, Histogram, type Registry as MetricsRegistry } from 'prom-client';
import type { NodeId } from '../identity/index.ts';
import type { LimitLog } from '../limit-log.ts';
import type { BroadcastCore, HeldUse } from './core/core.ts';
import {
  COUNTER_LABELS,
  COUNTER_NAMES,
  type CounterName,
  TIMING_NAMES,
  type TimingName,
} from './core/observer.ts';
import type { DriverObserver } from './environment.ts';

/** A counter with its label values bound (what `Counter.labels(...)` returns). */
type CounterChild = ReturnType<Counter<string>['labels']>;

/** The most counter children {@link BroadcastMetrics} keeps at hand (see its #tally). */
const MAX_CACHED_CHILDREN = 10_000;

/** A counter child and what was counted on it since prom-client last collected. */
interface Tally {
  readonly child: CounterChild;
  n: number;
}

const COUNTER_HELP: Record<CounterName, string> = {
  adverts:
    'Slot updates received that name an artifact, by outcome (accepted, duplicate, stale, later, dropped, malformed, oversized, over_limit)',
  downloads: 'Artifact downloads by outcome (started, succeeded, retried, faulty, cancelled)',
  peer_faults:
    'Peers caught misbehaving (bad_hash, oversized, missing_body, bad_manifest; chunk_missing, chunk_timeout: a chunk the peer claims answered missing, or not in time) or whose artifacts the validation hook rejected',
  validations: 'Verdicts of the validation hook',
  delivered: 'Artifacts accepted and handed to the application',
  relayed: 'Accepted artifacts advertised on to peers',
  relay_skipped:
    'Accepted artifacts not relayed because no slot was free (retention keeps a slot for every artifact held: a bug to report)',
  relay_suppressed:
    'Delayed relayed adverts of pushed artifacts not sent: the peer advertised the artifact or sent a receipt of it meanwhile',
  receipts:
    'Receipts of artifacts pushed inline by their origin (6 bytes each: the holder needs no relayed advert of them), by kind (sent, received)',
  duplicate_downloads: 'Downloads of an artifact that was already held when they finished',
  updates_sent: 'Slot updates queued to peers, by kind (advert, inline, withdrawn)',
  messages_dropped: 'Slot-update messages ignored as a whole, by reason',
  pool_full: 'Accepted artifacts that did not fit in the pool',
  chunks:
    'Chunks of chunked artifacts, by outcome (fetched, retried, faulty, written, write_failed), and chunked downloads that lost their place to a waiting one (evicted: dormant, nobody offers it; stalled: no verified chunk for chunkStallMs, or only faulty sources; preempted: its one advertiser held more than half the places of the channel)',
  removed:
    'Held artifacts that left their channel, by reason (expired, purged, evicted, aborted, rejected)',
  evicted:
    'Artifacts evicted to make room, by the owner charged (the peer over its share or holding the most, or self)',
  wants_removed: 'Advertised artifacts no longer wanted, by reason (expired, purged)',
};

const TIMING_HELP: Record<TimingName, string> = {
  delivery_latency:
    'From the origin broadcast to the delivery here, seconds: receipt time minus the age the last relayer sent (its last hop left out), by channel',
  download_duration:
    'From the first fetch request for an artifact (the manifest of a chunked one) to all of it here and verified, seconds, by channel',
  validation_duration:
    'From handing an artifact to the validation hook to its verdict, seconds, by channel',
};

/** Histogram buckets of each timing, seconds. */
const TIMING_BUCKETS: Record<TimingName, number[]> = {
  delivery_latency: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  download_duration: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  validation_duration: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
};

/** Core counters that mean a limit was reached: the limit's name in the `limit reached` log. */
function limitOf(name: CounterName, labels: Record<string, string>): string | undefined {
  switch (name) {
    case 'pool_full':
      return 'pool';
    case 'relay_skipped':
      return 'slots';
    case 'evicted':
      return 'channel_full';
    case 'adverts':
      return labels.outcome === 'over_limit' ? 'peer_slots' : undefined;
    default:
      return undefined;
  }
}

type HistogramChild = ReturnType<Histogram<'channel'>['labels']>;

/**
 * The broadcast layer's prom-client metrics (`subnet_p2p_broadcast_*`): one counter per core
 * decision (see {@link COUNTER_NAMES}), one histogram per core timing (see
 * {@link TIMING_NAMES}; per channel, each channel's series bound once), gauges sampled from
 * `core.stats()` at scrape time, and the deliveries dropped by full `received()` buffers. With
 * a {@link LimitLog}, the counters that mean a limit was reached (pool full, slots full,
 * eviction from a full channel, a peer's slot past `maxSlots`) are logged there too.
 */
export class BroadcastMetrics implements DriverObserver {
  readonly #counters: Record<CounterName, Counter<string>>;
  readonly #dropped: Counter<'channel'>;
  readonly #fetchFailures: Counter<'peer' | 'reason'>;
  /** Per timing, per channel: the bound histogram series. */
  readonly #timings: Record<TimingName, Map<string, HistogramChild>>;
  readonly #limits: LimitLog | undefined;
  /** Per counter: its children at hand, by label values, each with its uncollected count. */
  readonly #tallies = new Map<CounterName, Map<string, Tally>>();
  #talliesSize = 0;

  constructor(
    registry: MetricsRegistry,
    stats: () => ReturnType<BroadcastCore['stats']>,
    opts: { channels?: Iterable<string>; limits?: LimitLog } = {},
  ) {
    const registers = [registry];
    this.#limits = opts.limits;
    const channels = [...(opts.channels ?? [])];
    const timings = {} as Record<TimingName, Map<string, HistogramChild>>;
    for (const name of TIMING_NAMES) {
      const histogram = new Histogram({
        name: `subnet_p2p_broadcast_${name}_seconds`,
        help: TIMING_HELP[name],
        labelNames: ['channel'],
        buckets: TIMING_BUCKETS[name],
        registers,
      });
      const byChannel = new Map<string, HistogramChild>();
      for (const channel of channels) {
        histogram.zero({ channel });
        byChannel.set(channel, histogram.labels(channel));
      }
      timings[name] = byChannel;
    }
    this.#timings = timings;
    const counters = {} as Record<CounterName, Counter<string>>;
    const flush = (name: CounterName) => this.#flush(name);
    for (const name of COUNTER_NAMES) {
      this.#tallies.set(name, new Map());
      counters[name] = new Counter({
        name: `subnet_p2p_broadcast_${name}_total`,
        help: COUNTER_HELP[name],
        labelNames: [...COUNTER_LABELS[name]],
        registers,
        collect() {
          flush(name);
        },
      });
    }
    this.#counters = counters;
    this.#dropped = new Counter({
      name: 'subnet_p2p_broadcast_deliveries_dropped_total',
      help: 'Delivered artifacts dropped from a full received() buffer (the oldest goes), by channel',
      labelNames: ['channel'],
      registers,
    });
    this.#fetchFailures = new Counter({
      name: 'subnet_p2p_broadcast_fetch_failures_total',
      help: 'Fetches a peer did not answer in time (timeout) or answered with an error (error), by peer',
      labelNames: ['peer', 'reason'],
      registers,
    });
    const gauge = (name: string, help: string, pick: (s: ReturnType<typeof stats>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(pick(stats()));
        },
      });
    gauge('subnet_p2p_broadcast_wants', 'Advertised artifacts not held yet', (s) => s.wants);
    gauge('subnet_p2p_broadcast_downloading', 'Downloads in flight', (s) => s.downloading);
    gauge('subnet_p2p_broadcast_validating', 'Artifacts in validation', (s) => s.validating);
    gauge('subnet_p2p_broadcast_peers_up', 'Peers the broadcast layer sees up', (s) => s.peersUp);
    const heldGauge = (name: string, help: string, pick: (h: HeldUse) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['channel'],
        registers,
        collect() {
          for (const [channel, h] of Object.entries(stats().held))
            this.labels(channel).set(pick(h));
        },
      });
    heldGauge(
      'subnet_p2p_broadcast_held_artifacts',
      'Artifacts a channel holds, whole or in part (own and received), by channel',
      (h) => h.artifacts,
    );
    heldGauge(
      'subnet_p2p_broadcast_held_artifacts_limit',
      'The most artifacts a channel holds (maxSlots), by channel',
      (h) => h.maxArtifacts,
    );
    heldGauge(
      'subnet_p2p_broadcast_held_bytes',
      'Bytes of the artifacts a channel holds (pool and chunk store), by channel',
      (h) => h.bytes,
    );
    heldGauge(
      'subnet_p2p_broadcast_held_bytes_limit',
      'The most bytes a channel holds (maxBytes), by channel',
      (h) => h.maxBytes,
    );
    new Gauge({
      name: 'subnet_p2p_broadcast_slots',
      help: 'Slots in use by our own and relayed artifacts, by channel',
      labelNames: ['channel'],
      registers,
      collect() {
        for (const [channel, n] of Object.entries(stats().slots)) this.labels(channel).set(n);
      },
    });
  }

  /** {@inheritDoc CoreObserver.count} */
  count(name: CounterName, labels: Record<string, string>, n = 1): void {
    this.#tally(name, labels).n += n;
    if (this.#limits === undefined) return;
    const limit = limitOf(name, labels);
    if (limit !== undefined) this.#limits.reached(limit, labels.channel ?? '', labels);
  }

  /**
   * The tally of the counter's child for `labels`. Counting adds to it; the counter's
   * `collect` hands it to prom-client, which checks and hashes the labels on every `inc`: the
   * core counts several times per artifact. Label values come from bounded sets (channels,
   * outcomes, registry members); past {@link MAX_CACHED_CHILDREN} tallies, all are handed over
   * and dropped.
   */
  #tally(name: CounterName, labels: Record<string, string>): Tally {
    const tallies = this.#tallies.get(name)!;
    let key = '';
    for (const label of COUNTER_LABELS[name]) key += `${labels[label] ?? ''}\u001f`;
    let tally = tallies.get(key);
    if (tally === undefined) {
      if (this.#talliesSize >= MAX_CACHED_CHILDREN) {
        for (const [n, t] of this.#tallies) {
          this.#flush(n);
          t.clear();
        }
        this.#talliesSize = 0;
      }
      tally = { child: this.#counters[name].labels(labels), n: 0 };
      tallies.set(key, tally);
      this.#talliesSize++;
    }
    return tally;
  }

  /** Hands counter `name`'s uncollected counts to prom-client. */
  #flush(name: CounterName): void {
    for (const t of this.#tallies.get(name)!.values()) {
      if (t.n === 0) continue;
      t.child.inc(t.n);
      t.n = 0;
    }
  }

  /** {@inheritDoc CoreObserver.timing} */
  timing(name: TimingName, channel: string, ms: number): void {
    this.#timings[name].get(channel)?.observe(ms / 1000);
  }

  /** A fetch from `peer` timed out or failed (counted against that peer). */
  fetchFailed(peer: NodeId, reason: 'timeout' | 'error'): void {
    this.#fetchFailures.inc({ peer, reason });
  }

  /** One delivery dropped from a full received() buffer of `channel`. */
  deliveryDropped(channel: string): void {
    this.#dropped.inc({ channel });
    this.#limits?.reached('received_buffer', channel, { channel });
  }

  /** A slot-update message to `peer` did not fit in its send queue (ERR_QUEUE_FULL). */
  sendQueueFull(peer: NodeId, lane: string): void {
    this.#limits?.reached('send_queue', lane, { lane, peer });
  }
}
