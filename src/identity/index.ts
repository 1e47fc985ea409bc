/**
 * Node identities: Ed25519 keys, self-authenticating NodeIds, self-signed certificates.
 * @module
 */
export { type CertificateInfo, parseNodeCertificate } from './certificate.ts';
export {
  CERT_FILE,
  generateIdentity,
  identityFromPem,
  KEY_FILE,
  loadIdentity,
  type NodeIdentity,
  writeIdentity,
} from './identity.ts';
export { compareNodeIds, type NodeId, nodeIdFromPublicKeyDer, parseNodeId } from './node-id.ts';
