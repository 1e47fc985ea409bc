/**
 * The figures behind the status page's charts: every `sampleMs` the node's metrics are read and
 * turned into one {@link StatusSample} (rates over the last interval, gauges as they are). The
 * last `maxSamples` samples are kept, so the page shows the last minutes as soon as it opens.
 * @module
 */
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { LANE_NAMES, type LaneName } from '../transport/index.ts';

/** Traffic of one channel over one interval (per second) and its slots in use. */
export interface ChannelSample {
  /** Artifacts delivered to this node, per second. */
  delivered: number;
  /** Bytes of those artifacts, per second. */
  deliveredBytes: number;
  /** Bytes broadcast through the HTTP API, per second. */
  postedBytes: number;
  /** Slot updates sent to peers (adverts, inline artifacts, withdrawals), per second. */
  updatesSent: number;
  /** Slots in use (own and relayed artifacts). */
  slots: number;
  /** Artifacts held, whole or in part, at sampling time. */
  heldArtifacts: number;
  /** Bytes held (pool and chunk store) at sampling time. */
  heldBytes: number;
}

/** One sample of the status page. */
export interface StatusSample {
  /** When it was taken, ms since the epoch. */
  t: number;
  /** Frame bytes per second, by lane. */
  lanes: Record<LaneName, { sent: number; received: number }>;
  channels: Record<string, ChannelSample>;
  /** Queue depths at sampling time. */
  queues: {
    /** Bytes waiting in send queues, by lane, all links. */
    send: Record<LaneName, number>;
    /** Bytes held by receive sides, all links. */
    receiveBuffered: number;
    /** Advertised artifacts not held yet. */
    wants: number;
    downloading: number;
    validating: number;
  };
  /** Refusals per second over the interval. */
  refusals: {
    /** Connections refused at or right after the TLS handshake. */
    links: number;
    /** Adverts refused (malformed, oversized, over_limit). */
    adverts: number;
    /** Peers caught misbehaving. */
    peerFaults: number;
    /** Deliveries dropped from full received() buffers. */
    deliveriesDropped: number;
    /** API requests answered with an error (4xx, 5xx). */
    api: number;
  };
  /** Links up. */
  linksUp: number;
}

/** What {@link StatusHistory.toJSON} returns (`GET /v1/history`). */
export interface StatusHistoryJson {
  sampleMs: number;
  maxSamples: number;
  samples: StatusSample[];
}

type Values = Map<string, MetricValue<string>[]>;

function sum(values: Values, name: string, keep: (labels: Record<string, unknown>) => boolean) {
  let total = 0;
  for (const v of values.get(name) ?? []) if (keep(v.labels)) total += v.value;
  return total;
}

const ALL = () => true;
const REFUSED_ADVERTS = new Set(['malformed', 'oversized', 'over_limit']);

/** Cumulative counters and gauges read at one instant. */
interface Reading {
  t: number;
  counters: Record<string, number>;
  sample: Omit<StatusSample, 'lanes' | 'refusals'> & { channels: Record<string, ChannelSample> };
}

/** Keeps the last samples of a node's metrics for the status page. */
export class StatusHistory {
  readonly #metrics: Registry;
  readonly #channels: readonly string[];
  readonly #sampleMs: number;
  readonly #maxSamples: number;
  readonly #samples: StatusSample[] = [];
  #last: Reading | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> | undefined;

  constructor(
    metrics: Registry,
    channels: readonly string[],
    opts: { sampleMs: number; maxSamples: number },
  ) {
    this.#metrics = metrics;
    this.#channels = channels;
    this.#sampleMs = opts.sampleMs;
    this.#maxSamples = opts.maxSamples;
  }

  /** Takes a first reading now and samples every `sampleMs` until {@link stop}. */
  async start(): Promise<void> {
    await this.sample();
    this.#timer = setInterval(() => {
      this.#sampling ??= this.sample().finally(() => {
        this.#sampling = undefined;
      });
    }, this.#sampleMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Samples kept now. */
  get length(): number {
    return this.#samples.length;
  }

  toJSON(): StatusHistoryJson {
    return {
      sampleMs: this.#sampleMs,
      maxSamples: this.#maxSamples,
      samples: [...this.#samples],
    };
  }

  /** Reads the metrics; from the second reading on, appends a sample (dropping the oldest). */
  async sample(): Promise<void> {
    const reading = await this.#read();
    const last = this.#last;
    this.#last = reading;
    if (last === undefined) return;
    const seconds = Math.max((reading.t - last.t) / 1000, 1e-3);
    const rate = (key: string) =>
      Math.max(0, (reading.counters[key] ?? 0) - (last.counters[key] ?? 0)) / seconds;
    const lanes = {} as StatusSample['lanes'];
    for (const lane of LANE_NAMES) {
      lanes[lane] = { sent: rate(`sent:${lane}`), received: rate(`received:${lane}`) };
    }
    const channels: Record<string, ChannelSample> = {};
    for (const ch of this.#channels) {
      channels[ch] = {
        delivered: rate(`delivered:${ch}`),
        deliveredBytes: rate(`deliveredBytes:${ch}`),
        postedBytes: rate(`postedBytes:${ch}`),
        updatesSent: rate(`updatesSent:${ch}`),
        slots: reading.sample.channels[ch]?.slots ?? 0,
        heldArtifacts: reading.sample.channels[ch]?.heldArtifacts ?? 0,
        heldBytes: reading.sample.channels[ch]?.heldBytes ?? 0,
      };
    }
    this.#samples.push({
      ...reading.sample,
      lanes,
      channels,
      refusals: {
        links: rate('refused:links'),
        adverts: rate('refused:adverts'),
        peerFaults: rate('refused:peerFaults'),
        deliveriesDropped: rate('refused:deliveriesDropped'),
        api: rate('refused:api'),
      },
    });
    while (this.#samples.length > this.#maxSamples) this.#samples.shift();
  }

  async #read(): Promise<Reading> {
    const json = (await this.#metrics.getMetricsAsJSON()) as MetricObjectWithValues<
      MetricValue<string>
    >[];
    const values: Values = new Map(json.map((m) => [m.name, m.values]));
    const t = Date.now();
    const counters: Record<string, number> = {};
    for (const lane of LANE_NAMES) {
      const ofLane = (l: Record<string, unknown>) => l.lane === lane;
      counters[`sent:${lane}`] = sum(values, 'subnet_p2p_transport_sent_bytes_total', ofLane);
      counters[`received:${lane}`] = sum(
        values,
        'subnet_p2p_transport_received_bytes_total',
        ofLane,
      );
    }
    const channels: Record<string, ChannelSample> = {};
    for (const ch of this.#channels) {
      const of = (l: Record<string, unknown>) => l.channel === ch;
      counters[`delivered:${ch}`] = sum(values, 'subnet_p2p_broadcast_delivered_total', of);
      counters[`deliveredBytes:${ch}`] = sum(values, 'subnet_p2p_daemon_delivered_bytes_total', of);
      counters[`postedBytes:${ch}`] = sum(values, 'subnet_p2p_daemon_posted_bytes_total', of);
      counters[`updatesSent:${ch}`] = sum(values, 'subnet_p2p_broadcast_updates_sent_total', of);
      channels[ch] = {
        delivered: 0,
        deliveredBytes: 0,
        postedBytes: 0,
        updatesSent: 0,
        slots: sum(values, 'subnet_p2p_broadcast_slots', of),
        heldArtifacts: sum(values, 'subnet_p2p_broadcast_held_artifacts', of),
        heldBytes: sum(values, 'subnet_p2p_broadcast_held_bytes', of),
      };
    }
    counters['refused:links'] = sum(values, 'subnet_p2p_transport_links_refused_total', ALL);
    counters['refused:adverts'] = sum(values, 'subnet_p2p_broadcast_adverts_total', (l) =>
      REFUSED_ADVERTS.has(String(l.outcome)),
    );
    counters['refused:peerFaults'] = sum(values, 'subnet_p2p_broadcast_peer_faults_total', ALL);
    counters['refused:deliveriesDropped'] = sum(
      values,
      'subnet_p2p_broadcast_deliveries_dropped_total',
      ALL,
    );
    counters['refused:api'] = sum(
      values,
      'subnet_p2p_daemon_http_requests_total',
      (l) => Number(l.status) >= 400,
    );
    const send = {} as Record<LaneName, number>;
    for (const lane of LANE_NAMES) {
      send[lane] = sum(values, 'subnet_p2p_transport_send_queue_bytes', (l) => l.lane === lane);
    }
    return {
      t,
      counters,
      sample: {
        t,
        channels,
        queues: {
          send,
          receiveBuffered: sum(values, 'subnet_p2p_transport_receive_buffered_bytes', ALL),
          wants: sum(values, 'subnet_p2p_broadcast_wants', ALL),
          downloading: sum(values, 'subnet_p2p_broadcast_downloading', ALL),
          validating: sum(values, 'subnet_p2p_broadcast_validating', ALL),
        },
        linksUp: sum(values, 'subnet_p2p_transport_links_up', ALL),
      },
    };
  }
}
