/**
 * Channel configurations that cannot silently diverge: each node sends a digest of the channel
 * settings its peers must agree on in its transport Hello (`app_digest`, opaque to the
 * transport), and compares the digest each peer sends with its own: a mismatch is logged once
 * per link (warn, naming the peer and both digests), counted, and shown per peer.
 * docs/protocol.md ("Channel-config digest") says which settings count, and why.
 * @module
 */
import { createHash } from 'node:crypto';
import { Counter, Gauge, type Registry as MetricsRegistry } from 'prom-client';
import type { ChannelConfig } from '../broadcast/index.ts';
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import { canonicalJson } from '../registry/canonical-json.ts';
import { LANE_NAMES, type Transport, type TransportEvent } from '../transport/index.ts';

/** Bytes of the digest: the first 16 of the SHA-256 of the canonical form. */
export const CHANNEL_DIGEST_BYTES = 16;

/** Version of the canonical form (in it): a change of the fields that count bumps it. */
export const CHANNEL_DIGEST_VERSION = 1;

/**
 * How a peer's channel configuration compares with ours: `same` digest, a `different` one, or
 * `unknown` (its Hello carried none: a peer that predates the digest; or no link is up).
 */
export type ChannelConfigAgreement = 'same' | 'different' | 'unknown';

/**
 * The canonical form of the settings peers must agree on: for each channel (sorted by name),
 * its name, lane, `maxArtifactBytes`, `relay` and `chunking` (null when off). A mismatch in one
 * of them makes a peer refuse or mis-handle the other's artifacts. Local policy is left out:
 * `maxSlots`, `maxBytes`, `peerShare`, `maxAgeMs` (a node's capacity and retention),
 * `pushThresholdBytes` (the sender's choice; a receiver takes inline artifacts up to
 * `maxArtifactBytes`), and the priority and validation functions.
 */
export function channelConfigCanonical(channels: ReadonlyMap<string, ChannelConfig>): string {
  const list = [...channels.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, c]) => ({
      name,
      lane: LANE_NAMES[c.lane],
      maxArtifactBytes: c.maxArtifactBytes,
      relay: c.relay,
      chunking:
        c.chunking === undefined
          ? null
          : {
              thresholdBytes: c.chunking.thresholdBytes,
              chunkBytes: c.chunking.chunkBytes,
              maxChunkBytes: c.chunking.maxChunkBytes,
              maxManifestBytes: c.chunking.maxManifestBytes,
            },
    }));
  return canonicalJson({ v: CHANNEL_DIGEST_VERSION, channels: list });
}

/** The digest of {@link channelConfigCanonical}: SHA-256, first {@link CHANNEL_DIGEST_BYTES}. */
export function channelConfigDigest(channels: ReadonlyMap<string, ChannelConfig>): Uint8Array {
  const hash = createHash('sha256').update(channelConfigCanonical(channels), 'utf8').digest();
  return new Uint8Array(hash.subarray(0, CHANNEL_DIGEST_BYTES));
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/**
 * Compares the digest of each peer whose link comes up with ours. Per link up with a different
 * digest: one warn line (the peer's NodeId, both digests), and
 * `subnet_p2p_node_channel_config_mismatch_total{peer}` grows by one;
 * `subnet_p2p_node_channel_config_mismatched_peers` is the number of peers whose link is up
 * with a different digest now.
 */
export class ChannelConfigWatch {
  /** Our digest, hex. */
  readonly digest: string;
  /** Per peer whose link is up: that link and how its digest compares. */
  readonly #peers = new Map<NodeId, { connId: number; agreement: ChannelConfigAgreement }>();
  readonly #mismatches: Counter<'peer'>;
  readonly #unsubscribe: () => void;
  readonly #log: Logger;

  constructor(opts: {
    digest: Uint8Array;
    transport: Transport;
    metrics: MetricsRegistry;
    logger: Logger;
  }) {
    this.digest = hex(opts.digest);
    this.#log = opts.logger;
    this.#mismatches = new Counter({
      name: 'subnet_p2p_node_channel_config_mismatch_total',
      help: 'Links that came up with a peer whose channel-config digest differs from ours',
      labelNames: ['peer'],
      registers: [opts.metrics],
    });
    const peers = this.#peers;
    new Gauge({
      name: 'subnet_p2p_node_channel_config_mismatched_peers',
      help: 'Peers linked now whose channel-config digest differs from ours',
      registers: [opts.metrics],
      collect() {
        let n = 0;
        for (const p of peers.values()) if (p.agreement === 'different') n++;
        this.set(n);
      },
    });
    this.#unsubscribe = opts.transport.subscribe((e) => this.#onEvent(e));
  }

  /** How `peer`'s channel configuration compares with ours (`unknown` without a link up). */
  agreement(peer: NodeId): ChannelConfigAgreement {
    return this.#peers.get(peer)?.agreement ?? 'unknown';
  }

  #onEvent(e: TransportEvent): void {
    if (e.type === 'peer-down') {
      if (this.#peers.get(e.peer)?.connId === e.connId) this.#peers.delete(e.peer);
      return;
    }
    if (e.type !== 'peer-up') return;
    const theirs = e.appDigest === undefined ? undefined : hex(e.appDigest);
    const agreement: ChannelConfigAgreement =
      theirs === undefined ? 'unknown' : theirs === this.digest ? 'same' : 'different';
    this.#peers.set(e.peer, { connId: e.connId, agreement });
    if (agreement === 'different') {
      this.#mismatches.inc({ peer: e.peer });
      this.#log.warn(
        { peer: e.peer, connId: e.connId, ours: this.digest, theirs },
        'channel configuration differs from the peer: every node of a subnet must configure the same channels',
      );
    } else if (agreement === 'unknown') {
      this.#log.debug({ peer: e.peer }, 'peer sent no channel-config digest');
    }
  }

  /** Stops listening to the transport. */
  stop(): void {
    this.#unsubscribe();
  }
}
