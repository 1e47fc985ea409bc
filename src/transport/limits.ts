import { ConfigError } from '../errors.ts';

/**
 * Every bound of the transport, in one place. Each has a default; each is enforced and tested.
 * Memory held for one peer's receive side is at most `maxReceiveBufferBytes` plus one socket
 * read; its send side at most the sum of `maxQueuedBytes` plus `maxSocketBufferedBytes`.
 */
export interface TransportLimits {
  /** Largest frame payload, bytes. Messages above it are split. Default 64 KiB. */
  maxFrameBytes: number;
  /** Largest message (reassembled), bytes, on the high and bulk lanes. Default 8 MiB. */
  maxMessageBytes: number;
  /** Largest message on the control lane (one frame). Default 64 KiB. */
  maxControlMessageBytes: number;
  /**
   * Bytes held on the receive side per peer: partly reassembled messages plus delivered
   * messages whose handler has not finished. At the bound the socket is paused. It must be at
   * least 2 x maxMessageBytes + maxControlMessageBytes, so a pause can always be undone.
   * Default 24 MiB.
   */
  maxReceiveBufferBytes: number;
  /** Bytes queued to send per lane and link; a send beyond it fails with ERR_QUEUE_FULL. */
  maxQueuedBytes: { control: number; high: number; bulk: number };
  /**
   * Bytes handed to the socket but not yet flushed, per link. Small, so that a high-lane
   * frame never waits behind much bulk data in Node's buffers. Default 128 KiB.
   */
  maxSocketBufferedBytes: number;
  /** Minimum share of the link's bytes the bulk lane gets while backlogged. Default 0.1. */
  bulkMinShare: number;
  /**
   * Flow-control window of the bulk lane: the bulk bytes a peer may have in flight to us
   * (announced in our Hello; we credit them back as we read). It bounds how much bulk data
   * can sit in kernel buffers ahead of a high-lane frame. Default 2 MiB.
   */
  bulkWindowBytes: number;
  /**
   * Bulk bytes all peers together may have in flight to us: each link's window is this
   * budget shared among our neighbours, between `minBulkWindowBytes` and `bulkWindowBytes`.
   * With many peers a smaller window per link keeps high-lane frames from waiting behind
   * much bulk data on any one link. Default 8 MiB.
   */
  bulkReceiveBudgetBytes: number;
  /**
   * The smallest bulk window: a link's share of the budget, and the floor of the sender's
   * delay-controlled window. Default 64 KiB, and at least {@link MIN_BULK_WINDOW_FLOOR} (two
   * credit batches): a receiver credits every {@link CREDIT_BATCH_BYTES} at most, so a sender
   * whose window shrank below that would wait for a credit that never comes.
   */
  minBulkWindowBytes: number;
  /**
   * The sender keeps its bulk window small enough that bulk bytes come back credited within
   * this delay, so high-lane frames never queue long behind bulk data, whatever the receiver's
   * speed. Default 20 ms.
   */
  bulkTargetDelayMs: number;
  /**
   * Share of the last 200 ms (0..1) this node's event loop spent running late, at or above
   * which it rate-limits the bulk credits it owes its peers, so bulk traffic yields the loop to
   * everything else (see load-governor.ts). 0 turns it off. Default 0.25.
   */
  bulkYieldLoopShare: number;
  /**
   * The governor limits bulk intake only while there is crucial traffic to yield to: a
   * high-lane frame sent or received within this many ms. A node that only moves bulk data
   * (a large artifact, a snapshot) keeps its full speed however busy its loop is. 0 makes it
   * yield whenever the loop lags, high-lane traffic or not (to protect the application's own
   * work). Default 2000 ms.
   */
  bulkYieldHighLaneMs: number;
  /** Longest a bulk credit is held back while the loop lags, ms. Default 1000 ms. */
  maxCreditHoldMs: number;
  /** The floor of that rate limit: bulk bytes per second all peers together. Default 256 KiB/s. */
  minBulkIntakeBytesPerSec: number;
  /** Outstanding requests this node may have on one link. Default 1024. */
  maxPendingRequests: number;
  /** Requests from one peer being handled at once; more are answered ERR_BUSY. Default 256. */
  maxInboundRequests: number;
}

export const DEFAULT_LIMITS: Readonly<TransportLimits> = Object.freeze({
  maxFrameBytes: 64 * 1024,
  maxMessageBytes: 8 * 1024 * 1024,
  maxControlMessageBytes: 64 * 1024,
  maxReceiveBufferBytes: 24 * 1024 * 1024,
  maxQueuedBytes: Object.freeze({
    control: 1024 * 1024,
    high: 32 * 1024 * 1024,
    bulk: 64 * 1024 * 1024,
  }),
  maxSocketBufferedBytes: 128 * 1024,
  bulkMinShare: 0.1,
  bulkWindowBytes: 2 * 1024 * 1024,
  bulkReceiveBudgetBytes: 8 * 1024 * 1024,
  minBulkWindowBytes: 64 * 1024,
  bulkTargetDelayMs: 20,
  bulkYieldLoopShare: 0.25,
  bulkYieldHighLaneMs: 2000,
  maxCreditHoldMs: 1000,
  minBulkIntakeBytesPerSec: 256 * 1024,
  maxPendingRequests: 1024,
  maxInboundRequests: 256,
});

/** Hard ceiling of the frame length field we accept to configure (the field is 32 bits). */
export const MAX_FRAME_BYTES_CEILING = 16 * 1024 * 1024;

function positiveInt(field: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new ConfigError(field, `must be an integer in 1..${max}, got ${value}`);
  }
}

/** The bulk window a link announces when we have `neighbors` neighbours. */
export function bulkWindowFor(
  limits: Pick<
    TransportLimits,
    'bulkReceiveBudgetBytes' | 'bulkWindowBytes' | 'minBulkWindowBytes'
  >,
  neighbors: number,
): number {
  const share = Math.floor(limits.bulkReceiveBudgetBytes / Math.max(1, neighbors));
  return Math.min(limits.bulkWindowBytes, Math.max(limits.minBulkWindowBytes, share));
}

/** Bulk bytes read between two credits at most: often enough for delay control to keep a small window flowing. */
export const CREDIT_BATCH_BYTES = 32 * 1024;

/**
 * The least `minBulkWindowBytes` accepted: two credit batches, so a sender blocked at its
 * smallest window (it then has nearly all of it in flight, less one header and 1 KiB) has
 * always sent the receiver enough bytes to be credited.
 */
export const MIN_BULK_WINDOW_FLOOR = 2 * CREDIT_BATCH_BYTES;

/** After how many bulk bytes read a receiver that announced `window` sends a credit. */
export function creditThreshold(window: number): number {
  return Math.min(CREDIT_BATCH_BYTES, window / 4);
}

/** Merges `partial` over the defaults and validates the result; throws {@link ConfigError}. */
export function resolveLimits(partial: Partial<TransportLimits> = {}): TransportLimits {
  const limits: TransportLimits = {
    ...DEFAULT_LIMITS,
    ...partial,
    maxQueuedBytes: { ...DEFAULT_LIMITS.maxQueuedBytes, ...partial.maxQueuedBytes },
  };
  positiveInt('limits.maxFrameBytes', limits.maxFrameBytes, MAX_FRAME_BYTES_CEILING);
  positiveInt('limits.maxMessageBytes', limits.maxMessageBytes);
  positiveInt('limits.maxControlMessageBytes', limits.maxControlMessageBytes);
  positiveInt('limits.maxReceiveBufferBytes', limits.maxReceiveBufferBytes);
  positiveInt('limits.maxSocketBufferedBytes', limits.maxSocketBufferedBytes);
  positiveInt('limits.bulkWindowBytes', limits.bulkWindowBytes, 2 ** 48);
  positiveInt('limits.bulkReceiveBudgetBytes', limits.bulkReceiveBudgetBytes, 2 ** 48);
  positiveInt('limits.minBulkWindowBytes', limits.minBulkWindowBytes, 2 ** 48);
  if (limits.minBulkWindowBytes < MIN_BULK_WINDOW_FLOOR) {
    throw new ConfigError(
      'limits.minBulkWindowBytes',
      `must be at least ${MIN_BULK_WINDOW_FLOOR} (two credit batches of ${CREDIT_BATCH_BYTES}): ` +
        `a sender blocked at a smaller window would never be credited, got ${limits.minBulkWindowBytes}`,
    );
  }
  positiveInt('limits.bulkTargetDelayMs', limits.bulkTargetDelayMs, 60_000);
  if (!(limits.bulkYieldLoopShare >= 0 && limits.bulkYieldLoopShare <= 1)) {
    throw new ConfigError(
      'limits.bulkYieldLoopShare',
      `must be in [0, 1] (0 = off), got ${limits.bulkYieldLoopShare}`,
    );
  }
  if (!(Number.isSafeInteger(limits.bulkYieldHighLaneMs) && limits.bulkYieldHighLaneMs >= 0)) {
    throw new ConfigError(
      'limits.bulkYieldHighLaneMs',
      `must be an integer >= 0 (0 = yield without high-lane traffic too), got ${limits.bulkYieldHighLaneMs}`,
    );
  }
  positiveInt('limits.maxCreditHoldMs', limits.maxCreditHoldMs, 60_000);
  positiveInt('limits.minBulkIntakeBytesPerSec', limits.minBulkIntakeBytesPerSec, 2 ** 48);
  if (limits.minBulkWindowBytes > limits.bulkWindowBytes) {
    throw new ConfigError('limits.minBulkWindowBytes', 'must not exceed bulkWindowBytes');
  }
  positiveInt('limits.maxPendingRequests', limits.maxPendingRequests);
  positiveInt('limits.maxInboundRequests', limits.maxInboundRequests);
  for (const lane of ['control', 'high', 'bulk'] as const) {
    positiveInt(`limits.maxQueuedBytes.${lane}`, limits.maxQueuedBytes[lane]);
  }
  if (limits.maxControlMessageBytes > limits.maxFrameBytes) {
    throw new ConfigError(
      'limits.maxControlMessageBytes',
      `must not exceed maxFrameBytes (${limits.maxFrameBytes}): control messages are one frame`,
    );
  }
  const floor = 2 * limits.maxMessageBytes + limits.maxControlMessageBytes;
  if (limits.maxReceiveBufferBytes < floor) {
    throw new ConfigError(
      'limits.maxReceiveBufferBytes',
      `must be at least 2 x maxMessageBytes + maxControlMessageBytes = ${floor}`,
    );
  }
  if (!(limits.bulkMinShare >= 0 && limits.bulkMinShare < 1)) {
    throw new ConfigError('limits.bulkMinShare', `must be in [0, 1), got ${limits.bulkMinShare}`);
  }
  return limits;
}
