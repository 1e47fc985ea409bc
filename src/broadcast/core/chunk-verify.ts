import type { NodeId } from '../../identity/index.ts';
import { chunkLength, sha256 } from '../chunks/manifest.ts';
import type { FetchResult } from '../types.ts';
import type { ChunkState } from './chunk-state.ts';
import { fetchedBytes } from './fetch-response.ts';
import type { CounterName } from './observer.ts';

/**
 * A peer that answers `missing` for a chunk it claims (it advertises the whole artifact, or its
 * `Have` has the chunk), or does not answer in time, this many times in a row for one artifact,
 * is not asked for that artifact again while its link stays up.
 */
export const CHUNK_STRIKES = 3;

type Count = (name: CounterName, labels: Record<string, string>) => void;

/**
 * The bytes of chunk `index` of `s` as `peer` answered (`result`), if they are that chunk
 * (its length and SHA-256 in the manifest). Otherwise the answer is counted: a `missing` answer
 * or a timeout for a chunk the peer claims is a strike against it (see {@link CHUNK_STRIKES}),
 * wrong bytes make it faulty for this artifact for good.
 */
export function verifiedChunk(
  s: ChunkState,
  index: number,
  peer: NodeId,
  result: FetchResult,
  count: Count,
): Uint8Array | undefined {
  const channel = s.channel.name;
  const bytes = fetchedBytes(result);
  if (bytes === 'retry') {
    count('chunks', { channel, outcome: 'retried' });
    // Answered `missing` (or empty), or not at all: a strike if the peer claims the chunk.
    const timeout = !result.ok && result.reason === 'timeout';
    if (result.ok || timeout) {
      const src = s.sources.get(peer);
      if (src === 'all' || src?.has(index)) {
        strike(s, peer, timeout ? 'chunk_timeout' : 'chunk_missing', count);
      }
    }
    return undefined;
  }
  if (bytes === 'malformed') {
    fault(s, peer, 'missing_body', count);
    return undefined;
  }
  if (
    bytes.length !== chunkLength(s.manifest, index) ||
    !Buffer.from(sha256(bytes)).equals(s.manifest.hashes[index]!)
  ) {
    fault(s, peer, 'bad_hash', count);
    return undefined;
  }
  return bytes;
}

/**
 * `peer` did not serve a chunk it claims: counted against it; after `CHUNK_STRIKES` in a row
 * it is not asked for this artifact again.
 */
function strike(
  s: ChunkState,
  peer: NodeId,
  reason: 'chunk_missing' | 'chunk_timeout',
  count: Count,
): void {
  count('peer_faults', { channel: s.channel.name, peer, reason });
  const n = (s.strikes.get(peer) ?? 0) + 1;
  s.strikes.set(peer, n);
  if (n >= CHUNK_STRIKES && !s.faulty.has(peer)) {
    count('chunks', { channel: s.channel.name, outcome: 'faulty' });
    s.faulty.add(peer);
    s.struckOut.add(peer);
  }
}

function fault(s: ChunkState, peer: NodeId, reason: string, count: Count): void {
  count('chunks', { channel: s.channel.name, outcome: 'faulty' });
  count('peer_faults', { channel: s.channel.name, peer, reason });
  s.faulty.add(peer);
  s.struckOut.delete(peer); // wrong bytes: for good
}
