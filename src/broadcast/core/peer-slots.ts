import type { ConnId } from '../../transport/link.ts';
import type { ArtifactId, CommitNumber, SlotNumber } from '../types.ts';

/** A receiver's record of one slot of one peer. */
interface SlotRecord {
  connId: ConnId;
  commit: CommitNumber;
  /** The artifact the slot holds; undefined once withdrawn. */
  id: ArtifactId | undefined;
}

/** The outcome of applying one update. */
export type ApplyOutcome =
  | { kind: 'stale' }
  | { kind: 'applied'; replaced: ArtifactId | undefined };

/**
 * What one peer has told us about one channel: its slots, as of the newest update of each.
 * An update wins only with a higher connection id, or the same one and a higher commit
 * number. At most `maxSlots` records are kept (the caller refuses higher slot numbers).
 */
export class PeerSlots {
  readonly #slots = new Map<SlotNumber, SlotRecord>();
  readonly #ids = new Map<ArtifactId, SlotNumber>();

  /** Whether this peer currently advertises `id`. */
  advertises(id: ArtifactId): boolean {
    return this.#ids.has(id);
  }

  /** Ids this peer currently advertises. */
  ids(): IterableIterator<ArtifactId> {
    return this.#ids.keys();
  }

  get size(): number {
    return this.#slots.size;
  }

  /**
   * Applies an update of `slot` to hold `id` (undefined = withdrawn). Returns 'stale' if it is
   * not newer than what we have; otherwise the id it replaced, if any.
   */
  apply(
    slot: SlotNumber,
    connId: ConnId,
    commit: CommitNumber,
    id: ArtifactId | undefined,
  ): ApplyOutcome {
    const old = this.#slots.get(slot);
    if (old && (old.connId > connId || (old.connId === connId && old.commit >= commit))) {
      return { kind: 'stale' };
    }
    const replaced = old?.id;
    if (replaced !== undefined && this.#ids.get(replaced) === slot) this.#ids.delete(replaced);
    this.#slots.set(slot, { connId, commit, id });
    if (id !== undefined) {
      // A peer advertising one id in two slots: the newest slot is the one we track.
      this.#ids.set(id, slot);
    }
    return { kind: 'applied', replaced };
  }
}
