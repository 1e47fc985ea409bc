/**
 * A request's outcome as the core is fed it: the environment's error (the transport's typed
 * errors) mapped to the core's fetch failure reasons, the failures logged and counted.
 * @module
 */
import { AbortError, LinkClosedError, RequestTimeoutError } from '../errors.ts';
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import type { DriverObserver, RequestOutcome } from './environment.ts';
import type { FetchResult } from './types.ts';

/** The reason the core is given for a failed request, from the environment's error. */
export function fetchFailure(err: unknown): Extract<FetchResult, { ok: false }>['reason'] {
  if (err instanceof RequestTimeoutError) return 'timeout';
  if (err instanceof LinkClosedError) return 'link_closed';
  if (err instanceof AbortError) return 'cancelled';
  return 'error';
}

/** What the core is fed for a request's outcome (a failure logged and counted as the node does). */
export function fetchResult(
  outcome: RequestOutcome,
  peer: NodeId,
  log: Logger,
  observer: DriverObserver,
): FetchResult {
  if (outcome.ok) return outcome;
  const reason = fetchFailure(outcome.error);
  if (reason === 'error') {
    const err = outcome.error instanceof Error ? outcome.error.message : outcome.error;
    log.debug({ peer, err }, 'fetch failed');
  }
  if (reason === 'timeout' || reason === 'error') observer.fetchFailed?.(peer, reason);
  return { ok: false, reason };
}
