import { Registry as MetricsRegistry } from 'prom-client';
import {
  type ArtifactPool,
  BroadcastDriver,
  BroadcastMetrics,
  type Channel,
  type ChannelConfig,
  ChannelEndpoint,
  type ChunkStore,
  type DownloadLimits,
  InMemoryChunkStore,
  InMemoryPool,
  MAX_ATTRIBUTES_BYTES,
  manifestBytes,
  NodeEnvironment,
  resolveChannel,
  resolveDownloadLimits,
} from '../broadcast/index.ts';
import { ConfigError, UnknownChannelError } from '../errors.ts';
import type { NodeId, NodeIdentity } from '../identity/index.ts';
import { LimitLog } from '../limit-log.ts';
import { defaultLogger, type Logger } from '../log.ts';
import type { HostPort, RegistryClient } from '../registry/index.ts';
import {
  type BackoffOptions,
  createTransport,
  Lane,
  type LinkTiming,
  resolveLimits,
  type TopologyOptions,
  type Transport,
  type TransportLimits,
} from '../transport/index.ts';
import {
  type ChannelConfigAgreement,
  ChannelConfigWatch,
  channelConfigDigest,
} from './channel-digest.ts';

const MIB = 1024 * 1024;

/**
 * The channels of a node created without `channels`: `consensus` (high lane, artifacts up to
 * 1 KiB pushed inline) and `ingress` (bulk lane, advertised and pulled); both up to 4 MiB.
 */
export const DEFAULT_NODE_CHANNELS: Readonly<Record<string, Partial<ChannelConfig>>> =
  Object.freeze({
    consensus: { lane: Lane.high, pushThresholdBytes: 1024, maxArtifactBytes: 4 * MIB },
    ingress: { lane: Lane.bulk, maxArtifactBytes: 4 * MIB },
  });

/**
 * The channels a node runs: {@link DEFAULT_NODE_CHANNELS} with `given` merged over them. A
 * channel in `given` gets its settings over the default channel of that name (if any); a default
 * channel not in `given` stays as it is; a default channel given as `null` is removed. The
 * daemon's config file merges its `channels` block the same way.
 *
 * Throws ERR_CONFIG (`channels.<name>`) for `null` on a name that is no default channel, and
 * (`channels`) when no channel is left.
 */
export function mergeNodeChannels(
  given: Readonly<Record<string, Partial<ChannelConfig> | null>> = {},
): Record<string, Partial<ChannelConfig>> {
  const out: Record<string, Partial<ChannelConfig>> = {};
  for (const [name, defaults] of Object.entries(DEFAULT_NODE_CHANNELS)) {
    if (given[name] !== null) out[name] = { ...defaults, ...given[name] };
  }
  for (const [name, settings] of Object.entries(given)) {
    if (Object.hasOwn(DEFAULT_NODE_CHANNELS, name)) continue;
    if (settings === null) {
      throw new ConfigError(
        `channels.${name}`,
        `null removes a default channel (${Object.keys(DEFAULT_NODE_CHANNELS).join(', ')}); '${name}' is not one`,
      );
    }
    out[name] = { ...settings };
  }
  if (Object.keys(out).length === 0) {
    throw new ConfigError(
      'channels',
      'at least one channel is needed (null removed every default channel)',
    );
  }
  return out;
}

/**
 * Room left in a transport message for what wraps an artifact (FetchResponse or SlotUpdates,
 * Response, Envelope): far more than the few dozen bytes it takes.
 */
const WRAPPING_BYTES = 4096;

/** Options of {@link createNode}. */
export interface NodeOptions {
  identity: NodeIdentity;
  /** Where the node learns the members of its subnet (followed live). */
  registry: RegistryClient;
  subnet: string;
  /** Where to listen for peers. Default: the node's own address in the registry. Port 0 = any. */
  listen?: HostPort;
  /**
   * The channels, by name (1-63 of [a-z0-9_-]), merged over {@link DEFAULT_NODE_CHANNELS} as
   * {@link mergeNodeChannels} says: a named channel's settings over its defaults (those of the
   * default channel of that name, else `DEFAULT_CHANNEL`), default channels not named stay, and
   * `null` removes a default channel (`{ consensus: null, ingress: null, blocks: {...} }` runs
   * only `blocks`). Every node of a subnet must configure the same channels (peers compare a
   * digest of them: {@link channelConfigDigest}). Default: the default channels.
   */
  channels?: Record<string, Partial<ChannelConfig> | null>;
  /** A pool per channel name; channels without one get an {@link InMemoryPool} (1 GiB). */
  pools?: Record<string, ArtifactPool>;
  /**
   * A chunk store per channel with `chunking`; those without one get an
   * {@link InMemoryChunkStore} (1 GiB). Use a `DiskChunkStore` for large artifacts, and to
   * resume downloads after a restart.
   */
  chunkStores?: Record<string, ChunkStore>;
  /** Download limits, merged over `DEFAULT_DOWNLOAD_LIMITS`. */
  downloads?: Partial<DownloadLimits>;
  /** Transport settings, passed through to `createTransport`. */
  transport?: {
    limits?: Partial<TransportLimits>;
    timing?: Partial<LinkTiming>;
    backoff?: Partial<BackoffOptions>;
    topology?: Partial<TopologyOptions>;
  };
  /**
   * Artifacts each `received()` iterator buffers for a slow reader before it drops the oldest.
   * Default 10 000.
   */
  maxBufferedDeliveries?: number;
  logger?: Logger;
  /** prom-client registry for the transport's and the broadcast layer's metrics. Default: a new one. */
  metrics?: MetricsRegistry;
  /** Clock, ms. Default: `performance.timeOrigin + performance.now()`. */
  now?: () => number;
}

/** A running node: a transport plus the broadcast layer on it. */
export interface Node {
  readonly nodeId: NodeId;
  /** The address the node listens on for peers (the real port when 0 was asked for). */
  readonly address: HostPort;
  /** The channel named `name`; throws ERR_UNKNOWN_CHANNEL if it is not configured. */
  channel(name: string): Channel;
  /** The names of the configured channels. */
  channels(): string[];
  /** The node's transport (peers, link events, transport metrics). */
  readonly transport: Transport;
  /**
   * The digest of the channel settings peers must agree on, hex (sent in the Hello; see
   * {@link channelConfigDigest}).
   */
  readonly channelConfigDigest: string;
  /**
   * How `peer`'s channel configuration compares with ours, by the digest its Hello carried on
   * the link that is up: `same`, `different` (logged and counted), or `unknown` (no digest, or
   * no link up).
   */
  channelConfigOf(peer: NodeId): ChannelConfigAgreement;
  /** The prom-client registry with every metric of the node. */
  readonly metrics: MetricsRegistry;
  /**
   * Stops the node: the broadcast layer stops (timers cleared, fetches cancelled), every
   * `received()` iterator ends once drained, and the transport closes each link with a Goodbye.
   * Idempotent; resolves when every socket is closed.
   */
  stop(): Promise<void>;
}

function resolveChannels(
  channels: Record<string, Partial<ChannelConfig>>,
  maxMessageBytes: number,
): Map<string, ChannelConfig> {
  const out = new Map<string, ChannelConfig>();
  for (const [name, partial] of Object.entries(channels)) {
    const cfg = resolveChannel(name, partial);
    // An artifact (and its attributes, when inline) must fit in one transport message; with
    // chunking, an unchunked artifact, a chunk, and a manifest must. A chunk is no larger than
    // its artifact, and a manifest has at most one hash per byte of it (adverts claiming more
    // are refused), so a channel of small artifacts needs no room for 4 MiB chunks.
    const k = cfg.chunking;
    const whole = k
      ? Math.max(
          Math.min(k.thresholdBytes, cfg.maxArtifactBytes),
          Math.min(k.maxChunkBytes, cfg.maxArtifactBytes),
          Math.min(k.maxManifestBytes, manifestBytes(cfg.maxArtifactBytes)),
        )
      : cfg.maxArtifactBytes;
    const largest = whole + MAX_ATTRIBUTES_BYTES + WRAPPING_BYTES;
    if (largest > maxMessageBytes) {
      throw new ConfigError(
        `channels.${name}.maxArtifactBytes`,
        `${cfg.maxArtifactBytes} does not fit in a transport message (limits.maxMessageBytes ${maxMessageBytes}, less ${MAX_ATTRIBUTES_BYTES + WRAPPING_BYTES} bytes for attributes and framing)`,
      );
    }
    out.set(name, cfg);
  }
  return out;
}

/**
 * Creates and starts a node of a permissioned subnet: a mutual-TLS transport that links the
 * subnet's members (following the registry live), and on it the broadcast layer, with one
 * {@link Channel} per configured channel. Resolves once the node is listening.
 *
 * Throws ERR_CONFIG for an invalid channel, pool or download setting.
 *
 * @example
 * const node = await createNode({
 *   identity: await loadIdentity('keys/node-1'),
 *   registry: await FileRegistryClient.open('registry.json'),
 *   subnet: 'subnet-a',
 *   listen: { host: '0.0.0.0', port: 4100 },
 * });
 * const consensus = node.channel('consensus');
 * const id = consensus.broadcast(new TextEncoder().encode('block 1'));
 * for await (const artifact of node.channel('ingress').received()) {
 *   console.log(artifact.from, artifact.id, artifact.chunked?.size ?? artifact.bytes.length);
 * }
 * await node.stop();
 */
export async function createNode(options: NodeOptions): Promise<Node> {
  const logger = options.logger ?? defaultLogger();
  const metrics = options.metrics ?? new MetricsRegistry();
  const limits = resolveLimits(options.transport?.limits);
  const channelConfigs = resolveChannels(
    mergeNodeChannels(options.channels),
    limits.maxMessageBytes,
  );
  const pools = new Map<string, ArtifactPool>();
  for (const name of Object.keys(options.pools ?? {})) {
    if (!channelConfigs.has(name)) {
      throw new ConfigError(`pools.${name}`, 'names no configured channel');
    }
  }
  for (const [name, cfg] of channelConfigs) {
    // The channel's retention keeps its bytes under maxBytes; the pool's bound is the same.
    pools.set(name, options.pools?.[name] ?? new InMemoryPool({ maxBytes: cfg.maxBytes }));
  }
  const chunkStores = new Map<string, ChunkStore>();
  for (const [name, cfg] of channelConfigs) {
    if (cfg.chunking)
      chunkStores.set(name, options.chunkStores?.[name] ?? new InMemoryChunkStore());
  }
  const downloads = resolveDownloadLimits(options.downloads);
  const maxBufferedDeliveries = options.maxBufferedDeliveries;
  if (
    maxBufferedDeliveries !== undefined &&
    !(Number.isSafeInteger(maxBufferedDeliveries) && maxBufferedDeliveries > 0)
  ) {
    throw new ConfigError(
      'maxBufferedDeliveries',
      `must be a positive integer, got ${maxBufferedDeliveries}`,
    );
  }

  const endpoints = new Map<string, ChannelEndpoint>();
  const broadcastLogger = logger.child({ node: options.identity.nodeId });
  const environment = new NodeEnvironment({ now: options.now, chunkStores });
  const observer: BroadcastMetrics = new BroadcastMetrics(metrics, () => driver.core.stats(), {
    channels: channelConfigs.keys(),
    limits: new LimitLog(broadcastLogger.child({ component: 'broadcast' })),
  });
  const driver: BroadcastDriver = new BroadcastDriver({
    self: options.identity.nodeId,
    channels: channelConfigs,
    pools,
    downloads,
    environment,
    observer,
    logger: broadcastLogger,
    deliver: (artifact) => endpoints.get(artifact.channel)?.deliver(artifact),
    chunkStores,
    onProgress: (progress) => endpoints.get(progress.channel)?.progress(progress),
    onRemoved: (channel, id, reason) => endpoints.get(channel)?.removed(id, reason),
    // The transport exists before the first event reaches the core.
    linked: (a, b) => transport.linked(a, b),
    neighbors: (node) => transport.neighborsOf(node),
  });
  const host = {
    add: driver.add.bind(driver),
    abort: driver.abort.bind(driver),
    get: driver.get.bind(driver),
    reprioritize: driver.reprioritize.bind(driver),
    purge: driver.purge.bind(driver),
    purgeBelow: driver.purgeBelow.bind(driver),
    list: driver.list.bind(driver),
    stats: driver.stats.bind(driver),
    deliveryDropped: (channel: string) => observer.deliveryDropped(channel),
    addStream: driver.addStream.bind(driver),
    stream: driver.stream.bind(driver),
    chunkedInfo: driver.chunkedInfo.bind(driver),
  };
  for (const name of channelConfigs.keys()) {
    endpoints.set(name, new ChannelEndpoint(name, host, { maxBufferedDeliveries }));
  }

  const transport = createTransport({
    identity: options.identity,
    registry: options.registry,
    subnet: options.subnet,
    listen: options.listen,
    limits: options.transport?.limits,
    timing: options.transport?.timing,
    backoff: options.transport?.backoff,
    topology: options.transport?.topology,
    logger,
    metrics,
    appDigest: channelConfigDigest(channelConfigs),
    ...environment.handlers(driver, broadcastLogger.child({ component: 'broadcast' })),
  });
  const channelWatch = new ChannelConfigWatch({
    digest: channelConfigDigest(channelConfigs),
    transport,
    metrics,
    logger: logger.child({ component: 'node', node: options.identity.nodeId }),
  });
  environment.attach(transport, driver);
  let address: HostPort;
  try {
    await driver.resume();
    address = await transport.start();
  } catch (err) {
    driver.stop();
    environment.detach();
    channelWatch.stop();
    await transport.stop();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    nodeId: options.identity.nodeId,
    address,
    transport,
    metrics,
    channel(name: string): Channel {
      const ch = endpoints.get(name);
      if (!ch) throw new UnknownChannelError(name);
      return ch;
    },
    channels: () => [...endpoints.keys()],
    channelConfigDigest: channelWatch.digest,
    channelConfigOf: (peer) => channelWatch.agreement(peer),
    stop(): Promise<void> {
      stopping ??= (async () => {
        driver.stop();
        environment.detach();
        channelWatch.stop();
        for (const ch of endpoints.values()) ch.end();
        await transport.stop();
        await Promise.all([...chunkStores.values()].map((store) => store.close?.()));
      })();
      return stopping;
    },
  };
}
