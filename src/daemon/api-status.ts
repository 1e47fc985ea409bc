/**
 * The JSON of `GET /v1/status` (the node's own state; `api-routes.ts` adds the process's
 * version, start time, uptime and readiness) and the JSON answers of the API.
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { Node } from '../node/index.ts';
import type { ProcessInfoJson, Readiness } from './api-health.ts';

/** One channel of `GET /v1/status`: its use of its bounds (`Channel.stats()`). */
export interface ChannelStatusJson {
  name: string;
  /** Slots taken by our own and relayed artifacts, of `maxSlots`. */
  slots: { used: number; max: number };
  /** Artifacts held whole or in part, of their limit, and their bytes, of `maxBytes`. */
  held: { artifacts: number; maxArtifacts: number; bytes: number; maxBytes: number };
  /** The most the artifacts charged to one peer may hold (`peerShare`). */
  perPeer: { maxArtifacts: number; maxBytes: number };
  /** What each owner (a peer's NodeId, or 'self') holds. */
  owners: { origin: string; artifacts: number; bytes: number }[];
  /** Advertised artifacts not held yet. */
  wants: number;
  maxAgeMs: number;
  /** `purgeBelow` watermarks in force, by attribute field. */
  watermarks: Record<string, number>;
}

/** `GET /v1/status`. */
export interface StatusJson {
  nodeId: string;
  subnet: string;
  registryVersion: number | null;
  address: string;
  channels: ChannelStatusJson[];
  /** The digest of the channel settings peers must agree on, hex (docs/protocol.md). */
  channelConfigDigest: string;
  peers: {
    nodeId: string;
    address: string;
    state: string;
    connId: number | null;
    /** How the peer's channel-config digest compares with ours (`unknown`: none, or no link). */
    channelConfig: 'same' | 'different' | 'unknown';
  }[];
}

/** `GET /v1/status` as served: the node's state, the process's and its readiness. */
export type FullStatusJson = StatusJson & ProcessInfoJson & { ready: Readiness };

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Builds the `GET /v1/status` answer. */
export function statusOf(node: Node, subnet: string): StatusJson {
  return {
    nodeId: node.nodeId,
    subnet,
    registryVersion: node.transport.registryVersion ?? null,
    address: formatHostPort(node.address.host, node.address.port),
    channelConfigDigest: node.channelConfigDigest,
    channels: node.channels().map((name) => {
      const { channel: _, ...stats } = node.channel(name).stats();
      return { name, ...stats };
    }),
    peers: node.transport.peers().map((p) => ({
      nodeId: p.nodeId,
      address: p.address,
      state: p.state,
      connId: p.connId ?? null,
      channelConfig: node.channelConfigOf(p.nodeId),
    })),
  };
}

/** Answers `body` as JSON, not cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Answers `{ error: { code, message } }`, or cuts the response short if it began. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: { code, message } });
}
