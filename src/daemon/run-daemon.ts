/**
 * The standalone node: one node (identity, registry file followed live, channels) with its local
 * HTTP API, status page and metrics, and a graceful shutdown.
 * @module
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { type ChannelConfig, type ChunkStore, DiskChunkStore } from '../broadcast/index.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createNode, DEFAULT_NODE_CHANNELS, type Node } from '../node/index.ts';
import type { AdoptionResult, HostPort, SubnetId } from '../registry/index.ts';
import { Lane } from '../transport/index.ts';
import { ApiGuard } from './api-guard.ts';
import { type Readiness, readinessOf } from './api-health.ts';
import { type ApiServer, apiBaseUrl, createApiServer, warnIfReachable } from './api-server.ts';
import { prepareApiToken, TokenCheck } from './api-token.ts';
import type { DaemonConfig } from './config.ts';
import { openConfiguredFiles } from './config-files.ts';
import { durableAccept, removeRecordsOnRemoval, restoreAccepted } from './durable-accept.ts';
import { DurableStore } from './durable-store.ts';
import { createApiHandler } from './http-api.ts';
import { DaemonMetrics, registerReadyGauge } from './metrics.ts';
import { type Removal, watchRemoval } from './removal.ts';
import { EventStreams } from './sse.ts';
import { StatusHistory } from './status-history.ts';

const STATUS_PAGE_DIR = new URL('./status-page/', import.meta.url);

/** A running daemon. */
export interface Daemon {
  readonly node: Node;
  /** Where the HTTP API listens (the real port when 0 was asked for). */
  readonly api: HostPort;
  /** The API's base URL, `http://host:port` (or `https://` with `apiTls`). */
  readonly apiUrl: string;
  /** The API's bearer token, and the file it is in (`<dataDir>/api-token` or `apiTokenFile`). */
  readonly apiToken: string;
  readonly apiTokenFile: string;
  /** What `GET /readyz` answers now. */
  readiness(): Readiness;
  /**
   * Re-reads the registry file now (as on SIGHUP): the decision about changed content, or
   * undefined if the file did not change.
   */
  reloadRegistry(): Promise<AdoptionResult | undefined>;
  /**
   * Resolves once the adopted registry has not listed this node in its subnet for
   * `limits.removedGraceMs` (removal.ts); the caller then stops the daemon. Never otherwise.
   */
  readonly removed: Promise<Removal>;
  /**
   * Graceful shutdown: new uploads and streams are refused, requests in progress finish, event
   * streams end, send queues drain and the links fall quiet (at most `limits.shutdownTimeoutMs`),
   * then every link closes with a Goodbye. Idempotent.
   */
  stop(): Promise<void>;
}

function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Stops accepting connections and waits for the requests in progress (at most `timeoutMs`). */
async function closeHttp(server: ApiServer, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(force);
}

/** With `chunkDir`, a disk chunk store per channel with chunking, in `<chunkDir>/<channel>`. */
function diskChunkStores(config: DaemonConfig): Record<string, ChunkStore> | undefined {
  const dir = config.chunkDir;
  if (dir === undefined) return undefined;
  const stores: Record<string, ChunkStore> = {};
  for (const [name, ch] of Object.entries(config.channels)) {
    if (ch.chunking) stores[name] = new DiskChunkStore(join(dir, name));
  }
  return stores;
}

/**
 * Starts a daemon from a validated config. Throws {@link ConfigError} (naming the field) when a
 * file the config names cannot be used: `identityDir`, `registryPublicKey`, `registryFile`.
 * `opts.chunkStores` gives channels with chunking their chunk store (default: on disk under
 * `chunkDir` if the config has one, else in memory).
 */
export async function startDaemon(
  config: DaemonConfig,
  opts: { logger?: Logger; chunkStores?: Record<string, ChunkStore> } = {},
): Promise<Daemon> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  const limits = config.limits;
  const startedAt = Date.now();
  // The API token is written (or read) before anything listens.
  const apiToken = await prepareApiToken(config.dataDir, config.apiTokenFile, logger);
  // Durable acceptance (on by default): a dataDir that cannot be written is a config error.
  const metrics = new MetricsRegistry();
  const daemonMetrics = new DaemonMetrics(metrics, Object.keys(config.channels));
  const durable = config.durable
    ? new DurableStore(config.dataDir, { logger, metrics: daemonMetrics })
    : undefined;
  await durable?.init(Object.keys(config.channels)).catch((err) => {
    throw new ConfigError('dataDir', (err as Error).message, { cause: err });
  });
  // The same loading as `node --check` (config-files.ts).
  const { identity, registry } = await openConfiguredFiles(config, { logger, metrics });

  // The config's channels are the whole set (already merged over the defaults): a default
  // channel it removed stays removed (createNode would merge it back otherwise).
  const channels: Record<string, Partial<ChannelConfig> | null> = {};
  for (const name of Object.keys(DEFAULT_NODE_CHANNELS)) channels[name] = null;
  for (const [name, ch] of Object.entries(config.channels)) channels[name] = { ...ch };
  let node: Node;
  try {
    node = await createNode({
      identity,
      registry,
      subnet: config.subnet,
      listen: config.listen,
      channels,
      chunkStores: opts.chunkStores ?? diskChunkStores(config),
      downloads: config.downloads,
      logger,
      metrics,
    });
  } catch (err) {
    await registry.close();
    throw err;
  }
  const names = node.channels();
  // Chunk stores on disk (the config's chunkDir, not stores given by the caller).
  const chunkDir = opts.chunkStores === undefined ? config.chunkDir : undefined;
  const stopRemovals = durable && removeRecordsOnRemoval(node, durable);
  if (durable) await restoreAccepted(node, durable, { logger, metrics: daemonMetrics });
  const streams = new EventStreams({
    maxBacklog: limits.maxEventBacklog,
    keepAliveMs: limits.eventKeepAliveMs,
    onClosed: (_channel, reason) => daemonMetrics.streamsClosed.inc({ reason }),
    onCount: (channel, open) => daemonMetrics.streams.set({ channel }, open),
  });

  // One reader per channel feeds the event streams and the delivered-bytes counter; each ends
  // when the node stops.
  const readers = names.map(async (name) => {
    for await (const artifact of node.channel(name).received()) {
      // A chunked artifact is delivered with empty bytes: its size is in `chunked`.
      const size = artifact.chunked?.size ?? artifact.bytes.length;
      daemonMetrics.deliveredBytes.inc({ channel: name }, size);
      streams.publish(artifact);
    }
  });

  const history = new StatusHistory(metrics, names, {
    sampleMs: limits.statusSampleMs,
    maxSamples: limits.statusHistorySamples,
  });
  await history.start();

  let draining = false;
  const readiness = () =>
    readinessOf({
      node,
      subnet: config.subnet,
      listed: () =>
        registry
          .current()
          ?.subnets.get(config.subnet as SubnetId)
          ?.includes(node.nodeId) === true,
      peerShare: config.readyPeerShare,
      draining: () => draining,
    });
  registerReadyGauge(metrics, () => readiness().ready);
  const guard = new ApiGuard({
    apiHost: config.api.host,
    port: () => (server.address() as AddressInfo | null)?.port ?? config.api.port,
    extraHosts: config.apiHosts,
    token: new TokenCheck(apiToken.token),
  });
  const handler = createApiHandler(
    {
      node,
      subnet: config.subnet,
      streams,
      history,
      metrics: daemonMetrics,
      limits,
      logger,
      draining: () => draining,
      guard,
      readiness,
      startedAt,
      maxArtifactBytes: (name) => config.channels[name]!.maxArtifactBytes,
      chunking: (name) => config.channels[name]!.chunking,
      accept:
        durable &&
        durableAccept(durable, (name) =>
          chunkDir === undefined ? undefined : join(chunkDir, name),
        ),
    },
    STATUS_PAGE_DIR,
  );
  let server: ApiServer;
  try {
    server = await createApiServer(config, handler);
    server.listen(config.api.port, config.api.host);
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
  } catch (err) {
    history.stop();
    streams.closeAll();
    await node.stop();
    await registry.close();
    throw err;
  }
  const apiAddress = server.address() as AddressInfo;
  const api = { host: apiAddress.address, port: apiAddress.port };
  const apiUrl = apiBaseUrl(config.apiTls !== undefined, api.host, api.port);
  warnIfReachable(config, logger);
  logger.info(
    {
      nodeId: node.nodeId,
      subnet: config.subnet,
      listen: formatHostPort(node.address),
      api: formatHostPort(api),
      apiUrl,
      apiTokenFile: apiToken.file,
      registryVersion: node.transport.registryVersion ?? null,
      channels: Object.keys(config.channels),
      channelConfigDigest: node.channelConfigDigest,
    },
    'node ready',
  );
  // A node the registry leaves out exits after a grace (removal.ts); watched from here on.
  const removal = watchRemoval({
    registry,
    subnet: config.subnet,
    nodeId: node.nodeId,
    graceMs: limits.removedGraceMs,
    logger,
  });

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    removal.stop();
    draining = true;
    const started = Date.now();
    streams.closeAll();
    await closeHttp(server, limits.shutdownTimeoutMs);
    await drainLinks(node, metrics, limits, started);
    history.stop();
    await node.stop();
    stopRemovals?.();
    await Promise.all(readers);
    await registry.close();
    logger.info({ ms: Date.now() - started }, 'node stopped');
  };

  return {
    node,
    api,
    apiUrl,
    apiToken: apiToken.token,
    apiTokenFile: apiToken.file,
    readiness,
    reloadRegistry: () => registry.checkNow(),
    removed: removal.removed,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}

/** Sum of the bytes sent on the high and bulk lanes so far. */
async function appBytesSent(metrics: MetricsRegistry): Promise<number> {
  const metric = metrics.getSingleMetric('subnet_p2p_transport_sent_bytes_total');
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => v.labels.lane === 'high' || v.labels.lane === 'bulk')
    .reduce((s, v) => s + v.value, 0);
}

/**
 * Waits until every send queue is empty and nothing was sent on the high and bulk lanes for
 * `shutdownQuietMs` (peers fetching what we advertised keep it busy), or until
 * `shutdownTimeoutMs` after `started`.
 */
async function drainLinks(
  node: Node,
  metrics: MetricsRegistry,
  limits: DaemonConfig['limits'],
  started: number,
): Promise<void> {
  const deadline = started + limits.shutdownTimeoutMs;
  const step = Math.max(10, Math.min(50, limits.shutdownQuietMs / 4));
  let sent = await appBytesSent(metrics);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const queued = node.transport
      .peers()
      .reduce(
        (s, p) =>
          s +
          node.transport.queuedBytes(p.nodeId, Lane.high) +
          node.transport.queuedBytes(p.nodeId, Lane.bulk),
        0,
      );
    const now = await appBytesSent(metrics);
    if (queued > 0 || now !== sent) {
      sent = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= limits.shutdownQuietMs) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, step));
  }
}
