/**
 * The transport's configuration and the shapes it hands to the layer above: its options,
 * inbound messages and requests, the state of each neighbour, and the TLS settings both the
 * listener and the dialer use.
 * @module
 */
import type * as tls from 'node:tls';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { NodeId, NodeIdentity } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import type { HostPort, RegistryClient } from '../registry/index.ts';
import type { Lane } from './lanes.ts';
import type { TransportLimits } from './limits.ts';
import type { ConnId, LinkTiming } from './link.ts';
import type { InboundRequest, ResponseBody } from './rpc.ts';
import type { TopologyOptions } from './topology.ts';

/** ALPN protocol id of this transport. */
export const ALPN = 'subnet-p2p/1';

/** Reconnection backoff of the dialing side, ms: base * 2^attempt, capped, with jitter. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Each delay is multiplied by a random factor in [1 - jitter, 1]. Default 0.5. */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 100,
  maxMs: 5000,
  jitter: 0.5,
});

/** An application message from a peer. */
export interface InboundMessage {
  peer: NodeId;
  connId: ConnId;
  lane: Lane;
  body: Uint8Array;
}

/** A request from a peer. */
export interface InboundPeerRequest extends InboundRequest {
  peer: NodeId;
  connId: ConnId;
}

export type PeerState = 'connected' | 'connecting' | 'disconnected';

/** One neighbour (a member of our subnet we keep a link with) as seen from here. */
export interface PeerStatus {
  nodeId: NodeId;
  address: string;
  state: PeerState;
  /** Connection id of the current link, if any. */
  connId: ConnId | undefined;
  /** The `appDigest` of the peer's Hello on the current link; undefined if none or no link. */
  appDigest: Uint8Array | undefined;
}

export interface TransportOptions {
  identity: NodeIdentity;
  registry: RegistryClient;
  subnet: string;
  /** Where to listen for peers. Default: our own address in the registry. Port 0 = any. */
  listen?: HostPort;
  limits?: Partial<TransportLimits>;
  timing?: Partial<LinkTiming>;
  backoff?: Partial<BackoffOptions>;
  /** Which members we link with: a full mesh up to `fullMeshMaxNodes` (40), sparse above. */
  topology?: Partial<TopologyOptions>;
  logger?: Logger;
  /** prom-client registry for the metrics; a private one by default. */
  metrics?: MetricsRegistry;
  /** Random source for backoff jitter, in [0, 1). Default Math.random. */
  random?: () => number;
  /** Application messages. Returning a promise holds the bytes in the receive budget until it settles. */
  onMessage?: (msg: InboundMessage) => void | Promise<void>;
  /** Application requests; the result is the response body. */
  onRequest?: (req: InboundPeerRequest) => Promise<ResponseBody> | ResponseBody;
  /**
   * Opaque bytes (at most `MAX_APP_DIGEST_BYTES`, 64) sent in this node's Hello, and received
   * from each peer's in `peer-up` and {@link Transport.peers}: the layer above compares them
   * (the node: a digest of its channel configuration). The transport only carries them.
   * Default: none.
   */
  appDigest?: Uint8Array;
}

/** The TLS settings of both ends of a link: our certificate, TLS 1.3 only, our ALPN id. */
export function tlsOptions(
  identity: NodeIdentity,
): tls.SecureContextOptions & { ALPNProtocols: string[] } {
  return {
    key: identity.privateKeyPem,
    cert: identity.certificatePem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ALPNProtocols: [ALPN],
  };
}
