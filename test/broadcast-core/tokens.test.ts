/** Action tokens are tagged by the sub-protocol that issued them: a result finds its owner. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TOKEN_OWNERS, TokenSpace, tokenOwner } from '../../src/broadcast/core/tokens.ts';

describe('token spaces', () => {
  it('never issue the same token twice, and each token names its owner', () => {
    const seen = new Set<number>();
    const spaces = TOKEN_OWNERS.map((o) => new TokenSpace(o));
    for (let i = 0; i < 1000; i++) {
      const space = spaces[i % 7 === 0 ? 1 : i % spaces.length]!;
      const t = space.next();
      assert.ok(!seen.has(t), `token ${t} issued twice`);
      seen.add(t);
      assert.equal(tokenOwner(t), space.owner);
    }
  });

  it('own no token that none issued', () => {
    for (const t of [0, 1, 2, -3, 1.5, Number.NaN, 2 ** 60]) assert.equal(tokenOwner(t), undefined);
  });
});
