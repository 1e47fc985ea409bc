import { ConfigError } from '../errors.ts';
import { Lane } from '../transport/lanes.ts';
import { CHANNEL_NAME_PATTERN, CHANNEL_NAME_RULE, channelConfigSchema } from './channel-schema.ts';
import type { ChannelConfig, ChunkingConfig, DownloadLimits } from './types.ts';

/** Application attributes of an artifact travel in its advert: at most this many bytes. */
export const MAX_ATTRIBUTES_BYTES = 256;

/** The least `maxBytes` a channel gets by default (more if its largest artifact needs it). */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The default `numericAttribute`: the attributes as a UTF-8 JSON object, `field`'s value if it
 * is a finite number.
 */
export function jsonNumericAttribute(attributes: Uint8Array, field: string): number | undefined {
  // Not a JSON object: skip the parse (most attributes are empty or binary).
  if (attributes.length < 2 || attributes[0] !== 0x7b) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      Buffer.from(attributes.buffer, attributes.byteOffset, attributes.length).toString('utf8'),
    );
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const v = (parsed as Record<string, unknown>)[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export const DEFAULT_CHANNEL: Readonly<ChannelConfig> = Object.freeze({
  lane: Lane.bulk,
  pushThresholdBytes: 1024,
  maxArtifactBytes: 4 * 1024 * 1024,
  maxSlots: 10_000,
  maxBytes: DEFAULT_MAX_BYTES,
  maxAgeMs: 10 * 60 * 1000,
  peerShare: 0.25,
  numericAttribute: jsonNumericAttribute,
  relay: 'relay',
  priority: () => ({ fetch: 0 }),
});

export const DEFAULT_DOWNLOAD_LIMITS: Readonly<DownloadLimits> = Object.freeze({
  maxConcurrentDownloads: 32,
  maxDownloadsPerPeer: 8,
  maxBytesInFlightPerPeer: 16 * 1024 * 1024,
  downloadTimeoutMs: 5000,
  minThroughputBytesPerSec: 1_000_000,
  maxFetchDeadlineMs: 30_000,
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  pushGraceMs: 250,
  pushRelayDelayMs: 1000,
  reprioritizeIntervalMs: 1000,
  maxPendingValidations: 64,
  maxDismissedIds: 100_000,
  maxChunksInFlight: 16,
  maxChunksPerPeer: 4,
  maxChunkedDownloads: 4,
  chunkStallMs: 10_000,
  haveIntervalMs: 50,
  chunkOwnerSilenceMs: 2000,
});

export const DEFAULT_CHUNKING: Readonly<ChunkingConfig> = Object.freeze({
  thresholdBytes: 1024 * 1024,
  chunkBytes: 1024 * 1024,
  maxChunkBytes: 4 * 1024 * 1024,
  maxManifestBytes: 256 * 1024,
});

function positive(field: string, value: number, integer = true): void {
  const ok = integer
    ? Number.isSafeInteger(value) && value > 0
    : value > 0 && Number.isFinite(value);
  if (!ok)
    throw new ConfigError(
      field,
      `must be a positive ${integer ? 'integer' : 'number'}, got ${value}`,
    );
}

/**
 * Merges a channel's settings over the defaults and validates them. Chunking is on by default:
 * a `partial` without the key `chunking` gets {@link DEFAULT_CHUNKING}; a `chunking` object,
 * even partial, is merged over it; the key present with `undefined` (or `null`, as a JSON file
 * spells it) turns chunking off (see {@link ChannelConfig.chunking}).
 */
export function resolveChannel(name: string, partial: Partial<ChannelConfig> = {}): ChannelConfig {
  if (!CHANNEL_NAME_PATTERN.test(name))
    throw new ConfigError(`channels.${name}`, CHANNEL_NAME_RULE);
  // 'chunking' in partial decides: absent is the default, present as undefined or null is off.
  const c: ChannelConfig = { ...DEFAULT_CHANNEL, chunking: DEFAULT_CHUNKING, ...partial };
  if ((c.chunking as ChunkingConfig | null | undefined) === null) c.chunking = undefined;
  if (typeof c.chunking === 'object') c.chunking = { ...DEFAULT_CHUNKING, ...c.chunking };
  if (partial.maxBytes === undefined) {
    c.maxBytes = Math.max(DEFAULT_MAX_BYTES, Math.ceil(c.maxArtifactBytes / c.peerShare));
  }
  const result = channelConfigSchema.safeParse(c);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`channels.${name}.${issue.path.join('.')}`, issue.message);
  }
  return c;
}

/** Merges download limits over the defaults and validates them. */
export function resolveDownloadLimits(partial: Partial<DownloadLimits> = {}): DownloadLimits {
  const l: DownloadLimits = { ...DEFAULT_DOWNLOAD_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    positive(`downloads.${k}`, v as number, k !== 'minThroughputBytesPerSec');
  }
  if (l.retryMaxMs < l.retryBaseMs) {
    throw new ConfigError('downloads.retryMaxMs', 'must be at least retryBaseMs');
  }
  // A download waiting for a silent share owner makes no progress meanwhile: not a stall.
  if (l.chunkStallMs <= l.chunkOwnerSilenceMs) {
    throw new ConfigError('downloads.chunkStallMs', 'must exceed chunkOwnerSilenceMs');
  }
  return l;
}
