import type { NodeId } from '../identity/index.ts';

/** A subnet's name in the registry, e.g. `subnet-a`. */
export type SubnetId = string & { readonly __brand: 'SubnetId' };

/** One node as the registry lists it. */
export interface NodeRecord {
  readonly nodeId: NodeId;
  readonly subnet: SubnetId;
  /** Where peers dial it: `host:port` (IPv6 hosts in brackets: `[::1]:4100`). */
  readonly address: string;
  /** Its certificate, PEM, exactly as added. */
  readonly certificatePem: string;
  /** The same certificate, DER: compared byte for byte with what a peer presents. */
  readonly certificateDer: Buffer;
}

/** One validated, immutable version of the registry. */
export interface Registry {
  /** Grows with every change; a node never adopts a version lower than or equal to its own. */
  readonly version: number;
  /** Every node, by id. */
  readonly nodes: ReadonlyMap<NodeId, NodeRecord>;
  /** Node ids per subnet. */
  readonly subnets: ReadonlyMap<SubnetId, readonly NodeId[]>;
  /** Whether the document carried a signature that verified (with the key it was checked against). */
  readonly signed: boolean;
}

/** Why a registry update was not adopted (also the metric label). */
export type RegistryRejectReason =
  | 'malformed'
  | 'unsigned'
  | 'bad_signature'
  | 'not_newer'
  | 'unreadable';

/**
 * Where a node learns the registry. Implementations validate every version, adopt only
 * strictly newer ones, and keep the last good version when a new one is rejected.
 */
export interface RegistryClient {
  /** The latest adopted version, or undefined before the first one. */
  current(): Registry | undefined;
  /**
   * Calls `listener` with every newly adopted version (not with the current one).
   * Returns a function that unsubscribes.
   */
  subscribe(listener: (registry: Registry) => void): () => void;
  /** Stops watching; idempotent. */
  close(): Promise<void>;
}
