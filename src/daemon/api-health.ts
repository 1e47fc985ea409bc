/**
 * Health of the daemon for probes and operators: `GET /healthz` (the process serves),
 * `GET /readyz` (the node does its job: registry adopted, listed in it, listening, linked to
 * enough neighbours), and the version, start time and uptime of `GET /v1/status`. All cheap:
 * read from the node's state, no metrics collection.
 * @module
 */
import { createRequire } from 'node:module';
import type { Node } from '../node/index.ts';

/** The package's version (package.json, read once; the same file as `--version`). */
export const PACKAGE_VERSION: string = (
  createRequire(import.meta.url)('../../package.json') as { version: string }
).version;

/** `GET /readyz`, and `ready` in `GET /v1/status`. */
export interface Readiness {
  ready: boolean;
  /** Why not, one sentence each (empty when ready). */
  reasons: string[];
}

/** What readiness is computed from. */
export interface ReadinessInputs {
  node: Node;
  subnet: string;
  /** Whether the registry the node acts on lists it in its subnet. */
  listed: () => boolean;
  /** The share of neighbours, in [0, 1], a link must be up to (`readyPeerShare`). */
  peerShare: number;
  /** True once shutdown began. */
  draining: () => boolean;
}

/**
 * Whether the node is ready: a registry adopted, this node listed in it in its subnet, the
 * transport listening, a link up to at least `ceil(peerShare x neighbours)` of its neighbours,
 * and not shutting down.
 */
export function readinessOf(inputs: ReadinessInputs): Readiness {
  const { node, subnet, peerShare } = inputs;
  const reasons: string[] = [];
  if (inputs.draining()) reasons.push('the node is shutting down');
  const version = node.transport.registryVersion;
  if (version === undefined) {
    reasons.push('no registry adopted yet');
  } else if (!inputs.listed()) {
    reasons.push(`this node is not listed in subnet '${subnet}' of registry version ${version}`);
  } else {
    const peers = node.transport.peers();
    const up = peers.filter((p) => p.state === 'connected').length;
    const need = Math.ceil(peerShare * peers.length);
    if (up < need) {
      reasons.push(
        `links up to ${up} of ${peers.length} neighbours; readyPeerShare ${peerShare} needs ${need}`,
      );
    }
  }
  try {
    node.transport.address();
  } catch {
    reasons.push('the transport is not listening');
  }
  return { ready: reasons.length === 0, reasons };
}

/** `version`, `startedAt`, `uptimeSeconds` of `GET /v1/status`. */
export interface ProcessInfoJson {
  version: string;
  /** When the daemon started, ISO 8601. */
  startedAt: string;
  uptimeSeconds: number;
}

/** The version, start time and uptime of a daemon started at `startedAt` (ms since epoch). */
export function processInfo(startedAt: number, now = Date.now()): ProcessInfoJson {
  return {
    version: PACKAGE_VERSION,
    startedAt: new Date(startedAt).toISOString(),
    uptimeSeconds: Math.max(0, Math.round((now - startedAt) / 100) / 10),
  };
}
