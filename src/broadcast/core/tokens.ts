/**
 * The tokens of the core's actions, tagged by the sub-protocol that issued them, so that a
 * result (`onFetched`, `onValidated`) goes straight to its owner: whole-artifact downloads (and
 * manifest fetches), chunk fetches, validations. Each owner draws from its own space; the tag is
 * the token modulo the number of owners.
 */

/** The sub-protocols that issue tokens. */
export const TOKEN_OWNERS = ['download', 'chunk', 'validation'] as const;

/** A sub-protocol that issues tokens. */
export type TokenOwner = (typeof TOKEN_OWNERS)[number];

/** The tokens of one owner: `seq * owners + tag`, from `owners + tag` on. */
export class TokenSpace {
  readonly owner: TokenOwner;
  readonly #tag: number;
  #seq = 0;

  constructor(owner: TokenOwner) {
    this.owner = owner;
    this.#tag = TOKEN_OWNERS.indexOf(owner);
  }

  /** A token never issued before (by any space). */
  next(): number {
    this.#seq++;
    return this.#seq * TOKEN_OWNERS.length + this.#tag;
  }
}

/** The owner of `token`, if it could have been issued by a {@link TokenSpace}. */
export function tokenOwner(token: number): TokenOwner | undefined {
  if (!Number.isSafeInteger(token) || token < TOKEN_OWNERS.length) return undefined;
  return TOKEN_OWNERS[token % TOKEN_OWNERS.length];
}
