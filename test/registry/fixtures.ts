// Shared test fixtures for the registry tests: identities, documents, temp dirs, metrics.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry as PromRegistry } from 'prom-client';
import { generateIdentity, type NodeIdentity } from '../../src/identity/index.ts';
import {
  addNode,
  type FileRegistryClient,
  type InMemoryRegistryClient,
  initRegistry,
  type Registry,
  type RegistryDocument,
  type RegistryRejection,
} from '../../src/registry/index.ts';

/** `n` fresh node identities. */
export function identities(n: number): Promise<NodeIdentity[]> {
  return Promise.all(Array.from({ length: n }, () => generateIdentity()));
}

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

/** A fresh temporary directory and its removal. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'subnet-p2p-registry-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The value of a metric (with the given labels) on a prom-client registry. */
export async function metricValue(
  metrics: PromRegistry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = metrics.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([key, value]) => v.labels[key] === value),
  );
  return match?.value;
}

type Watched = FileRegistryClient | InMemoryRegistryClient;

/** Resolves with the next version `client` adopts. */
export function nextAdoption(client: Watched): Promise<Registry> {
  return new Promise((resolve) => {
    const off = client.subscribe((registry) => {
      off();
      resolve(registry);
    });
  });
}

/** Resolves with the next update `client` rejects. */
export function nextRejection(client: Watched): Promise<RegistryRejection> {
  return new Promise((resolve) => {
    const off = client.subscribeRejections((rejection) => {
      off();
      resolve(rejection);
    });
  });
}
