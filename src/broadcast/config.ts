import { ConfigError } from '../errors.ts';
import { Lane } from '../transport/lanes.ts';
import { chunkCount, manifestBytes } from './chunks/manifest.ts';
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
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  pushGraceMs: 250,
  pushRelayDelayMs: 100,
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
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) {
    throw new ConfigError(
      `channels.${name}`,
      'channel names are 1-63 of [a-z0-9_-], starting alphanumeric',
    );
  }
  // 'chunking' in partial decides: absent is the default, present as undefined or null is off.
  const c: ChannelConfig = { ...DEFAULT_CHANNEL, chunking: DEFAULT_CHUNKING, ...partial };
  if ((c.chunking as ChunkingConfig | null | undefined) === null) c.chunking = undefined;
  const f = (k: string) => `channels.${name}.${k}`;
  if (c.lane !== Lane.high && c.lane !== Lane.bulk) {
    throw new ConfigError(f('lane'), 'must be the high or the bulk lane');
  }
  if (!Number.isSafeInteger(c.pushThresholdBytes) || c.pushThresholdBytes < 0) {
    throw new ConfigError(
      f('pushThresholdBytes'),
      `must be an integer >= 0, got ${c.pushThresholdBytes}`,
    );
  }
  positive(f('maxArtifactBytes'), c.maxArtifactBytes);
  positive(f('maxSlots'), c.maxSlots);
  if (c.maxSlots > 2 ** 32) throw new ConfigError(f('maxSlots'), 'must fit in 32 bits');
  if (!(c.peerShare > 0 && c.peerShare <= 1)) {
    throw new ConfigError(f('peerShare'), `must be a fraction in (0, 1], got ${c.peerShare}`);
  }
  if (partial.maxBytes === undefined) {
    c.maxBytes = Math.max(DEFAULT_MAX_BYTES, Math.ceil(c.maxArtifactBytes / c.peerShare));
  }
  positive(f('maxBytes'), c.maxBytes);
  // One peer's largest artifact must fit in its share, or it could never be admitted.
  if (Math.floor(c.maxBytes * c.peerShare) < c.maxArtifactBytes) {
    throw new ConfigError(
      f('maxBytes'),
      `${c.maxBytes} x peerShare ${c.peerShare} must hold one artifact of maxArtifactBytes ${c.maxArtifactBytes}`,
    );
  }
  positive(f('maxAgeMs'), c.maxAgeMs);
  if (typeof c.numericAttribute !== 'function') {
    throw new ConfigError(f('numericAttribute'), 'must be a function');
  }
  if (c.relay !== 'relay' && c.relay !== 'origin-only') {
    throw new ConfigError(f('relay'), `must be 'relay' or 'origin-only', got ${String(c.relay)}`);
  }
  if (typeof c.priority !== 'function') throw new ConfigError(f('priority'), 'must be a function');
  if (c.chunking !== undefined) {
    if (typeof c.chunking !== 'object') {
      throw new ConfigError(f('chunking'), 'must be an object, or undefined (null) for none');
    }
    const k: ChunkingConfig = { ...DEFAULT_CHUNKING, ...c.chunking };
    for (const [key, v] of Object.entries(k)) positive(f(`chunking.${key}`), v as number);
    if (k.chunkBytes > k.maxChunkBytes) {
      throw new ConfigError(f('chunking.chunkBytes'), 'must not exceed maxChunkBytes');
    }
    if (k.maxManifestBytes < 49) {
      throw new ConfigError(f('chunking.maxManifestBytes'), 'must hold at least one chunk hash');
    }
    // The largest artifact's manifest must fit: a node could not broadcast it otherwise.
    const manifest = manifestBytes(chunkCount(c.maxArtifactBytes, k.chunkBytes));
    if (c.maxArtifactBytes > k.thresholdBytes && manifest > k.maxManifestBytes) {
      throw new ConfigError(
        f('maxArtifactBytes'),
        `${c.maxArtifactBytes} needs a manifest of ${manifest} bytes, over chunking.maxManifestBytes ${k.maxManifestBytes}`,
      );
    }
    c.chunking = k;
  }
  return c;
}

/** Merges download limits over the defaults and validates them. */
export function resolveDownloadLimits(partial: Partial<DownloadLimits> = {}): DownloadLimits {
  const l: DownloadLimits = { ...DEFAULT_DOWNLOAD_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    positive(`downloads.${k}`, v as number, k !== 'minThroughputBytesPerSec');
  }
  if (l.pushRelayDelayMs > l.pushGraceMs) {
    throw new ConfigError('downloads.pushRelayDelayMs', 'must not exceed pushGraceMs');
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
