/**
 * Logging a limit reached without flooding the log: one `limit reached` line at info when a
 * limit is first hit in a scope (a channel, a lane), then nothing more for that limit and
 * scope until it has gone unhit for {@link LIMIT_LOG_QUIET_MS}; the next hit after such a
 * quiet spell logs again, with how many hits the previous spell had. Counters say how often;
 * the log says when it started.
 * @module
 */
import type { Logger } from './log.ts';

/** A limit and scope not hit for this long, ms, is cleared: its next hit is logged again. */
export const LIMIT_LOG_QUIET_MS = 60_000;

interface Spell {
  /** Last hit, ms. */
  last: number;
  hits: number;
}

/**
 * Remembers, per limit and scope, the current spell of hits. Memory: one entry per limit and
 * scope ever hit; callers use fixed scopes (channel and lane names, never peers).
 */
export class LimitLog {
  readonly #log: Logger;
  readonly #quietMs: number;
  readonly #now: () => number;
  readonly #spells = new Map<string, Spell>();

  constructor(log: Logger, opts: { quietMs?: number; now?: () => number } = {}) {
    this.#log = log;
    this.#quietMs = opts.quietMs ?? LIMIT_LOG_QUIET_MS;
    this.#now = opts.now ?? (() => performance.now());
  }

  /**
   * `limit` was hit in `scope` (a channel or lane name; '' for none). Logs `limit reached`
   * with `limit`, `scope` and `fields` if this starts a spell; otherwise only counts. Cheap: a
   * Map lookup per hit.
   */
  reached(limit: string, scope: string, fields: Record<string, unknown> = {}): void {
    const key = `${limit}\u0000${scope}`;
    const now = this.#now();
    const spell = this.#spells.get(key);
    if (spell && now - spell.last < this.#quietMs) {
      spell.last = now;
      spell.hits += 1;
      return;
    }
    this.#spells.set(key, { last: now, hits: 1 });
    this.#log.info(
      {
        limit,
        ...(scope === '' ? {} : { scope }),
        ...fields,
        ...(spell ? { previousSpellHits: spell.hits } : {}),
      },
      'limit reached',
    );
  }
}
