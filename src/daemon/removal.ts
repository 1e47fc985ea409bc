/**
 * A node the registry no longer lists: the transport closes every link when an adopted version
 * leaves this node out of its subnet (it warns "this node is not a member of its subnet") and
 * the node then sits idle. The daemon watches for it: after `limits.removedGraceMs` without
 * being listed in the adopted registry, {@link RemovalWatch.removed} resolves and the CLI stops
 * the node gracefully and exits 0 (a systemd unit with `Restart=on-failure` leaves it stopped).
 * Listed again within the grace (a registry distributed in the wrong order, a removal undone),
 * the node carries on.
 * @module
 */
import type { NodeId } from '../identity/index.ts';
import type { Logger } from '../log.ts';
import type { Registry, RegistryClient, SubnetId } from '../registry/index.ts';

/** Why the node should exit: the version that first left it out, and whether it was listed. */
export interface Removal {
  /** The first adopted version of the stretch that did not list this node. */
  version: number;
  /** Whether an earlier adopted version listed it (removed) or none did (never added). */
  wasListed: boolean;
}

/** A watch on this node's membership. */
export interface RemovalWatch {
  /** Resolves once the node has not been listed for the grace period; never otherwise. */
  readonly removed: Promise<Removal>;
  /** Stops watching (the pending grace timer too). */
  stop(): void;
}

/** The line logged when a node exits for a {@link Removal}. */
export function removalMessage(removal: Removal): string {
  return removal.wasListed
    ? `removed from registry version ${removal.version}; exiting`
    : `not listed in registry version ${removal.version}; exiting`;
}

/**
 * Watches whether `registry` lists `nodeId` in `subnet`, from its current version on: a version
 * that does not starts the grace timer (logged at warn), one that does stops it (logged at info).
 */
export function watchRemoval(opts: {
  registry: RegistryClient;
  subnet: string;
  nodeId: NodeId;
  graceMs: number;
  logger: Logger;
}): RemovalWatch {
  const { registry, nodeId, graceMs, logger } = opts;
  const subnet = opts.subnet as SubnetId;
  let resolveRemoved: (removal: Removal) => void = () => undefined;
  const removed = new Promise<Removal>((resolve) => {
    resolveRemoved = resolve;
  });
  let wasListed = false;
  let pending: { version: number; timer: NodeJS.Timeout } | undefined;

  const onVersion = (r: Registry): void => {
    const listed = (r.subnets.get(subnet) ?? []).includes(nodeId);
    if (listed) {
      if (pending !== undefined) {
        clearTimeout(pending.timer);
        pending = undefined;
        logger.info({ version: r.version }, `listed again in registry version ${r.version}`);
      }
      wasListed = true;
      return;
    }
    if (pending !== undefined) return;
    const removal: Removal = { version: r.version, wasListed };
    logger.warn(
      { version: r.version, graceMs },
      `${wasListed ? 'removed from' : 'not listed in'} registry version ${r.version}: ` +
        `exiting in ${graceMs} ms unless listed again`,
    );
    pending = { version: r.version, timer: setTimeout(() => resolveRemoved(removal), graceMs) };
  };

  const unsubscribe = registry.subscribe(onVersion);
  const current = registry.current();
  if (current !== undefined) onVersion(current);
  return {
    removed,
    stop: () => {
      unsubscribe();
      if (pending !== undefined) clearTimeout(pending.timer);
      pending = undefined;
    },
  };
}
