import { crc32 } from 'node:zlib';
import type { ArtifactPool } from '../pool.ts';
import type { ChannelConfig } from '../types.ts';
import { Retention } from './retention.ts';
import { SlotTable } from './slot-table.ts';

/**
 * A channel as the core keeps it: its configuration, slot table, pool, what it holds (its
 * retention) and its `purgeBelow` watermarks. Shared by the core's sub-protocols.
 */
export interface ChannelState {
  name: string;
  /** On the wire: CRC32 of the name. */
  number: number;
  cfg: ChannelConfig;
  table: SlotTable;
  pool: ArtifactPool;
  /** What it holds, charged to whom, until when (the bounds of maxSlots, maxBytes, maxAgeMs). */
  retention: Retention;
  /** `purgeBelow` watermarks: adverts with a field below one are not fetched. */
  watermarks: Map<string, number>;
}

/** The wire number of a channel: CRC32 of its name (all nodes agree without coordination). */
export function channelNumber(name: string): number {
  return crc32(name) >>> 0;
}

/** A channel's state as it starts: an empty slot table, nothing held, no watermark. */
export function newChannelState(
  name: string,
  cfg: ChannelConfig,
  pool: ArtifactPool,
): ChannelState {
  return {
    name,
    number: channelNumber(name),
    cfg,
    table: new SlotTable(cfg.maxSlots),
    pool,
    retention: new Retention({
      maxArtifacts: cfg.maxSlots,
      maxBytes: cfg.maxBytes,
      maxAgeMs: cfg.maxAgeMs,
      peerShare: cfg.peerShare,
    }),
    watermarks: new Map(),
  };
}

/** The key of artifact `id` of `channel` in the core's maps: `channel:id`. */
export function artifactKey(channel: string, id: string): string {
  return `${channel}:${id}`;
}

/** The channel of a key made by {@link artifactKey}. */
export function keyChannel(key: string): string {
  return key.slice(0, key.indexOf(':'));
}
