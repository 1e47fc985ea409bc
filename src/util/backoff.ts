/**
 * The one capped exponential backoff of the code base: the transport's redial, the driver's
 * resend of a refused send, the simulator, and the download rounds of the broadcast core all
 * compute their delays here. Pure (the random source is passed in), so the I/O-free core may
 * import it.
 */

/** The exponent is capped here so that `2 ** attempt` stays finite whatever `attempt` is. */
const MAX_EXPONENT = 30;

/** Parameters of {@link backoffDelay}. */
export interface BackoffDelayOptions {
  /** The delay of attempt 0, ms. */
  baseMs: number;
  /** No delay exceeds this, ms (before jitter). */
  maxMs: number;
  /**
   * If given, the delay is multiplied by a random factor in (1 - jitter, 1]: `random()` is
   * called exactly once. If absent, no jitter and `random` is not called.
   */
  jitter?: number;
  /** Random source in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry), ms:
 * `min(maxMs, baseMs * 2^attempt) * (1 - jitter * random())`, the exponent capped at 30.
 */
export function backoffDelay(attempt: number, opts: BackoffDelayOptions): number {
  const capped = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, MAX_EXPONENT));
  if (opts.jitter === undefined) return capped;
  return capped * (1 - opts.jitter * (opts.random ?? Math.random)());
}
