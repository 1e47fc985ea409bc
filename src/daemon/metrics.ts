/**
 * The daemon's own metrics (`subnet_p2p_daemon_*`), on the node's prom-client registry.
 * @module
 */
import { createRequire } from 'node:module';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type Metric,
  Registry,
} from 'prom-client';

/** The package's version, from its package.json (as `--version` prints it). */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string })
  .version;

/** The process-wide metrics, made once per process (see {@link registerProcessMetrics}). */
let processMetrics: Registry | undefined;

/**
 * The process-wide metrics of a daemon, on its registry: prom-client's default metrics with
 * the project's prefix (`subnet_p2p_process_*`, `subnet_p2p_nodejs_*`: CPU, memory, heap,
 * GC, event-loop lag, file descriptors, handles) and `subnet_p2p_build_info{version,
 * node_version}` = 1. The daemon runs one node per process, so these describe that node; the
 * library's nodes do not register them (many nodes may share a process: an application calls
 * `collectDefaultMetrics` itself, once). They are made once per process (their event-loop
 * monitor and GC observer live as long as it) and registered on every daemon's registry, as a
 * test process starts many daemons.
 */
export function registerProcessMetrics(registry: Registry): void {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'subnet_p2p_' });
    new Gauge({
      name: 'subnet_p2p_build_info',
      help: 'Always 1; the labels say what runs: the package version and the Node.js version',
      labelNames: ['version', 'node_version'],
      registers: [processMetrics],
    }).set({ version: VERSION, node_version: process.versions.node }, 1);
  }
  // getMetricsAsArray returns the metric objects themselves (typed as their plain shape).
  for (const metric of processMetrics.getMetricsAsArray()) {
    registry.registerMetric(metric as unknown as Metric);
  }
}

/**
 * `subnet_p2p_daemon_ready`: 1 when the node is ready (as `GET /readyz` says), else 0; read at
 * scrape time from `ready`.
 */
export function registerReadyGauge(registry: Registry, ready: () => boolean): void {
  new Gauge({
    name: 'subnet_p2p_daemon_ready',
    help: 'Whether the node is ready, as GET /readyz says: 1 ready, 0 not (the reasons are in /readyz)',
    registers: [registry],
    collect() {
      this.set(ready() ? 1 : 0);
    },
  });
}

/** The daemon's own metrics, and (see {@link registerProcessMetrics}) the process's. */
export class DaemonMetrics {
  /** `subnet_p2p_daemon_http_requests_total{route,status}`. */
  readonly requests: Counter<'route' | 'status'>;
  /** `subnet_p2p_daemon_http_request_duration_seconds{route}`: request to answer sent. */
  readonly requestSeconds: Histogram<'route'>;
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
    this.requestSeconds = new Histogram({
      name: 'subnet_p2p_daemon_http_request_duration_seconds',
      help: 'Time from a request to the local HTTP API to its answer sent, by route, seconds',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
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
    registerProcessMetrics(registry);
  }
}
