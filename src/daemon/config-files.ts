/**
 * The files a daemon config names, opened as the daemon opens them: its identity, the operator's
 * public key, the registry (read and signature-checked), the data folder and the API's TLS
 * files. `startDaemon` and `subnet-p2p node --check` both go through here, so the check finds
 * exactly what a start would trip on. A file that cannot be used is a {@link ConfigError} naming
 * the config field.
 * @module
 */

import type { KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Registry as MetricsRegistry } from 'prom-client';
import {
  ConfigError,
  IdentityError,
  RegistryFormatError,
  RegistrySignatureError,
  type SubnetP2pError,
} from '../errors.ts';
import { loadIdentity, type NodeIdentity } from '../identity/index.ts';
import { type Logger, silentLogger } from '../log.ts';
import {
  FileRegistryClient,
  loadOperatorPublicKey,
  operatorKeyFingerprint,
} from '../registry/index.ts';
import { prepareApiToken } from './api-token.ts';
import type { DaemonConfig } from './config.ts';

/** Wraps a failure to read a file the config names as a ConfigError on that field. */
export function asConfigError(field: string, err: unknown): unknown {
  if (
    err instanceof IdentityError ||
    err instanceof RegistryFormatError ||
    err instanceof RegistrySignatureError ||
    err instanceof ConfigError
  ) {
    return new ConfigError(field, (err as SubnetP2pError).message, { cause: err });
  }
  return err;
}

/** What {@link openConfiguredFiles} opened. */
export interface ConfiguredFiles {
  identity: NodeIdentity;
  /** The operator's key (`registryPublicKey`), if the config names one. */
  operatorPublicKey: KeyObject | undefined;
  /** The registry file, read, validated and followed (close it when done). */
  registry: FileRegistryClient;
}

/**
 * Loads the identity and the operator key and opens the registry file, each failure a
 * {@link ConfigError} naming `identityDir`, `registryPublicKey` or `registryFile`.
 */
export async function openConfiguredFiles(
  config: DaemonConfig,
  opts: { logger: Logger; metrics?: MetricsRegistry },
): Promise<ConfiguredFiles> {
  const identity = await loadIdentity(config.identityDir).catch((err) => {
    throw asConfigError('identityDir', err);
  });
  const operatorPublicKey =
    config.registryPublicKey === undefined
      ? undefined
      : await loadOperatorPublicKey(config.registryPublicKey).catch((err) => {
          throw asConfigError('registryPublicKey', err);
        });
  const registry = await FileRegistryClient.open(config.registryFile, {
    operatorPublicKey,
    metrics: opts.metrics,
    logger: opts.logger,
    pollIntervalMs: config.limits.registryPollIntervalMs,
  }).catch((err) => {
    throw asConfigError('registryFile', err);
  });
  return { identity, operatorPublicKey, registry };
}

/**
 * Whether the daemon could write its data folder, without creating anything: the folder, or its
 * nearest existing ancestor (the daemon creates the rest), must be a folder this process may
 * write and enter. Throws {@link ConfigError} on `dataDir`.
 */
export async function checkDataDir(dir: string): Promise<void> {
  let at = dir;
  for (;;) {
    try {
      const s = await stat(at);
      if (!s.isDirectory()) throw new ConfigError('dataDir', `${at} is not a folder`);
      break;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(at) === at) {
        throw new ConfigError('dataDir', `cannot use ${at} (${code ?? String(err)})`, {
          cause: err,
        });
      }
      at = dirname(at);
    }
  }
  try {
    await access(at, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const what = at === dir ? dir : `${dir} (to be created in ${at})`;
    throw new ConfigError('dataDir', `cannot write ${what} (${code})`, { cause: err });
  }
}

/**
 * Whether the API's TLS files (`apiTls`) make a TLS context: both readable, PEM, and the key
 * matching the certificate. Throws {@link ConfigError} on `apiTls.cert` or `apiTls.key`.
 */
export async function checkApiTls(tls: { cert: string; key: string }): Promise<void> {
  const read = (field: 'cert' | 'key') =>
    readFile(tls[field]).catch((err) => {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(`apiTls.${field}`, `cannot read ${tls[field]} (${code})`, {
        cause: err,
      });
    });
  // In turn, not at once: with both missing, the error names the certificate every time (two
  // reads at once failed in either order, and node-check.test.ts saw both).
  const cert = await read('cert');
  const key = await read('key');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const message = (err as Error).message;
    // OpenSSL names the key in its messages about the key and about a key/cert mismatch.
    const field = /key/i.test(message) ? 'apiTls.key' : 'apiTls.cert';
    throw new ConfigError(field, `not a usable certificate and key: ${message}`, { cause: err });
  }
}

/** What `node --check` found: a good config, and what the node would run as. */
export interface CheckSummary {
  nodeId: string;
  subnet: string;
  registryVersion: number;
  /** The operator key's fingerprint, if versions must be signed by it. */
  operatorKey: string | undefined;
  /** This node's address in the registry's subnet, or undefined if it is not listed. */
  listedAt: string | undefined;
}

/**
 * Everything `startDaemon` checks before it binds a port, without starting anything: the files
 * the config names ({@link openConfiguredFiles}, then closed), the data folder
 * ({@link checkDataDir}), the API's TLS files ({@link checkApiTls}) and an `apiTokenFile`
 * (read as at start). Throws the first {@link ConfigError}; nothing is written.
 */
export async function checkDaemonConfig(config: DaemonConfig): Promise<CheckSummary> {
  const { identity, operatorPublicKey, registry } = await openConfiguredFiles(config, {
    logger: silentLogger(),
  });
  const current = registry.current();
  await registry.close();
  await checkDataDir(config.dataDir);
  if (config.apiTls !== undefined) await checkApiTls(config.apiTls);
  // An operator-managed token file is only read (the default one is written at start).
  if (config.apiTokenFile !== undefined) {
    await prepareApiToken(config.dataDir, config.apiTokenFile, silentLogger());
  }
  const members = current.subnets.get(config.subnet as never) ?? [];
  const listed = members.includes(identity.nodeId);
  return {
    nodeId: identity.nodeId,
    subnet: config.subnet,
    registryVersion: current.version,
    operatorKey: operatorPublicKey && operatorKeyFingerprint(operatorPublicKey),
    listedAt: listed ? current.nodes.get(identity.nodeId)?.address : undefined,
  };
}
