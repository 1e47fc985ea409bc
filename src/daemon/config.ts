/**
 * The daemon's configuration file: JSON, validated with a zod schema. Every problem is
 * reported as a {@link ConfigError} naming the field (dotted path), e.g. `channels.ingress.lane`.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  CHANNEL_NAME_PATTERN,
  CHANNEL_NAME_RULE,
  type ChannelFileSettings,
  channelFileSchema,
} from '../broadcast/channel-schema.ts';
import {
  type ChunkingConfig,
  DEFAULT_CHANNEL,
  DEFAULT_CHUNKING,
  DEFAULT_DOWNLOAD_LIMITS,
  type DownloadLimits,
  resolveChannel,
  resolveDownloadLimits,
} from '../broadcast/index.ts';
import { ConfigError } from '../errors.ts';
import { DEFAULT_NODE_CHANNELS } from '../node/index.ts';
import { addressProblem, type HostPort, SUBNET_NAME_PATTERN } from '../registry/index.ts';
import { Lane } from '../transport/index.ts';

const MIB = 1024 * 1024;

/** Largest config file read, bytes. */
export const MAX_CONFIG_BYTES = 1 * MIB;

/**
 * Default `dataDir`, in `identityDir`: one per node (two configs in one folder never share it),
 * and writable where the node's key is (`/var/lib/subnet-p2p` in docs/deploy.md).
 */
export const DEFAULT_DATA_DIR = 'data';

/** The daemon's log formats (`logFormat`, `--log-format`): JSON lines, or pino-pretty's. */
export const LOG_FORMATS = ['json', 'pretty'] as const;

/** One of {@link LOG_FORMATS}. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Default `api`: loopback only. */
export const DEFAULT_API_ADDRESS = '127.0.0.1:4180';

/** Defaults of the daemon's own bounds (`limits` in the config file). */
export const DEFAULT_DAEMON_LIMITS = Object.freeze({
  /** Open `events` streams, all channels; one more is refused with 503. */
  maxEventStreams: 64,
  /** Events queued for one stream whose client reads too slowly; over it the stream is closed. */
  maxEventBacklog: 1000,
  /** Concurrent API requests that carry a body (POST); one more is refused with 503. */
  maxConcurrentUploads: 16,
  /** Samples kept for the status page's charts (at `statusSampleMs` each: 10 minutes). */
  statusHistorySamples: 600,
  /** How often the status page's figures are sampled, ms. */
  statusSampleMs: 1000,
  /** How often the registry file is checked for changes, ms. */
  registryPollIntervalMs: 1000,
  /** Longest graceful shutdown, ms: after it, links are closed whatever is still queued. */
  shutdownTimeoutMs: 10_000,
  /** Shutdown waits until nothing was sent on the high and bulk lanes for this long, ms. */
  shutdownQuietMs: 500,
  /** Comment line sent on idle event streams so that proxies keep them open, ms. */
  eventKeepAliveMs: 15_000,
  /**
   * A node that the adopted registry no longer lists in its subnet (removed, or never added)
   * for this long stops gracefully and exits 0, ms; listed again within it, it carries on.
   */
  removedGraceMs: 60_000,
  /** The API's `headersTimeout`: a request whose headers take longer is answered 408, ms. */
  apiHeadersTimeoutMs: 10_000,
  /**
   * The slowest average rate an API request body (an upload) may arrive at, bytes per second,
   * once `uploadGraceMs` of waiting for it have passed: a slower one is answered 408
   * `ERR_UPLOAD_TOO_SLOW` and its upload slot freed. Only the time spent waiting for the
   * client counts (not the node's own writes).
   */
  uploadMinBytesPerSecond: 16_384,
  /** How long an upload may wait for its client before its rate is checked, ms. */
  uploadGraceMs: 5000,
});

export type DaemonLimits = { -readonly [K in keyof typeof DEFAULT_DAEMON_LIMITS]: number };

/** One channel as the config file gives it (the priority and validation hooks stay default). */
export interface DaemonChannelConfig {
  lane: Lane;
  pushThresholdBytes: number;
  maxArtifactBytes: number;
  maxSlots: number;
  relay: 'relay' | 'origin-only';
  /** Artifacts expire this long after their origin broadcast them, ms (default 10 minutes). */
  maxAgeMs: number;
  /**
   * Bytes the channel holds at most, pool and chunk store (default: 256 MiB, or more if
   * `maxArtifactBytes / peerShare` needs it).
   */
  maxBytes: number;
  /** The share of slots and bytes the artifacts charged to one peer may take, in (0, 1]. */
  peerShare: number;
  /**
   * Chunking of artifacts above `thresholdBytes`, merged over `DEFAULT_CHUNKING` (the file may
   * give some fields or none); undefined when the file says `"chunking": null` (off: every
   * artifact travels whole). The key is always present, so that `createNode` takes undefined as
   * off rather than as the default.
   */
  chunking: ChunkingConfig | undefined;
}

/** A validated daemon config; paths are absolute (resolved against the config file's folder). */
export interface DaemonConfig {
  identityDir: string;
  registryFile: string;
  /**
   * Where chunked artifacts are kept, one folder per channel (a `DiskChunkStore`: memory stays
   * bounded whatever the artifact size, and downloads resume after a restart); undefined keeps
   * them in memory (1 GiB per channel).
   */
  chunkDir: string | undefined;
  /**
   * The node's data folder: artifacts accepted through the API (201) are stored durably under
   * `<dataDir>/accepted/<channel>/` until they leave their channel (see `durable-store.ts`).
   * Default: `<identityDir>/data`. One node per dataDir.
   */
  dataDir: string;
  /** Whether a 201 waits for the durable store (default true; false: memory only). */
  durable: boolean;
  /** Download limits, merged over `DEFAULT_DOWNLOAD_LIMITS`. */
  downloads: DownloadLimits;
  registryPublicKey: string | undefined;
  subnet: string;
  listen: HostPort;
  api: HostPort;
  /**
   * Every channel the node runs: the file's `channels` block merged over the default channels
   * (`consensus`, `ingress`; one set to `null` is removed), each resolved over its defaults.
   */
  channels: Record<string, DaemonChannelConfig>;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `json` (default): pino JSON lines; `pretty`: human lines (pino-pretty), for a terminal. */
  logFormat: LogFormat;
  limits: DaemonLimits;
  /**
   * A file holding the API's bearer token (operator-managed); undefined: the daemon makes a new
   * token at every start and writes it to `<dataDir>/api-token` (mode 0600).
   */
  apiTokenFile: string | undefined;
  /** Host names (besides localhost, 127.0.0.1, [::1] and the `api` host) the API answers to. */
  apiHosts: string[];
  /** The API over HTTPS: PEM certificate (chain) and key files; undefined: plain HTTP. */
  apiTls: { cert: string; key: string } | undefined;
  /** Allows plain HTTP on a non-loopback `api` address (default false: TLS is required). */
  apiAllowPlainHttp: boolean;
  /** `/readyz`: the share of neighbours, in [0, 1], a link must be up to (default 0.5). */
  readyPeerShare: number;
}

/**
 * Parses `host:port` where port may be 0 (any port): an IPv4 address, a DNS name, or an IPv6
 * address in brackets. Returns the problem as a string for the schema to report.
 */
export function parseHostPort(text: string): HostPort | string {
  const m = /^(.*):(0|[1-9][0-9]{0,4})$/.exec(text);
  // addressProblem checks hosts and ports 1..65535; port 0 is checked as 1.
  const problem = addressProblem(m?.[2] === '0' ? `${m[1]}:1` : text);
  if (problem !== undefined || m === null) return problem ?? `'${text}' is not host:port`;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port: Number(m[2]) };
}

const hostPort = z.string().transform((text, ctx): HostPort => {
  const parsed = parseHostPort(text);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed });
    return z.NEVER;
  }
  return parsed;
});

const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

const limitsSchema = z
  .object(
    Object.fromEntries(Object.keys(DEFAULT_DAEMON_LIMITS).map((k) => [k, positiveInt.optional()])),
  )
  .strict();

/**
 * `downloads`: any of the download limits (the rest from DEFAULT_DOWNLOAD_LIMITS). Only the
 * names are checked here; the values are the library's `resolveDownloadLimits`'s to check.
 */
const downloadsSchema = z
  .object(Object.fromEntries(Object.keys(DEFAULT_DOWNLOAD_LIMITS).map((k) => [k, z.unknown()])))
  .strict();

/** An `apiHosts` entry: a DNS name, an IPv4 address, or an IPv6 address (brackets optional). */
const API_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[?[0-9A-Fa-f:.]+\]?)$/;

/** Default `readyPeerShare`. */
export const DEFAULT_READY_PEER_SHARE = 0.5;

/** Whether an `api` host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const configSchema = z
  .object({
    identityDir: z.string().min(1),
    registryFile: z.string().min(1),
    registryPublicKey: z.string().min(1).optional(),
    chunkDir: z.string().min(1).optional(),
    dataDir: z.string().min(1).optional(),
    durable: z.boolean().optional(),
    downloads: downloadsSchema.optional(),
    subnet: z.string().regex(SUBNET_NAME_PATTERN, 'is not a valid subnet name'),
    listen: hostPort,
    api: hostPort.optional(),
    // Merged over the default channels (see parseDaemonConfig); null removes a default one.
    channels: z
      .record(z.string(), channelFileSchema.nullable())
      .superRefine((channels, ctx) => {
        for (const [name, settings] of Object.entries(channels)) {
          if (!CHANNEL_NAME_PATTERN.test(name)) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: CHANNEL_NAME_RULE });
          } else if (settings === null && !Object.hasOwn(DEFAULT_NODE_CHANNELS, name)) {
            ctx.addIssue({
              code: z.ZodIssueCode.custom,
              path: [name],
              message: `null removes a default channel (${Object.keys(DEFAULT_NODE_CHANNELS).join(', ')}); '${name}' is not one`,
            });
          }
        }
        const left = Object.keys(mergedChannelNames(channels));
        if (left.length === 0) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: 'at least one channel is needed (null removed every default channel)',
          });
        }
      })
      .optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    logFormat: z.enum(LOG_FORMATS).optional(),
    limits: limitsSchema.optional(),
    apiTokenFile: z.string().min(1).optional(),
    apiHosts: z.array(z.string().regex(API_HOST, 'is not a host name or IP address')).optional(),
    apiTls: z
      .object({ cert: z.string().min(1), key: z.string().min(1) })
      .strict()
      .optional(),
    apiAllowPlainHttp: z.boolean().optional(),
    readyPeerShare: z.number().min(0).max(1).optional(),
  })
  .strict();

type ChannelInput = ChannelFileSettings;

/**
 * The channels a config runs: the default channels (`consensus`, `ingress`) with the given
 * block merged over them. A named channel keeps its settings (merged later over its defaults),
 * a default channel not named stays with its defaults, and a channel set to `null` is removed.
 * The order is the defaults' first, then the others as given.
 */
function mergedChannelNames(
  given: Record<string, ChannelInput | null>,
): Record<string, ChannelInput> {
  const merged: Record<string, ChannelInput | null> = {};
  for (const name of Object.keys(DEFAULT_NODE_CHANNELS)) merged[name] = {};
  Object.assign(merged, given);
  return Object.fromEntries(
    Object.entries(merged).filter((e): e is [string, ChannelInput] => e[1] !== null),
  );
}

function fieldOf(path: readonly (string | number)[]): string {
  return path.length === 0 ? '(root)' : path.join('.');
}

/**
 * Validates a parsed config object. `baseDir` is where relative paths start (the config file's
 * folder). Throws {@link ConfigError} naming the first offending field.
 */
export function parseDaemonConfig(input: unknown, baseDir: string): DaemonConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    let message = issue.message;
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      // Name the unknown key itself, not its parent.
      const key = issue.keys[0]!;
      throw new ConfigError(fieldOf([...issue.path, key]), 'is not a known setting');
    }
    if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') {
      message = 'is required';
    }
    throw new ConfigError(fieldOf(issue.path), message);
  }
  const c = result.data;
  const channels: Record<string, DaemonChannelConfig> = {};
  for (const [name, ch] of Object.entries(mergedChannelNames(c.channels ?? {}))) {
    const defaults = { ...DEFAULT_CHANNEL, ...DEFAULT_NODE_CHANNELS[name] };
    const settings: Omit<DaemonChannelConfig, 'maxBytes'> = {
      lane: ch.lane === undefined ? defaults.lane : ch.lane === 'high' ? Lane.high : Lane.bulk,
      pushThresholdBytes: ch.pushThresholdBytes ?? defaults.pushThresholdBytes,
      maxArtifactBytes: ch.maxArtifactBytes ?? defaults.maxArtifactBytes,
      maxSlots: ch.maxSlots ?? defaults.maxSlots,
      relay: ch.relay ?? defaults.relay,
      maxAgeMs: ch.maxAgeMs ?? defaults.maxAgeMs,
      peerShare: ch.peerShare ?? defaults.peerShare,
      chunking:
        ch.chunking === null
          ? undefined
          : ({ ...DEFAULT_CHUNKING, ...ch.chunking } as ChunkingConfig),
    };
    // What only the settings together can break (chunkBytes over maxChunkBytes, a manifest
    // over maxManifestBytes, maxBytes x peerShare under maxArtifactBytes): a ConfigError
    // naming the field, before anything starts. It also gives maxBytes its default.
    const { maxBytes } = resolveChannel(name, { ...settings, maxBytes: ch.maxBytes });
    channels[name] = { ...settings, maxBytes };
  }
  const limits = { ...DEFAULT_DAEMON_LIMITS, ...c.limits } as DaemonLimits;
  const api = c.api ?? (parseHostPort(DEFAULT_API_ADDRESS) as HostPort);
  if (!isLoopbackHost(api.host) && c.apiTls === undefined && c.apiAllowPlainHttp !== true) {
    throw new ConfigError(
      'api',
      `${api.host} is not a loopback address: the API would be reachable from other machines; ` +
        'give apiTls (cert and key files) for HTTPS, or set apiAllowPlainHttp to true',
    );
  }
  if (limits.shutdownQuietMs >= limits.shutdownTimeoutMs) {
    throw new ConfigError('limits.shutdownQuietMs', 'must be less than limits.shutdownTimeoutMs');
  }
  // Integers where they must be, and the limits' relations: a ConfigError naming the field.
  const downloads = resolveDownloadLimits(c.downloads as Partial<DownloadLimits> | undefined);
  return {
    identityDir: resolve(baseDir, c.identityDir),
    registryFile: resolve(baseDir, c.registryFile),
    chunkDir: c.chunkDir === undefined ? undefined : resolve(baseDir, c.chunkDir),
    dataDir: resolve(baseDir, c.dataDir ?? join(c.identityDir, DEFAULT_DATA_DIR)),
    durable: c.durable ?? true,
    downloads,
    registryPublicKey:
      c.registryPublicKey === undefined ? undefined : resolve(baseDir, c.registryPublicKey),
    subnet: c.subnet,
    listen: c.listen,
    api,
    channels,
    logLevel: c.logLevel ?? 'info',
    logFormat: c.logFormat ?? 'json',
    limits,
    apiTokenFile: c.apiTokenFile === undefined ? undefined : resolve(baseDir, c.apiTokenFile),
    apiHosts: (c.apiHosts ?? []).map((h) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1')),
    apiTls:
      c.apiTls === undefined
        ? undefined
        : { cert: resolve(baseDir, c.apiTls.cert), key: resolve(baseDir, c.apiTls.key) },
    apiAllowPlainHttp: c.apiAllowPlainHttp ?? false,
    readyPeerShare: c.readyPeerShare ?? DEFAULT_READY_PEER_SHARE,
  };
}

/**
 * Reads and validates the config file at `path`. Throws {@link ConfigError}: field `config`
 * when the file cannot be read or is not JSON, else the offending field.
 */
export async function loadDaemonConfig(path: string): Promise<DaemonConfig> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_CONFIG_BYTES) {
      throw new ConfigError('config', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
    }
    text = bytes.toString('utf8');
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new ConfigError('config', `cannot read ${path} (${code})`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError('config', `${path} is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  return parseDaemonConfig(json, dirname(resolve(path)));
}
