import type { NodeId } from '../../identity/index.ts';
import type { DeliveredArtifact, HeldArtifactInfo } from '../types.ts';
import type { ChannelState } from './channel-state.ts';
import type { CoreContext } from './context.ts';
import type { Owner } from './retention.ts';
import { TokenSpace } from './tokens.ts';

/** An artifact at the application's validation hook. */
export interface Validating {
  key: string;
  channel: ChannelState;
  artifact: DeliveredArtifact;
  /** Whose it is: the whole artifacts' or the chunked artifacts' (who takes the verdict). */
  kind: 'whole' | 'chunked';
  /** The peer that pushed it inline: its origin, which pushed it to every peer. */
  pushedBy: NodeId | undefined;
  /** Who it is charged to once held. */
  owner: Owner;
  /** When its origin broadcast it (this node's clock). */
  createdAt: number;
  /** When it went to the validation hook. */
  startedAt: number;
}

/** The artifacts at the validation hook, by token (`validate` actions and their verdicts). */
export class Validations {
  readonly #ctx: CoreContext;
  readonly #byToken = new Map<number, Validating>();
  readonly #keys = new Set<string>();
  readonly #tokens = new TokenSpace('validation');

  constructor(ctx: CoreContext) {
    this.#ctx = ctx;
  }

  /** How many are being validated. */
  get size(): number {
    return this.#byToken.size;
  }

  /** Whether `key` is being validated. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Those being validated. */
  values(): Iterable<Validating> {
    return this.#byToken.values();
  }

  /** Asks the application to validate an artifact (a `validate` action). */
  start(v: Omit<Validating, 'startedAt'>): void {
    const token = this.#tokens.next();
    this.#byToken.set(token, { ...v, startedAt: this.#ctx.now });
    this.#keys.add(v.key);
    this.#ctx.act({ type: 'validate', token, artifact: v.artifact });
  }

  /**
   * Dismisses those of `ch` for which `predicate` is true (as advertised artifacts): their
   * verdicts will not deliver them.
   */
  purge(ch: ChannelState, predicate: (a: HeldArtifactInfo) => boolean, now: number): void {
    for (const v of this.#byToken.values()) {
      if (v.channel !== ch || this.#ctx.dismissed(v.key)) continue;
      const info: HeldArtifactInfo = {
        id: v.artifact.id,
        size: v.artifact.chunked?.size ?? v.artifact.bytes.length,
        attributes: v.artifact.attributes,
        origin: v.owner,
        ageMs: Math.max(0, now - v.createdAt),
        held: 'advertised',
      };
      if (predicate(info)) this.#ctx.dismiss(v.key);
    }
  }

  /** Ends validation `token`; returns what was validated, if it was current. */
  end(token: number): Validating | undefined {
    const v = this.#byToken.get(token);
    if (!v) return undefined;
    this.#byToken.delete(token);
    this.#keys.delete(v.key);
    return v;
  }
}
