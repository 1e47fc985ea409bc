/**
 * The secure transport: mutual-TLS 1.3 links between registry-listed members of a subnet
 * (a full mesh, or a bounded connected topology in large subnets), framed, with priority lanes
 * and request/response.
 * @module
 */

export type { TransportEvent } from './events.ts';
export { FRAME_HEADER_BYTES, FrameDecoder } from './frame.ts';
export { isLane, LANE_NAMES, LANES, Lane, type LaneName, laneFromName } from './lanes.ts';
export {
  bulkWindowFor,
  CREDIT_BATCH_BYTES,
  creditThreshold,
  DEFAULT_LIMITS,
  MIN_BULK_WINDOW_FLOOR,
  resolveLimits,
  type TransportLimits,
} from './limits.ts';
export { type ConnId, DEFAULT_TIMING, type LinkTiming } from './link.ts';
export { MAX_APP_DIGEST_BYTES, PROTOCOL_VERSION } from './messages.ts';
export {
  ALPN,
  type BackoffOptions,
  DEFAULT_BACKOFF,
  type InboundMessage,
  type InboundPeerRequest,
  type PeerState,
  type PeerStatus,
  type TransportOptions,
} from './options.ts';
export type { RefusalReason } from './peer-verify.ts';
export type {
  CancelRequest,
  InboundRequest,
  RequestDone,
  RequestOptions,
  ResponseBody,
} from './rpc.ts';
export { type FrameSink, SendScheduler, type SendSchedulerOptions } from './send-scheduler.ts';
export {
  DEFAULT_TOPOLOGY,
  linkedPeers,
  resolveTopology,
  type TopologyOptions,
  TopologyView,
} from './topology.ts';
export { createTransport, Transport } from './transport.ts';
export {
  concatParts,
  lengthDelimitedPrefix,
  partsLength,
  varintLength,
  ZERO_COPY_MIN_BYTES,
} from './wire-parts.ts';
