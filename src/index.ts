/**
 * subnet-p2p: secure, prioritized, eventual broadcast among the nodes of a permissioned subnet.
 *
 * This is the package's public face. Layers (see docs/architecture.md): identity and registry
 * at the bottom, the mutual-TLS transport above them, and the node (`createNode`: broadcast
 * channels over the transport) on top.
 * @module
 */
export {
  type AdvertInfo,
  type Artifact,
  type ArtifactId,
  type ArtifactPool,
  artifactId,
  type ChannelConfig,
  type ChannelStats,
  type ChunkedInfo,
  type ChunkingConfig,
  type ChunkProgress,
  type ChunkStore,
  type DeliveredArtifact,
  DiskChunkStore,
  type DownloadLimits,
  type HeldArtifactInfo,
  type HeldPage,
  InMemoryChunkStore,
  InMemoryPool,
  type PriorityDecision,
  type RelayPolicy,
  type RemovalReason,
  type StoredArtifact,
  type Validation,
} from './broadcast/index.ts';
export * from './errors.ts';
export {
  generateIdentity,
  loadIdentity,
  type NodeId,
  type NodeIdentity,
  parseNodeId,
  writeIdentity,
} from './identity/index.ts';
export { defaultLogger, type Logger, silentLogger } from './log.ts';
export {
  type BroadcastOptions,
  CHANNEL_DIGEST_BYTES,
  type Channel,
  type ChannelConfigAgreement,
  channelConfigCanonical,
  channelConfigDigest,
  createNode,
  DEFAULT_NODE_CHANNELS,
  mergeNodeChannels,
  type Node,
  type NodeOptions,
} from './node/index.ts';
export {
  type AddNodeInput,
  type AdoptionResult,
  addNode,
  FileRegistryClient,
  type FileRegistryClientOptions,
  type HostPort,
  InMemoryRegistryClient,
  type InMemoryRegistryClientOptions,
  initRegistry,
  loadOperatorPublicKey,
  type NodeRecord,
  type ParseRegistryOptions,
  parseRegistry,
  type Registry,
  type RegistryAdopterOptions,
  type RegistryClient,
  type RegistryDocument,
  type RegistryDocumentSignature,
  type RegistryNodeEntry,
  type RegistryRejectReason,
  type RegistrySubnetEntry,
  removeNode,
  type SubnetId,
  signRegistry,
} from './registry/index.ts';
export {
  type BackoffOptions,
  type ConnId,
  CREDIT_BATCH_BYTES,
  createTransport,
  type InboundMessage,
  type InboundPeerRequest,
  Lane,
  type LinkTiming,
  linkedPeers,
  MIN_BULK_WINDOW_FLOOR,
  type PeerState,
  type PeerStatus,
  type RefusalReason,
  type RequestOptions,
  type ResponseBody,
  type TopologyOptions,
  type Transport,
  type TransportEvent,
  type TransportLimits,
  type TransportOptions,
} from './transport/index.ts';
