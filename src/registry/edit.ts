/**
 * Pure edits of a registry document. Each returns a new document whose version is exactly one
 * more, without a signature (the content changed, so the old signature no longer applies).
 * Bad input is refused with {@link RegistryEditError}.
 * @module
 */
import { RegistryEditError } from '../errors.ts';
import { type CertificateInfo, type NodeId, parseNodeCertificate } from '../identity/index.ts';
import { addressProblem } from './address.ts';
import {
  hasOwn,
  REGISTRY_FORMAT,
  type RegistryDocument,
  type RegistryNodeEntry,
  type RegistrySubnetEntry,
  SUBNET_NAME_PATTERN,
} from './document.ts';

/** What {@link addNode} needs. */
export interface AddNodeInput {
  /** The subnet to add the node to (created if new). */
  readonly subnet: string;
  /** `host:port` where peers dial it. */
  readonly address: string;
  /** The node's self-signed certificate, PEM; the NodeId is derived from it. */
  readonly certificatePem: string;
}

/** A new, empty, unsigned registry document at version 0. */
export function initRegistry(): RegistryDocument {
  return { format: REGISTRY_FORMAT, version: 0, subnets: {} };
}

/** The NodeId of the node in `certificatePem`, as {@link addNode} derives it. */
export function nodeIdOfCertificate(certificatePem: string): NodeId {
  return certificateForEdit(certificatePem).nodeId;
}

function certificateForEdit(certificatePem: string): CertificateInfo {
  try {
    return parseNodeCertificate(certificatePem);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new RegistryEditError(`bad node certificate: ${message}`, { cause });
  }
}

/** The subnet a node is listed in, if any. */
export function subnetOfNode(doc: RegistryDocument, nodeId: string): string | undefined {
  return Object.keys(doc.subnets).find((name) => hasOwn(doc.subnets[name]!.nodes, nodeId));
}

/**
 * Adds a node to a subnet. The NodeId comes from the certificate. Refuses a bad subnet name,
 * address or certificate, and a node already listed (in this subnet or another).
 */
export function addNode(doc: RegistryDocument, input: AddNodeInput): RegistryDocument {
  if (!SUBNET_NAME_PATTERN.test(input.subnet)) {
    throw new RegistryEditError(
      `bad subnet name '${input.subnet}': 1 to 63 lower-case letters, digits or dashes, ` +
        'not starting with a dash',
    );
  }
  const problem = addressProblem(input.address);
  if (problem !== undefined) throw new RegistryEditError(`bad address: ${problem}`);
  const cert = certificateForEdit(input.certificatePem);
  const existing = subnetOfNode(doc, cert.nodeId);
  if (existing !== undefined) {
    throw new RegistryEditError(
      existing === input.subnet
        ? `node ${cert.nodeId} is already in subnet '${existing}'`
        : `node ${cert.nodeId} is already in subnet '${existing}'; a node belongs to one subnet`,
    );
  }
  const entry: RegistryNodeEntry = { address: input.address, certificate: cert.pem };
  const current = hasOwn(doc.subnets, input.subnet) ? doc.subnets[input.subnet]!.nodes : {};
  const subnets = withSubnet(doc.subnets, input.subnet, {
    nodes: sortedRecord({ ...current, [cert.nodeId]: entry }),
  });
  return bump(doc, subnets);
}

/**
 * Removes a node. Refuses an unknown node. A subnet left without nodes is removed as well.
 */
export function removeNode(doc: RegistryDocument, nodeId: string): RegistryDocument {
  const subnet = subnetOfNode(doc, nodeId);
  if (subnet === undefined) throw new RegistryEditError(`node ${nodeId} is not in the registry`);
  const nodes = Object.fromEntries(
    Object.entries(doc.subnets[subnet]!.nodes).filter(([id]) => id !== nodeId),
  );
  const subnets =
    Object.keys(nodes).length === 0
      ? Object.fromEntries(Object.entries(doc.subnets).filter(([name]) => name !== subnet))
      : withSubnet(doc.subnets, subnet, { nodes });
  return bump(doc, subnets);
}

function withSubnet(
  subnets: RegistryDocument['subnets'],
  name: string,
  entry: RegistrySubnetEntry,
): Record<string, RegistrySubnetEntry> {
  return sortedRecord({ ...subnets, [name]: entry });
}

function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const keys = Object.keys(record).sort();
  return Object.fromEntries(keys.map((key) => [key, record[key]!]));
}

function bump(doc: RegistryDocument, subnets: RegistryDocument['subnets']): RegistryDocument {
  if (doc.version >= Number.MAX_SAFE_INTEGER) {
    throw new RegistryEditError(`registry version ${doc.version} cannot grow any further`);
  }
  // The signature is deliberately not copied: the content changed.
  return { format: doc.format, version: doc.version + 1, subnets };
}
