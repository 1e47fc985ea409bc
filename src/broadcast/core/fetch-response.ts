/**
 * The FetchResponse ends every fetch shares, whole artifact or chunk: the answer of a node that
 * does not have what was asked, and the reading of an answer.
 * @module
 */
import { FetchResponse } from '../proto/broadcast.ts';
import type { FetchResult } from '../types.ts';

/** The answer to a fetch of something this node does not have (or will not serve). */
export function missingResponse(): Uint8Array {
  return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
}

/**
 * What a fetch brought: the bytes; `'retry'` if it failed or the peer has them no more (ask
 * again, maybe elsewhere); `'malformed'` if the answer is no FetchResponse (the peer's fault).
 */
export function fetchedBytes(result: FetchResult): Uint8Array | 'retry' | 'malformed' {
  if (!result.ok) return 'retry';
  let response: FetchResponse;
  try {
    response = FetchResponse.decode(result.body);
  } catch {
    return 'malformed';
  }
  return response.missing || response.artifact.length === 0 ? 'retry' : response.artifact;
}
