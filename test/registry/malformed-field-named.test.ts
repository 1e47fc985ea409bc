import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { RegistryFormatError } from '../../src/errors.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import {
  generateOperatorKeyPair,
  InMemoryRegistryClient,
  parseRegistry,
  type RegistryDocument,
} from '../../src/registry/index.ts';
import { documentWith, identities } from './fixtures.ts';

type JsonObject = { [key: string]: unknown };

/** The object at `path` inside `root` (path of object keys). */
function at(root: JsonObject, path: readonly string[]): JsonObject {
  return path.reduce((node, key) => node[key] as JsonObject, root);
}

/** Sets the field at `path` (the last element is the field name). */
function set(root: JsonObject, path: readonly string[], value: unknown): void {
  at(root, path.slice(0, -1))[path.at(-1)!] = value;
}

/** Deletes the field at `path` and returns its value. */
function take(root: JsonObject, path: readonly string[]): unknown {
  const parent = at(root, path.slice(0, -1));
  const value = parent[path.at(-1)!];
  delete parent[path.at(-1)!];
  return value;
}

function formatError(text: string): RegistryFormatError {
  try {
    parseRegistry(text);
  } catch (err) {
    assert.ok(err instanceof RegistryFormatError, `expected RegistryFormatError, got ${err}`);
    return err;
  }
  assert.fail('expected a RegistryFormatError');
}

describe('a malformed registry is reported with the offending field', () => {
  let ids: NodeIdentity[];
  let doc: RegistryDocument;
  let a: string;
  let b: string;
  let c: string;
  const operatorKey = createPublicKey(generateOperatorKeyPair().publicKeyPem)
    .export({ type: 'spki', format: 'der' })
    .toString('base64');
  before(async () => {
    ids = await identities(3);
    doc = documentWith([
      ['subnet-a', ids[0]!],
      ['subnet-a', ids[1]!],
      ['subnet-b', ids[2]!],
    ]);
    [a, b, c] = [ids[0]!.nodeId, ids[1]!.nodeId, ids[2]!.nodeId];
  });

  function broken(change: (d: JsonObject) => void): string {
    const copy = JSON.parse(JSON.stringify(doc)) as JsonObject;
    change(copy);
    return JSON.stringify(copy);
  }

  interface Case {
    name: string;
    change: (d: JsonObject) => void;
    field: () => string;
    message: RegExp;
  }
  const node = (subnet: string, id: () => string, ...rest: string[]) => [
    'subnets',
    subnet,
    'nodes',
    id(),
    ...rest,
  ];
  const cases: Case[] = [
    {
      name: 'version as a string',
      change: (d) => set(d, ['version'], '3'),
      field: () => 'version',
      message: /expected number, got string/,
    },
    {
      name: 'negative version',
      change: (d) => set(d, ['version'], -1),
      field: () => 'version',
      message: /negative/,
    },
    {
      name: 'fractional version',
      change: (d) => set(d, ['version'], 1.5),
      field: () => 'version',
      message: /integer/,
    },
    {
      name: 'version beyond the safe integers',
      change: (d) => set(d, ['version'], 2 ** 53),
      field: () => 'version',
      message: /safe integer/,
    },
    {
      name: 'missing version',
      change: (d) => take(d, ['version']),
      field: () => 'version',
      message: /missing/,
    },
    {
      name: 'wrong format',
      change: (d) => set(d, ['format'], 'other/1'),
      field: () => 'format',
      message: /subnet-p2p-registry\/1/,
    },
    {
      name: 'unknown top-level field',
      change: (d) => set(d, ['extra'], {}),
      field: () => 'extra',
      message: /unknown field/,
    },
    {
      name: 'bad subnet name',
      change: (d) => set(d, ['subnets', 'Subnet_B'], take(d, ['subnets', 'subnet-b'])),
      field: () => 'subnets.Subnet_B',
      message: /subnet name/,
    },
    {
      name: 'port out of range',
      change: (d) =>
        set(
          d,
          node('subnet-a', () => a, 'address'),
          '127.0.0.1:65536',
        ),
      field: () => `subnets.subnet-a.nodes.${a}.address`,
      message: /65535/,
    },
    {
      name: 'address without a port',
      change: (d) =>
        set(
          d,
          node('subnet-a', () => a, 'address'),
          'localhost',
        ),
      field: () => `subnets.subnet-a.nodes.${a}.address`,
      message: /host:port/,
    },
    {
      name: 'IPv6 host without brackets',
      change: (d) =>
        set(
          d,
          node('subnet-a', () => b, 'address'),
          '::1:4100',
        ),
      field: () => `subnets.subnet-a.nodes.${b}.address`,
      message: /brackets/,
    },
    {
      name: 'certificate that is not a certificate',
      change: (d) =>
        set(
          d,
          node('subnet-b', () => c, 'certificate'),
          'junk',
        ),
      field: () => `subnets.subnet-b.nodes.${c}.certificate`,
      message: /X\.509/,
    },
    {
      name: 'certificate of another node than the one it is listed under',
      change: (d) =>
        set(
          d,
          node('subnet-a', () => a, 'certificate'),
          at(
            d,
            node('subnet-a', () => b),
          ).certificate,
        ),
      field: () => `subnets.subnet-a.nodes.${a}.certificate`,
      message: /not the node it is listed under/,
    },
    {
      name: 'node id that is not a NodeId',
      change: (d) =>
        set(
          d,
          node('subnet-b', () => 'not-a-node'),
          take(
            d,
            node('subnet-b', () => c),
          ),
        ),
      field: () => 'subnets.subnet-b.nodes.not-a-node',
      message: /not a NodeId/,
    },
    {
      name: 'node listed in two subnets',
      change: (d) =>
        set(
          d,
          node('subnet-b', () => a),
          at(
            d,
            node('subnet-a', () => a),
          ),
        ),
      field: () => `subnets.subnet-b.nodes.${a}`,
      message: /one subnet/,
    },
    {
      name: 'unknown field in a node',
      change: (d) =>
        set(
          d,
          node('subnet-a', () => a, 'port'),
          4100,
        ),
      field: () => `subnets.subnet-a.nodes.${a}.port`,
      message: /unknown field/,
    },
    {
      name: 'signature public key that is not a key',
      change: (d) => set(d, ['signature'], { publicKey: 'AAAA', value: 'AAAA' }),
      field: () => 'signature.publicKey',
      message: /SubjectPublicKeyInfo/,
    },
    {
      name: 'signature value of the wrong length',
      change: (d) => set(d, ['signature'], { publicKey: operatorKey, value: 'AAAA' }),
      field: () => 'signature.value',
      message: /64 bytes/,
    },
  ];

  for (const { name, change, field, message } of cases) {
    it(name, () => {
      const err = formatError(broken(change));
      assert.equal(err.field, field());
      assert.match(err.message, message);
      assert.ok(err.message.includes(err.field), 'the message names the field');
    });
  }

  it('text that is not JSON, or not an object', () => {
    assert.equal(formatError('{"version": ').field, '(document)');
    assert.equal(formatError('[]').field, '(document)');
  });

  it('a client rejects a malformed version as malformed and keeps the last good one', () => {
    const client = new InMemoryRegistryClient(doc, { logger: silentLogger() });
    const result = client.publish(
      broken((d) => {
        set(d, ['version'], 99);
        set(d, ['subnets', 'subnet-a', 'nodes', a, 'address'], 'nowhere:0');
      }),
    );
    assert.ok(!result.adopted);
    assert.equal(result.reason, 'malformed');
    assert.ok(result.error instanceof RegistryFormatError);
    assert.equal(result.error.field, `subnets.subnet-a.nodes.${a}.address`);
    assert.equal(client.current()?.version, doc.version);
  });
});
