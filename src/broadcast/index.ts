/**
 * Abortable broadcast: slot tables, adverts, pull, priorities, relay. The protocol core is a
 * deterministic state machine (core/); drivers run it over the transport or the simulator.
 * @module
 */
export {
  type BroadcastOptions,
  type Channel,
  ChannelEndpoint,
  type ChannelHost,
  type HeldPage,
} from './channel.ts';
export {
  Bitset,
  decodeManifest,
  encodeManifest,
  type Manifest,
  manifestBytes,
  manifestId,
} from './chunks/manifest.ts';
export {
  type ChunkStore,
  DiskChunkStore,
  InMemoryChunkStore,
  type StoredArtifact,
} from './chunks/store.ts';
export {
  DEFAULT_CHANNEL,
  DEFAULT_CHUNKING,
  DEFAULT_DOWNLOAD_LIMITS,
  DEFAULT_MAX_BYTES,
  jsonNumericAttribute,
  MAX_ATTRIBUTES_BYTES,
  resolveChannel,
  resolveDownloadLimits,
} from './config.ts';
export {
  BroadcastCore,
  type CoreOptions,
  channelNumber,
  DEFAULT_MESSAGE_LIMITS,
  type MessageLimits,
} from './core/core.ts';
export {
  COUNTER_LABELS,
  COUNTER_NAMES,
  type CoreObserver,
  CountingObserver,
  TIMING_NAMES,
  type TimingName,
} from './core/observer.ts';
export { BroadcastDriver, type BroadcastDriverOptions } from './driver.ts';
export { BroadcastMetrics } from './driver-metrics.ts';
export type {
  Cancel,
  ChunkOp,
  DriverEnvironment,
  DriverObserver,
  RequestOutcome,
} from './environment.ts';
export { fetchFailure } from './fetch-outcome.ts';
export { artifactId, isArtifactId } from './ids.ts';
export { monotonicNow, NodeEnvironment } from './node-environment.ts';
export { type ArtifactPool, InMemoryPool } from './pool.ts';
/** The broadcast wire messages (protobuf codecs), for tools and adversarial tests. */
export { FetchRequest, FetchResponse, Have, SlotUpdates } from './proto/broadcast.ts';
export type * from './types.ts';
