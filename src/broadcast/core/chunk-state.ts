import type { NodeId } from '../../identity/index.ts';
import { Bitset, decodeManifest, type Manifest, manifestId } from '../chunks/manifest.ts';
import type { ArtifactId, ChunkedInfo } from '../types.ts';
import type { ChannelState } from './channel-state.ts';

/** A chunked artifact this node holds in whole or in part. */
export interface ChunkState {
  key: string;
  channel: ChannelState;
  id: ArtifactId;
  manifest: Manifest;
  manifestBytes: Uint8Array;
  attributes: Uint8Array;
  /** Chunks verified and written to the chunk store (served to peers). */
  have: Bitset;
  phase: 'downloading' | 'validating' | 'held';
  /** Who can serve chunks: advertisers of the whole artifact ('all'), partial holders (bitmap). */
  sources: Map<NodeId, Bitset | 'all'>;
  inflight: Map<number, { token: number; peer: NodeId; at: number }>;
  /** How long this node's chunk fetches of it take, ms (moving average; none ended yet: undefined). */
  fetchMs: number | undefined;
  /** When a chunk of it last arrived verified (none yet: undefined). */
  progressAt: number | undefined;
  writing: Set<number>;
  /** Per chunk, the peers tried in this round (a round ends when every holder was tried). */
  tried: Map<number, Set<NodeId>>;
  /** Per chunk, no attempt before this time (after a full round failed). */
  notBefore: Map<number, number>;
  /**
   * Peers never asked again for this artifact: they served a wrong chunk, or answered
   * `CHUNK_STRIKES` times in a row `missing` for chunks they claim, or not at all.
   */
  faulty: Set<NodeId>;
  /** Per peer, its `missing` answers and timeouts for chunks it claims, since its last good chunk. */
  strikes: Map<NodeId, number>;
  /**
   * Peers in `faulty` for their strikes alone (not for wrong bytes): asked again once their link
   * went down and came back, as a black hole between honest nodes looks like silence too.
   */
  struckOut: Set<NodeId>;
  bytesFrom: Map<NodeId, number>;
  haveDirty: boolean;
  priority: number;
  seq: number;
  /** The first advertiser (reported as `from` on delivery). */
  from: NodeId | undefined;
  /** Per peer, when its last `Have` for this artifact arrived. */
  haveFrom: Map<NodeId, number>;
  /** When this node started getting it. */
  createdAt: number;
  /** When the first request for its manifest went out (undefined: not downloaded, or resumed). */
  downloadStartedAt: number | undefined;
  /** Created, last given a source, or last stored a chunk (a dormant one may be evicted). */
  activeAt: number;
}

/** What makes a chunked artifact's state: its channel, key, id, manifest (decoded and encoded), attributes, and the peer it came from. */
export type ChunkOrigin = [
  ch: ChannelState,
  key: string,
  id: ArtifactId,
  manifest: Manifest,
  manifestBytes: Uint8Array,
  attributes: Uint8Array,
  from: NodeId | undefined,
];

/** A chunked artifact's state as it starts: no chunk held, no source, downloading. */
export function newChunkState(...args: [...ChunkOrigin, seq: number, now: number]): ChunkState {
  const [ch, key, id, manifest, manifestBytes, attributes, from, seq, now] = args;
  return {
    key,
    channel: ch,
    id,
    manifest,
    manifestBytes,
    attributes,
    have: new Bitset(manifest.hashes.length),
    phase: 'downloading',
    sources: new Map(),
    inflight: new Map(),
    fetchMs: undefined,
    progressAt: undefined,
    writing: new Set(),
    tried: new Map(),
    notBefore: new Map(),
    faulty: new Set(),
    strikes: new Map(),
    struckOut: new Set(),
    bytesFrom: new Map(),
    haveDirty: false,
    priority: 0,
    seq,
    from,
    haveFrom: new Map(),
    createdAt: now,
    downloadStartedAt: undefined,
    activeAt: now,
  };
}

/** The manifest `bytes`, if its id is `id` and it is within the channel's limits. */
export function checkManifest(
  ch: ChannelState,
  id: ArtifactId,
  bytes: Uint8Array,
): Manifest | undefined {
  const k = ch.cfg.chunking;
  if (!k || bytes.length > k.maxManifestBytes || manifestId(bytes) !== id) return undefined;
  const m = decodeManifest(bytes);
  if (!m || m.totalBytes > ch.cfg.maxArtifactBytes || m.chunkBytes > k.maxChunkBytes) {
    return undefined;
  }
  return m;
}

/** The shape of a chunked artifact, as the application sees it. */
export function chunkedInfo(s: ChunkState): ChunkedInfo {
  return {
    size: s.manifest.totalBytes,
    chunkBytes: s.manifest.chunkBytes,
    chunks: s.manifest.hashes.length,
  };
}
