/**
 * A registry client that watches a JSON file: reads it at start (must be good), then polls it
 * (stat, and a read when the stat changed) and offers changed content to the adoption rules.
 * A bad file never stops the client: the last good version is kept.
 * @module
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, RegistryFormatError, throwIfAborted } from '../errors.ts';
import { defaultLogger, type Logger } from '../log.ts';
import {
  type AdoptionResult,
  RegistryAdopter,
  type RegistryAdopterOptions,
  type RegistryRejection,
} from './adoption.ts';
import { errnoCode } from './files.ts';
import { readRegistryText, unreadableRegistryError } from './registry-file.ts';
import type { Registry, RegistryClient } from './types.ts';

/** Options of {@link FileRegistryClient.open}. */
export interface FileRegistryClientOptions extends Omit<RegistryAdopterOptions, 'source'> {
  /** How often the file is checked, in ms (default 1000). */
  readonly pollIntervalMs?: number;
  /** Closes the client when aborted. */
  readonly signal?: AbortSignal;
  /** Largest file accepted, bytes (default 16 MiB); a larger one is rejected as malformed. */
  readonly maxRegistryBytes?: number;
}

/** Default {@link FileRegistryClientOptions.pollIntervalMs}. */
export const DEFAULT_POLL_INTERVAL_MS = 1000;

/** What identifies one state of the file without reading it. */
async function fileStamp(path: string): Promise<string> {
  const s = await stat(path);
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/** A {@link RegistryClient} backed by a registry file that the operator replaces atomically. */
export class FileRegistryClient implements RegistryClient {
  /** The absolute path of the watched file. */
  readonly path: string;
  readonly #adopter: RegistryAdopter;
  readonly #log: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #maxBytes: number | undefined;
  readonly #onAbort = () => void this.close();
  #timer: NodeJS.Timeout | undefined;
  #stamp: string;
  #text: string;
  #running: Promise<AdoptionResult | undefined> | undefined;
  #closed = false;

  private constructor(
    path: string,
    adopter: RegistryAdopter,
    log: Logger,
    stamp: string,
    text: string,
    options: FileRegistryClientOptions,
  ) {
    this.path = path;
    this.#adopter = adopter;
    this.#log = log;
    this.#stamp = stamp;
    this.#text = text;
    this.#signal = options.signal;
    this.#maxBytes = options.maxRegistryBytes;
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    const interval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#timer = setInterval(() => void this.#tick(), interval);
    this.#timer.unref();
  }

  /**
   * Reads the registry file and starts watching it. The file must be readable (else
   * {@link ConfigError}, field `registry.path`) and hold a good document (else
   * `RegistryFormatError` or `RegistrySignatureError`). Throws `AbortError` if `signal` is
   * aborted, `IdentityError` for a bad operator key.
   */
  static async open(
    path: string,
    options: FileRegistryClientOptions = {},
  ): Promise<FileRegistryClient> {
    const interval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval <= 0) {
      throw new ConfigError('pollIntervalMs', `must be a positive number of ms, got ${interval}`);
    }
    throwIfAborted(options.signal);
    const absolute = resolve(path);
    const logger = options.logger ?? defaultLogger();
    const adopter = new RegistryAdopter({ ...options, logger, source: absolute });
    let stamp: string;
    try {
      stamp = await fileStamp(absolute);
    } catch (cause) {
      throw unreadableRegistryError(absolute, cause);
    }
    const text = await readRegistryText(absolute, options.maxRegistryBytes);
    throwIfAborted(options.signal);
    adopter.adoptInitial(text);
    const log = logger.child({ component: 'registry', source: absolute });
    return new FileRegistryClient(absolute, adopter, log, stamp, text, options);
  }

  /** {@inheritDoc RegistryClient.current} */
  current(): Registry {
    return this.#adopter.current()!;
  }

  /** {@inheritDoc RegistryClient.subscribe} */
  subscribe(listener: (registry: Registry) => void): () => void {
    return this.#adopter.subscribe(listener);
  }

  /** Calls `listener` with every rejected update; returns the unsubscribe function. */
  subscribeRejections(listener: (rejection: RegistryRejection) => void): () => void {
    return this.#adopter.subscribeRejections(listener);
  }

  /**
   * Checks the file now rather than at the next tick (after any check in progress). Resolves
   * to the decision about changed content, or undefined if the file did not change.
   */
  async checkNow(): Promise<AdoptionResult | undefined> {
    while (this.#running !== undefined) await this.#running;
    return this.#check();
  }

  /** Stops polling and waits for a check in progress. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    await this.#running?.catch(() => undefined);
  }

  async #tick(): Promise<void> {
    if (this.#running !== undefined) return;
    try {
      await this.#check();
    } catch (err) {
      // #check handles every expected failure; this is the last guard of the poll loop.
      this.#log.error({ err }, 'registry file check failed unexpectedly');
    }
  }

  #check(): Promise<AdoptionResult | undefined> {
    const running = this.#checkOnce().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  async #checkOnce(): Promise<AdoptionResult | undefined> {
    if (this.#closed) return undefined;
    let stamp: string;
    let text: string;
    try {
      stamp = await fileStamp(this.path);
      if (stamp === this.#stamp) return undefined;
      text = await readRegistryText(this.path, this.#maxBytes);
    } catch (cause) {
      if (cause instanceof RegistryFormatError) {
        this.#stamp = stamp!;
        return this.#adopter.reject('malformed', cause);
      }
      const failure = `unreadable:${errnoCode(cause) ?? 'error'}`;
      if (failure === this.#stamp) return undefined; // already reported
      this.#stamp = failure;
      return this.#adopter.reject('unreadable', unreadableRegistryError(this.path, cause));
    }
    this.#stamp = stamp;
    if (text === this.#text || this.#closed) return undefined;
    this.#text = text;
    return this.#adopter.offer(text);
  }
}
