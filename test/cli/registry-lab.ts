// What the registry command tests start from: node identities with their certificates and an
// operator key pair, in a fresh temporary folder.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateIdentity, type NodeIdentity, writeIdentity } from '../../src/identity/index.ts';
import { generateOperatorKeyPair, writeOperatorKeyPair } from '../../src/registry/index.ts';
import { tempDir } from '../registry/fixtures.ts';
import type { CliRun } from './run-cli.ts';

/** A temporary folder with `n` node identities and an operator key pair. */
export interface RegistryLab {
  dir: string;
  cleanup: () => Promise<void>;
  /** `<dir>/registry.json` (not written yet). */
  file: string;
  nodes: NodeIdentity[];
  /** The certificate file of each node, `<dir>/node-<i+1>/node.crt`. */
  certs: string[];
  operatorKey: string;
  operatorPub: string;
}

export async function registryLab(n: number): Promise<RegistryLab> {
  const { dir, cleanup } = await tempDir();
  const nodes = await Promise.all(Array.from({ length: n }, () => generateIdentity()));
  const certs = await Promise.all(
    nodes.map(async (identity, i) => {
      await writeIdentity(join(dir, `node-${i + 1}`), identity);
      return join(dir, `node-${i + 1}`, 'node.crt');
    }),
  );
  const paths = await writeOperatorKeyPair(join(dir, 'operator'), generateOperatorKeyPair());
  return {
    dir,
    cleanup,
    file: join(dir, 'registry.json'),
    nodes,
    certs,
    operatorKey: paths.privateKeyPath,
    operatorPub: paths.publicKeyPath,
  };
}

/** Asserts that a CLI run succeeded and returns its stdout. */
export function ok(run: CliRun): string {
  assert.equal(run.status, 0, `expected success, got ${run.status}: ${run.stderr}`);
  return run.stdout;
}
