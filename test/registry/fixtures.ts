// Shared test fixtures for the registry tests: identities, documents, temp dirs, metrics.
import type { NodeIdentity } from '../../src/identity/index.ts';
import {
  addNode,
  type FileRegistryClient,
  type InMemoryRegistryClient,
  initRegistry,
  type Registry,
  type RegistryDocument,
  type RegistryRejection,
} from '../../src/registry/index.ts';
import { tempDir as leftoverTempDir, removeTempDir } from '../helpers/leftovers.ts';
import { slow } from '../helpers/slowdown.ts';

export { identities, metricValue } from '../helpers/common.ts';

/**
 * A document with the given nodes, each `[subnet, identity]`, at addresses 127.0.0.1:4100+i.
 * Its version is the number of nodes (one edit each).
 */
export function documentWith(nodes: readonly [string, NodeIdentity][]): RegistryDocument {
  return nodes.reduce(
    (doc, [subnet, identity], i) =>
      addNode(doc, {
        subnet,
        address: `127.0.0.1:${4100 + i}`,
        certificatePem: identity.certificatePem,
      }),
    initRegistry(),
  );
}

/** The same document at another version (unsigned). */
export function atVersion(doc: RegistryDocument, version: number): RegistryDocument {
  const { signature: _dropped, ...rest } = doc;
  return { ...rest, version };
}

/** A fresh temporary directory (removed at exit if `cleanup` is never called) and its removal. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await leftoverTempDir('subnet-p2p-registry-');
  return { dir, cleanup: () => removeTempDir(dir) };
}

type Watched = FileRegistryClient | InMemoryRegistryClient;

/**
 * Resolves with the next event `subscribe` delivers, or rejects after `timeoutMs` (as on an idle
 * machine: scaled by the slowdown factor). The deadline timer also keeps the event loop alive:
 * the file client's poll timer is unref'd.
 */
function nextEvent<T>(
  subscribe: (listener: (event: T) => void) => () => void,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const limit = slow(timeoutMs);
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      off();
      reject(new Error(`no ${what} within ${limit} ms`));
    }, limit);
    const off = subscribe((event) => {
      clearTimeout(deadline);
      off();
      resolve(event);
    });
  });
}

/** Resolves with the next version `client` adopts (fails after `timeoutMs`). */
export function nextAdoption(client: Watched, timeoutMs = 5000): Promise<Registry> {
  return nextEvent((listener) => client.subscribe(listener), 'adoption', timeoutMs);
}

/** Resolves with the next update `client` rejects (fails after `timeoutMs`). */
export function nextRejection(client: Watched, timeoutMs = 5000): Promise<RegistryRejection> {
  return nextEvent((listener) => client.subscribeRejections(listener), 'rejection', timeoutMs);
}
