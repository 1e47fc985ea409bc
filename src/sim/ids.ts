import { type NodeId, nodeIdFromPublicKeyDer } from '../identity/index.ts';
import type { Rng } from './rng.ts';

/** `n` distinct NodeIds drawn from `rng` (valid principals of random keys), sorted. */
export function simNodeIds(n: number, rng: Rng): NodeId[] {
  const ids = new Set<NodeId>();
  while (ids.size < n) ids.add(nodeIdFromPublicKeyDer(rng.bytes(44)));
  return [...ids].sort();
}
