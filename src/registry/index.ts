/**
 * The registry: which nodes exist, in which subnet, at which address, with which certificate.
 * An operator edits and signs a JSON document; nodes read it through a {@link RegistryClient}
 * that adopts only valid, strictly newer (and, with an operator key, signed) versions.
 * @module
 */
export { addressProblem, type HostPort, parseAddress } from './address.ts';
export type { AdoptionResult, RegistryAdopterOptions, RegistryRejection } from './adoption.ts';
export { canonicalJson } from './canonical-json.ts';
export {
  REGISTRY_FORMAT,
  type RegistryDocument,
  type RegistryDocumentSignature,
  type RegistryNodeEntry,
  type RegistrySubnetEntry,
  SUBNET_NAME_PATTERN,
} from './document.ts';
export {
  type AddNodeInput,
  addNode,
  initRegistry,
  nodeIdOfCertificate,
  removeNode,
  subnetOfNode,
} from './edit.ts';
export {
  DEFAULT_POLL_INTERVAL_MS,
  FileRegistryClient,
  type FileRegistryClientOptions,
} from './file-client.ts';
export { writeFileAtomic } from './files.ts';
export { InMemoryRegistryClient, type InMemoryRegistryClientOptions } from './in-memory-client.ts';
export { REGISTRY_REJECT_REASONS } from './metrics.ts';
export {
  generateOperatorKeyPair,
  loadOperatorPrivateKey,
  loadOperatorPublicKey,
  OPERATOR_KEY_FILE,
  OPERATOR_PUB_FILE,
  type OperatorKeyPair,
  type OperatorKeyPaths,
  operatorKeyFingerprint,
  toOperatorPrivateKey,
  toOperatorPublicKey,
  writeOperatorKeyPair,
} from './operator-key.ts';
export {
  membersOf,
  type ParseRegistryOptions,
  parseRegistry,
  peersOf,
  toRegistry,
} from './registry.ts';
export {
  formatRegistryDocument,
  REGISTRY_PATH_FIELD,
  readRegistryFile,
  readRegistryText,
  writeRegistryFile,
} from './registry-file.ts';
export { parseRegistryDocument, ROOT_FIELD, validateRegistryDocument } from './schema.ts';
export {
  checkRegistrySignature,
  registrySigningBytes,
  type SignatureCheck,
  signRegistry,
} from './signature.ts';
export type {
  NodeRecord,
  Registry,
  RegistryClient,
  RegistryRejectReason,
  SubnetId,
} from './types.ts';
