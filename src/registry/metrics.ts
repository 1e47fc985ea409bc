/**
 * Registry metrics, always on an injected prom-client registry (never the global one):
 * `subnet_p2p_registry_version`, `subnet_p2p_registry_updates_adopted_total`,
 * `subnet_p2p_registry_updates_rejected_total{reason}`.
 * @module
 */
import { Counter, Gauge, type Registry as PromRegistry } from 'prom-client';
import type { RegistryRejectReason } from './types.ts';

/** Every reject reason, so each label exists (at 0) from the start. */
export const REGISTRY_REJECT_REASONS: readonly RegistryRejectReason[] = [
  'malformed',
  'unsigned',
  'bad_signature',
  'not_newer',
  'unreadable',
];

/** The registry's metrics. Several clients may share one prom-client registry. */
export class RegistryMetrics {
  /** `subnet_p2p_registry_version`: the version in use. */
  readonly version: Gauge;
  /** `subnet_p2p_registry_updates_adopted_total`. */
  readonly adopted: Counter;
  /** `subnet_p2p_registry_updates_rejected_total{reason}`. */
  readonly rejected: Counter<'reason'>;

  /** Registers on `register`, reusing metrics already there; with none, registers nowhere. */
  constructor(register?: PromRegistry) {
    const registers = register === undefined ? [] : [register];
    const existing = (name: string) => register?.getSingleMetric(name);

    const version = existing('subnet_p2p_registry_version');
    this.version =
      version instanceof Gauge
        ? version
        : new Gauge({
            name: 'subnet_p2p_registry_version',
            help: 'Version of the registry this node currently uses',
            registers,
          });
    const adopted = existing('subnet_p2p_registry_updates_adopted_total');
    this.adopted =
      adopted instanceof Counter
        ? adopted
        : new Counter({
            name: 'subnet_p2p_registry_updates_adopted_total',
            help: 'Registry versions adopted',
            registers,
          });
    const rejected = existing('subnet_p2p_registry_updates_rejected_total');
    this.rejected =
      rejected instanceof Counter
        ? (rejected as Counter<'reason'>)
        : new Counter({
            name: 'subnet_p2p_registry_updates_rejected_total',
            help: 'Registry updates rejected (the last good version is kept), by reason',
            labelNames: ['reason'],
            registers,
          });
    for (const reason of REGISTRY_REJECT_REASONS) this.rejected.inc({ reason }, 0);
  }
}
