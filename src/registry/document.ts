/**
 * The registry document: the JSON file an operator edits, signs and hands to the nodes.
 * These types describe a document that has passed validation; see `schema.ts`.
 * @module
 */

/** The value of the document's `format` field. */
export const REGISTRY_FORMAT = 'subnet-p2p-registry/1';

/** What a subnet name must look like: lower-case letters, digits and dashes, 1 to 63 long. */
export const SUBNET_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** One node's entry under `subnets.<subnet>.nodes.<nodeId>`. */
export interface RegistryNodeEntry {
  /** Where peers dial it: `host:port`, IPv6 hosts in brackets. */
  readonly address: string;
  /** Its self-signed certificate, PEM. */
  readonly certificate: string;
}

/** One subnet: its nodes, keyed by NodeId. */
export interface RegistrySubnetEntry {
  readonly nodes: Readonly<Record<string, RegistryNodeEntry>>;
}

/** The operator's signature over the canonical JSON of the document without this field. */
export interface RegistryDocumentSignature {
  /** Base64 of the DER SubjectPublicKeyInfo of the operator's Ed25519 key. */
  readonly publicKey: string;
  /** Base64 of the 64-byte Ed25519 signature. */
  readonly value: string;
}

/** A registry document as stored in the file (validated). */
export interface RegistryDocument {
  readonly format: typeof REGISTRY_FORMAT;
  /** A non-negative safe integer; every edit adds exactly one. */
  readonly version: number;
  /** Subnets by name. */
  readonly subnets: Readonly<Record<string, RegistrySubnetEntry>>;
  /** Absent on an unsigned document; dropped by every edit. */
  readonly signature?: RegistryDocumentSignature;
}

/** `Object.hasOwn` for records whose keys come from untrusted input (e.g. `constructor`). */
export function hasOwn<T>(record: Readonly<Record<string, T>>, key: string): boolean {
  return Object.hasOwn(record, key);
}
