/**
 * Fuzzing the registry parser: arbitrary text, arbitrary JSON, and valid (signed) documents
 * with one field replaced, bytes flipped or cut. Nothing escapes but a RegistryFormatError
 * (naming a field) or a RegistrySignatureError; whatever parses is a consistent registry.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { RegistryFormatError, RegistrySignatureError } from '../../src/errors.ts';
import {
  formatRegistryDocument,
  generateOperatorKeyPair,
  type OperatorKeyPair,
  parseRegistry,
  parseRegistryDocument,
  signRegistry,
} from '../../src/registry/index.ts';
import { documentWith, identities } from '../registry/fixtures.ts';

const SEED = 0x5eed_7e61;

/** Parses `text` (optionally requiring `key`'s signature): only the typed registry errors may escape. */
function parsesOrTypedError(text: string, key?: OperatorKeyPair): void {
  try {
    parseRegistryDocument(text);
  } catch (err) {
    assert.ok(err instanceof RegistryFormatError, `parseRegistryDocument escaped: ${String(err)}`);
    assert.ok(err.field.length > 0);
  }
  let registry: ReturnType<typeof parseRegistry>;
  try {
    registry = parseRegistry(text, key ? { operatorPublicKey: key.publicKeyPem } : {});
  } catch (err) {
    assert.ok(
      err instanceof RegistryFormatError || err instanceof RegistrySignatureError,
      `parseRegistry escaped: ${String(err)}`,
    );
    return;
  }
  // Whatever was accepted is consistent: every member of a subnet is a node of that subnet.
  for (const [subnet, ids] of registry.subnets) {
    for (const id of ids) assert.equal(registry.nodes.get(id)?.subnet, subnet);
  }
  assert.ok(Number.isSafeInteger(registry.version));
}

/** Replaces the value at a random path of `value` by `replacement`. */
function replaceAt(value: unknown, pick: number, replacement: unknown): unknown {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(v))
      v.forEach((x, i) => {
        walk(x, [...path, i]);
      });
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(value, []);
  const path = paths[pick % paths.length]!;
  if (path.length === 0) return replacement;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[path.at(-1)!] = replacement;
  return copy;
}

describe('fuzz: registry parser', () => {
  let valid: string;
  let signed: string;
  let key: OperatorKeyPair;

  before(async () => {
    const ids = await identities(3);
    const doc = documentWith([
      ['subnet-a', ids[0]!],
      ['subnet-a', ids[1]!],
      ['subnet-b', ids[2]!],
    ]);
    valid = formatRegistryDocument(doc);
    key = generateOperatorKeyPair();
    signed = formatRegistryDocument(signRegistry(doc, key.privateKeyPem));
    // The fixtures themselves parse, or the properties below would prove nothing.
    parseRegistry(valid);
    parseRegistry(signed, { operatorPublicKey: key.publicKeyPem });
  });

  it('arbitrary text and arbitrary JSON: only typed registry errors', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 4 })), (text) =>
        parsesOrTypedError(text),
      ),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('valid documents with one field replaced by arbitrary JSON: only typed registry errors', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.jsonValue({ maxDepth: 3 }),
        fc.boolean(),
        (pick, replacement, useSigned) => {
          const base = JSON.parse(useSigned ? signed : valid) as unknown;
          const text = JSON.stringify(replaceAt(base, pick, replacement));
          parsesOrTypedError(text, useSigned ? key : undefined);
        },
      ),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('valid documents with bytes flipped or cut: only typed registry errors', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 127 }), fc.boolean()), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.boolean(),
        (edits, useSigned) => {
          let text = useSigned ? signed : valid;
          for (const [at, xor, cut] of edits) {
            const i = at % text.length;
            text = cut
              ? text.slice(0, i) + text.slice(i + (xor % 20))
              : text.slice(0, i) +
                String.fromCharCode(text.charCodeAt(i) ^ xor) +
                text.slice(i + 1);
          }
          parsesOrTypedError(text, useSigned ? key : undefined);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
