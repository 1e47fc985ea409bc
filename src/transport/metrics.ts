import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LANE_NAMES, LANES, type Lane } from './lanes.ts';

/** The transport's metrics (`subnet_p2p_transport_*`), registered on the given registry. */
export class TransportMetrics {
  readonly linksUp: Gauge;
  readonly dials: Counter;
  readonly accepted: Counter;
  readonly established: Counter<'direction'>;
  readonly refused: Counter<'reason' | 'direction'>;
  readonly closed: Counter<'reason' | 'peer'>;
  readonly protocolErrors: Counter<'reason' | 'peer'>;
  readonly receivePaused: Counter;
  readonly requests: Counter<'outcome'>;
  /** `subnet_p2p_transport_event_loop_lag_seconds`: observed by the load governor's timer. */
  readonly loopLag: Histogram;
  /** Per-lane totals, reported when the registry collects. */
  readonly #sentBytes = new Float64Array(LANES.length);
  readonly #sentFrames = new Float64Array(LANES.length);
  readonly #receivedBytes = new Float64Array(LANES.length);
  readonly #receivedFrames = new Float64Array(LANES.length);

  constructor(
    registry: Registry,
    sample: {
      queuedBytes: (lane: Lane) => number;
      receiveBufferedBytes: () => number;
      creditsHeld: () => number;
    },
  ) {
    const registers = [registry];
    this.linksUp = new Gauge({
      name: 'subnet_p2p_transport_links_up',
      help: 'Links to peers that completed the hello exchange',
      registers,
    });
    this.dials = new Counter({
      name: 'subnet_p2p_transport_dials_total',
      help: 'Outbound connection attempts',
      registers,
    });
    this.accepted = new Counter({
      name: 'subnet_p2p_transport_accepted_total',
      help: 'Inbound TCP connections accepted for a TLS handshake',
      registers,
    });
    this.established = new Counter({
      name: 'subnet_p2p_transport_links_established_total',
      help: 'Links that completed the hello exchange, by direction',
      labelNames: ['direction'],
      registers,
    });
    this.refused = new Counter({
      name: 'subnet_p2p_transport_links_refused_total',
      help: 'Connections refused during or right after the TLS handshake, by reason',
      labelNames: ['reason', 'direction'],
      registers,
    });
    this.closed = new Counter({
      name: 'subnet_p2p_transport_links_closed_total',
      help: 'Links closed after verification, by reason and peer',
      labelNames: ['reason', 'peer'],
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'subnet_p2p_transport_protocol_errors_total',
      help: 'Peers that broke the wire protocol (the link was closed), by reason and peer',
      labelNames: ['reason', 'peer'],
      registers,
    });
    this.receivePaused = new Counter({
      name: 'subnet_p2p_transport_receive_paused_total',
      help: 'Times a link stopped reading because its receive buffer bound was reached',
      registers,
    });
    this.requests = new Counter({
      name: 'subnet_p2p_transport_requests_total',
      help: 'Outgoing requests by outcome',
      labelNames: ['outcome'],
      registers,
    });
    // Per frame: plain additions here, handed to prom-client when it collects (an `inc` per
    // frame cost about 1 % of a node's CPU at 64 KiB artifacts).
    const laneTally = (name: string, help: string, tally: Float64Array) => {
      const reported = new Float64Array(LANES.length);
      new Counter({
        name,
        help,
        labelNames: ['lane'],
        registers,
        collect() {
          for (const l of LANES) {
            this.labels(LANE_NAMES[l]).inc(tally[l]! - reported[l]!);
            reported[l] = tally[l]!;
          }
        },
      });
    };
    laneTally(
      'subnet_p2p_transport_sent_bytes_total',
      'Frame bytes (headers included) handed to TLS sockets, by lane',
      this.#sentBytes,
    );
    laneTally(
      'subnet_p2p_transport_sent_frames_total',
      'Frames handed to TLS sockets, by lane',
      this.#sentFrames,
    );
    laneTally(
      'subnet_p2p_transport_received_bytes_total',
      'Frame bytes (headers included) received, by lane',
      this.#receivedBytes,
    );
    laneTally(
      'subnet_p2p_transport_received_frames_total',
      'Frames received, by lane',
      this.#receivedFrames,
    );
    new Gauge({
      name: 'subnet_p2p_transport_send_queue_bytes',
      help: 'Bytes waiting in send queues, all links, by lane',
      labelNames: ['lane'],
      registers,
      collect() {
        for (const l of LANES) this.labels(LANE_NAMES[l]).set(sample.queuedBytes(l));
      },
    });
    new Gauge({
      name: 'subnet_p2p_transport_receive_buffered_bytes',
      help: 'Bytes held by receive sides (partial messages and messages being handled), all links',
      registers,
      collect() {
        this.set(sample.receiveBufferedBytes());
      },
    });
    this.loopLag = new Histogram({
      name: 'subnet_p2p_transport_event_loop_lag_seconds',
      help: 'How late the load governor found its 20 ms timer, seconds, at each tick (none while it is off)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    new Counter({
      name: 'subnet_p2p_transport_bulk_credits_held_total',
      help: 'Bulk credits held back because the event loop lagged (bulk yielding to other work)',
      registers,
      collect() {
        this.reset();
        this.inc(sample.creditsHeld());
      },
    });
  }

  frameSent(lane: Lane, bytes: number): void {
    this.#sentBytes[lane]! += bytes;
    this.#sentFrames[lane]! += 1;
  }

  frameReceived(lane: Lane, bytes: number): void {
    this.#receivedBytes[lane]! += bytes;
    this.#receivedFrames[lane]! += 1;
  }
}
