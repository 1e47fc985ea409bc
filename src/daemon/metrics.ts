/**
 * The daemon's own metrics (`subnet_p2p_daemon_*`), on the node's prom-client registry.
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class DaemonMetrics {
  /** `subnet_p2p_daemon_http_requests_total{route,status}`. */
  readonly requests: Counter<'route' | 'status'>;
  /** `subnet_p2p_daemon_delivered_bytes_total{channel}`. */
  readonly deliveredBytes: Counter<'channel'>;
  /** `subnet_p2p_daemon_posted_bytes_total{channel}`. */
  readonly postedBytes: Counter<'channel'>;
  /** `subnet_p2p_daemon_event_streams{channel}`. */
  readonly streams: Gauge<'channel'>;
  /** `subnet_p2p_daemon_event_streams_closed_total{reason}`. */
  readonly streamsClosed: Counter<'reason'>;
  /** `subnet_p2p_daemon_durable_writes_total{channel,outcome}`: `ok`, `failed`. */
  readonly durableWrites: Counter<'channel' | 'outcome'>;
  /**
   * `subnet_p2p_daemon_durable_restored_total{channel,outcome}`: records found at start,
   * `restored`, `expired`, `corrupt`, `refused` (the channel refused it), `missing`.
   */
  readonly durableRestored: Counter<'channel' | 'outcome'>;
  /** `subnet_p2p_daemon_durable_fsync_seconds`: one fsync of a file or folder. */
  readonly durableFsyncSeconds: Histogram;

  constructor(registry: Registry, channels: readonly string[]) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'subnet_p2p_daemon_http_requests_total',
      help: 'Requests to the local HTTP API, by route and status code',
      labelNames: ['route', 'status'],
      registers,
    });
    this.deliveredBytes = new Counter({
      name: 'subnet_p2p_daemon_delivered_bytes_total',
      help: 'Bytes of the artifacts delivered to this node (received from peers), by channel',
      labelNames: ['channel'],
      registers,
    });
    this.postedBytes = new Counter({
      name: 'subnet_p2p_daemon_posted_bytes_total',
      help: 'Bytes of the artifacts broadcast through the HTTP API, by channel',
      labelNames: ['channel'],
      registers,
    });
    this.streams = new Gauge({
      name: 'subnet_p2p_daemon_event_streams',
      help: 'Open server-sent event streams, by channel',
      labelNames: ['channel'],
      registers,
    });
    this.streamsClosed = new Counter({
      name: 'subnet_p2p_daemon_event_streams_closed_total',
      help: 'Event streams closed by the daemon, by reason (slow_client, shutdown)',
      labelNames: ['reason'],
      registers,
    });
    this.durableWrites = new Counter({
      name: 'subnet_p2p_daemon_durable_writes_total',
      help: 'Accepted artifacts stored durably before the 201, by channel and outcome (ok, failed)',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.durableRestored = new Counter({
      name: 'subnet_p2p_daemon_durable_restored_total',
      help: 'Durable records found at start, by channel and outcome (restored, expired, corrupt, refused, missing)',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.durableFsyncSeconds = new Histogram({
      name: 'subnet_p2p_daemon_durable_fsync_seconds',
      help: 'Latency of one fsync of a durable record or its folder, seconds',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    for (const channel of channels) {
      this.deliveredBytes.inc({ channel }, 0);
      this.postedBytes.inc({ channel }, 0);
      this.streams.set({ channel }, 0);
    }
  }
}
