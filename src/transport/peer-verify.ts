import type { X509Certificate } from 'node:crypto';
import { compareNodeIds, type NodeId } from '../identity/index.ts';
import type { NodeRecord, Registry, SubnetId } from '../registry/index.ts';

/** Why a connection was refused (metric label `reason`). */
export type RefusalReason =
  | 'no_registry'
  | 'no_certificate'
  | 'unknown_node'
  | 'other_subnet'
  | 'certificate_mismatch'
  | 'unexpected_peer'
  | 'not_a_neighbor'
  | 'self'
  | 'wrong_direction'
  | 'tls_error'
  | 'hello_timeout'
  | 'bad_hello';

export type Verdict =
  | { ok: true; record: NodeRecord }
  | { ok: false; reason: RefusalReason; message: string };

/** The subject CN of a certificate, or undefined. */
function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
}

/**
 * Decides whether a peer that completed the TLS handshake may have a link with us: its
 * certificate must be, byte for byte, the registry's certificate for the node named in its CN,
 * and that node must be a member of our subnet at our latest registry version and one of our
 * neighbours in the subnet's topology (see `linkedPeers`). Inbound links must come from the
 * lower NodeId of the pair (it dials); outbound ones from the node we dialed. TLS already
 * proved the peer holds the certificate's key.
 */
export function verifyPeer(args: {
  registry: Registry | undefined;
  subnet: SubnetId;
  self: NodeId;
  presented: X509Certificate | undefined;
  /** Whether a member of our subnet is one of our neighbours (computed from `registry`). */
  isNeighbor: (peer: NodeId) => boolean;
  /** Outbound: the node we dialed. */
  expected?: NodeId;
}): Verdict {
  const { registry, subnet, self, presented, isNeighbor, expected } = args;
  if (!registry) return { ok: false, reason: 'no_registry', message: 'no registry version yet' };
  if (!presented) {
    return { ok: false, reason: 'no_certificate', message: 'peer presented no certificate' };
  }
  const cn = commonName(presented);
  const record = cn === undefined ? undefined : registry.nodes.get(cn as NodeId);
  if (!record) {
    return {
      ok: false,
      reason: 'unknown_node',
      message: `certificate CN '${cn ?? '(none)'}' is not a node of registry version ${registry.version}`,
    };
  }
  const peer = record.nodeId;
  if (record.subnet !== subnet) {
    return {
      ok: false,
      reason: 'other_subnet',
      message: `node ${peer} belongs to subnet '${record.subnet}', not '${subnet}'`,
    };
  }
  if (!record.certificateDer.equals(presented.raw)) {
    return {
      ok: false,
      reason: 'certificate_mismatch',
      message: `node ${peer} presented a certificate other than the registry's`,
    };
  }
  if (peer === self)
    return { ok: false, reason: 'self', message: 'peer presented our own identity' };
  if (expected !== undefined && peer !== expected) {
    return { ok: false, reason: 'unexpected_peer', message: `dialed ${expected}, reached ${peer}` };
  }
  if (!isNeighbor(peer)) {
    return {
      ok: false,
      reason: 'not_a_neighbor',
      message: `node ${peer} is a member of '${subnet}' but not one of our neighbours at registry version ${registry.version}`,
    };
  }
  if (expected === undefined && compareNodeIds(peer, self) > 0) {
    return {
      ok: false,
      reason: 'wrong_direction',
      message: `node ${peer} dialed us, but the lower NodeId (us) dials`,
    };
  }
  return { ok: true, record };
}
