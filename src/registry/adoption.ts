/**
 * The adoption rules both registry clients share: validate every offered version, adopt only
 * strictly newer ones, keep the last good version when one is rejected, log and count every
 * decision, and tell subscribers about adopted versions.
 * @module
 */
import type { KeyObject } from 'node:crypto';
import type { Registry as PromRegistry } from 'prom-client';
import { RegistryFormatError, RegistryVersionError, type SubnetP2pError } from '../errors.ts';
import { defaultLogger, type Logger } from '../log.ts';
import { RegistryMetrics } from './metrics.ts';
import { toOperatorPublicKey } from './operator-key.ts';
import { evaluateRegistry } from './registry.ts';
import type { Registry, RegistryRejectReason } from './types.ts';

/** Outcome of offering a registry version to a client. */
export type AdoptionResult =
  | { readonly adopted: true; readonly registry: Registry }
  | {
      readonly adopted: false;
      readonly reason: RegistryRejectReason;
      /** What is wrong: RegistryFormatError, RegistrySignatureError, RegistryVersionError... */
      readonly error: SubnetP2pError;
    };

/** A rejected update, as told to rejection subscribers. */
export type RegistryRejection = Extract<AdoptionResult, { adopted: false }>;

/** Options shared by the registry clients. */
export interface RegistryAdopterOptions {
  /** The operator's public key (KeyObject or SPKI PEM); when set, only versions it signed count. */
  readonly operatorPublicKey?: KeyObject | string;
  /** Where decisions are logged; defaults to `defaultLogger()`. */
  readonly logger?: Logger;
  /** The prom-client registry the metrics go on; none: metrics are kept but not exported. */
  readonly metrics?: PromRegistry;
  /** Where versions come from, for log lines (e.g. the file path). */
  readonly source?: string;
}

/** The one implementation of the adoption rules; the clients feed it. */
export class RegistryAdopter {
  readonly #operatorPublicKey: KeyObject | undefined;
  readonly #log: Logger;
  readonly #metrics: RegistryMetrics;
  readonly #listeners = new Set<(registry: Registry) => void>();
  readonly #rejectionListeners = new Set<(rejection: RegistryRejection) => void>();
  #current: Registry | undefined;

  /** Throws `IdentityError` if the operator key is not an Ed25519 public key. */
  constructor(options: RegistryAdopterOptions = {}) {
    this.#operatorPublicKey =
      options.operatorPublicKey === undefined
        ? undefined
        : toOperatorPublicKey(options.operatorPublicKey);
    this.#log = (options.logger ?? defaultLogger()).child({
      component: 'registry',
      ...(options.source === undefined ? {} : { source: options.source }),
    });
    this.#metrics = new RegistryMetrics(options.metrics);
  }

  /** The latest adopted version. */
  current(): Registry | undefined {
    return this.#current;
  }

  /** Calls `listener` with each newly adopted version; returns the unsubscribe function. */
  subscribe(listener: (registry: Registry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` with each rejected update; returns the unsubscribe function. */
  subscribeRejections(listener: (rejection: RegistryRejection) => void): () => void {
    this.#rejectionListeners.add(listener);
    return () => this.#rejectionListeners.delete(listener);
  }

  /**
   * Offers a document (JSON text or parsed value): validated, signature checked, then adopted
   * if strictly newer than the current version. Never throws for a bad document.
   */
  offer(input: unknown): AdoptionResult {
    const evaluation = evaluateRegistry(input, { operatorPublicKey: this.#operatorPublicKey });
    if (!evaluation.ok) return this.reject(evaluation.reason, evaluation.error);
    return this.adopt(evaluation.registry);
  }

  /**
   * Adopts the first version, which must be good: a {@link Registry} (trusted as is), or a
   * document (JSON text or parsed value) that is validated and signature-checked. Throws the
   * typed error of a bad document (RegistryFormatError, RegistrySignatureError) without
   * counting it as a rejected update, or RegistryVersionError if a version is already held.
   */
  adoptInitial(input: unknown): Registry {
    let registry: Registry;
    if (isRegistry(input)) {
      registry = input;
    } else {
      const evaluation = evaluateRegistry(input, { operatorPublicKey: this.#operatorPublicKey });
      if (!evaluation.ok) throw evaluation.error;
      registry = evaluation.registry;
    }
    const result = this.adopt(registry);
    if (!result.adopted) throw result.error;
    return registry;
  }

  /** Adopts an already validated registry if it is strictly newer than the current one. */
  adopt(registry: Registry): AdoptionResult {
    const held = this.#current;
    if (held !== undefined && registry.version <= held.version) {
      return this.reject('not_newer', new RegistryVersionError(held.version, registry.version));
    }
    this.#current = registry;
    this.#metrics.version.set(registry.version);
    this.#metrics.adopted.inc();
    this.#log.info(
      {
        version: registry.version,
        previous: held?.version,
        nodes: registry.nodes.size,
        subnets: registry.subnets.size,
        signed: registry.signed,
      },
      'registry version adopted',
    );
    for (const listener of [...this.#listeners]) {
      try {
        listener(registry);
      } catch (err) {
        this.#log.error({ err }, 'registry subscriber threw');
      }
    }
    return { adopted: true, registry };
  }

  /** Records a rejected update (logged at warn, counted); the current version is kept. */
  reject(reason: RegistryRejectReason, error: SubnetP2pError): RegistryRejection {
    this.#metrics.rejected.inc({ reason });
    this.#log.warn(
      {
        reason,
        ...(error instanceof RegistryFormatError ? { field: error.field } : {}),
        held: this.#current?.version,
      },
      `registry update rejected (${reason}): ${error.message}`,
    );
    const rejection: RegistryRejection = { adopted: false, reason, error };
    for (const listener of [...this.#rejectionListeners]) {
      try {
        listener(rejection);
      } catch (err) {
        this.#log.error({ err }, 'registry rejection subscriber threw');
      }
    }
    return rejection;
  }
}

/** Whether `value` is a built {@link Registry} (rather than a document). */
export function isRegistry(value: unknown): value is Registry {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Partial<Registry>).nodes instanceof Map &&
    (value as Partial<Registry>).subnets instanceof Map
  );
}
