/**
 * A registry client fed by hand: tests and simulations publish versions to it and it applies
 * the same adoption rules as the file client.
 * @module
 */
import {
  type AdoptionResult,
  RegistryAdopter,
  type RegistryAdopterOptions,
  type RegistryRejection,
} from './adoption.ts';
import type { RegistryDocument } from './document.ts';
import type { Registry, RegistryClient } from './types.ts';

/** Options of {@link InMemoryRegistryClient}. */
export type InMemoryRegistryClientOptions = Omit<RegistryAdopterOptions, 'source'>;

/** A {@link RegistryClient} whose versions come from {@link InMemoryRegistryClient.publish}. */
export class InMemoryRegistryClient implements RegistryClient {
  readonly #adopter: RegistryAdopter;

  /**
   * @param initial A first version: a built Registry (taken as is), or a document (JSON text or
   *   parsed) that must be valid (and signed by the operator key, if one is configured); a bad
   *   one throws RegistryFormatError or RegistrySignatureError. Without it, `current()` is
   *   undefined until the first publish.
   */
  constructor(
    initial?: Registry | RegistryDocument | string,
    options: InMemoryRegistryClientOptions = {},
  ) {
    this.#adopter = new RegistryAdopter({ ...options, source: 'memory' });
    if (initial !== undefined) this.#adopter.adoptInitial(initial);
  }

  /** {@inheritDoc RegistryClient.current} */
  current(): Registry | undefined {
    return this.#adopter.current();
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
   * Offers a new version (document or JSON text). Adopted if valid, signed as required and
   * strictly newer; otherwise rejected with the reason, and the current version kept.
   */
  publish(docOrText: RegistryDocument | string): AdoptionResult {
    return this.#adopter.offer(docOrText);
  }

  /** Nothing to stop; present for the {@link RegistryClient} contract. Idempotent. */
  async close(): Promise<void> {}
}
