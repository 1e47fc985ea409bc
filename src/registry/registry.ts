/**
 * From a validated document to the immutable {@link Registry} a node works with, and the
 * queries nodes make of it.
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { RegistryFormatError, type RegistrySignatureError } from '../errors.ts';
import { compareNodeIds, type NodeId, parseNodeCertificate } from '../identity/index.ts';
import type { RegistryDocument } from './document.ts';
import { parseRegistryDocument, validateRegistryDocument } from './schema.ts';
import { checkRegistrySignature } from './signature.ts';
import type { NodeRecord, Registry, RegistryRejectReason, SubnetId } from './types.ts';

/** Options of {@link parseRegistry}. */
export interface ParseRegistryOptions {
  /** The operator's public key (KeyObject or SPKI PEM); when set, documents must be signed by it. */
  readonly operatorPublicKey?: KeyObject | string;
}

/**
 * Builds the immutable registry of a validated document. `signed` says whether its signature
 * was verified. Subnets and nodes are in sorted order; node ids per subnet sorted.
 */
export function toRegistry(doc: RegistryDocument, signed: boolean): Registry {
  const nodes = new Map<NodeId, NodeRecord>();
  const subnets = new Map<SubnetId, readonly NodeId[]>();
  for (const subnetName of Object.keys(doc.subnets).sort()) {
    const subnet = subnetName as SubnetId;
    const entries = doc.subnets[subnetName]!.nodes;
    const ids: NodeId[] = [];
    for (const [id, entry] of Object.entries(entries)) {
      const cert = parseNodeCertificate(entry.certificate);
      if (cert.nodeId !== id) {
        throw new RegistryFormatError(
          `subnets.${subnetName}.nodes.${id}.certificate`,
          `certificate is node ${cert.nodeId}, not the node it is listed under`,
        );
      }
      ids.push(cert.nodeId);
      nodes.set(
        cert.nodeId,
        Object.freeze({
          nodeId: cert.nodeId,
          subnet,
          address: entry.address,
          certificatePem: entry.certificate,
          certificateDer: cert.der,
        }),
      );
    }
    subnets.set(subnet, Object.freeze(ids.sort(compareNodeIds)));
  }
  const sortedNodes = new Map([...nodes].sort(([a], [b]) => compareNodeIds(a, b)));
  return Object.freeze({ version: doc.version, nodes: sortedNodes, subnets, signed });
}

/** Outcome of {@link evaluateRegistry}: the registry, or why the input is refused. */
export type RegistryEvaluation =
  | { readonly ok: true; readonly registry: Registry; readonly document: RegistryDocument }
  | {
      readonly ok: false;
      readonly reason: Extract<RegistryRejectReason, 'malformed' | 'unsigned' | 'bad_signature'>;
      readonly error: RegistryFormatError | RegistrySignatureError;
    };

/**
 * Validates JSON text or an already parsed document and checks its signature, without
 * throwing for a bad input (other errors, e.g. a bad configured key, still throw).
 */
export function evaluateRegistry(
  input: unknown,
  options: ParseRegistryOptions = {},
): RegistryEvaluation {
  let document: RegistryDocument;
  try {
    document =
      typeof input === 'string' ? parseRegistryDocument(input) : validateRegistryDocument(input);
  } catch (err) {
    if (err instanceof RegistryFormatError) return { ok: false, reason: 'malformed', error: err };
    throw err;
  }
  const check = checkRegistrySignature(document, options.operatorPublicKey);
  if (!check.ok) return check;
  return { ok: true, registry: toRegistry(document, check.signed), document };
}

/**
 * Parses and validates a registry document and checks its signature (see
 * `checkRegistrySignature`). Throws {@link RegistryFormatError} naming the offending field, or
 * {@link RegistrySignatureError} (unsigned while a key is configured, signed by another key,
 * signature does not verify).
 */
export function parseRegistry(text: string, options: ParseRegistryOptions = {}): Registry {
  const evaluation = evaluateRegistry(text, options);
  if (!evaluation.ok) throw evaluation.error;
  return evaluation.registry;
}

/** The nodes of `subnet`, sorted by NodeId; empty if the subnet is not in the registry. */
export function membersOf(registry: Registry, subnet: SubnetId | string): NodeRecord[] {
  const ids = registry.subnets.get(subnet as SubnetId) ?? [];
  return ids.map((id) => registry.nodes.get(id)!);
}

/** The other nodes of `nodeId`'s subnet, sorted; empty if the node is not in the registry. */
export function peersOf(registry: Registry, nodeId: NodeId): NodeRecord[] {
  const self = registry.nodes.get(nodeId);
  if (self === undefined) return [];
  return membersOf(registry, self.subnet).filter((record) => record.nodeId !== nodeId);
}
