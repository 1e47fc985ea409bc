import type { NodeId } from '../../identity/index.ts';
import type { ArtifactId, CommitNumber, SlotNumber } from '../types.ts';

/** What a live slot holds. */
export interface SlotEntry {
  id: ArtifactId;
  size: number;
  /** Set for a chunked artifact: its manifest's size (goes in the advert). */
  manifestSize?: number;
  attributes: Uint8Array;
  /** The artifact's bytes when it travels inline (pushed), else undefined (advertised). */
  inline: Uint8Array | undefined;
  /**
   * Relayed by us after its origin, this node, pushed it to us inline: an advert to a peer
   * the origin also links to says `pushed`.
   */
  pushedBy: NodeId | undefined;
  /**
   * Relayed by us after a download from this node (a whole artifact it advertised to us). A
   * peer that node also links to most likely heard its advert too and fetches the artifact
   * itself, so our advert to that peer waits for its receipt as after a push (see Receipts).
   */
  fetchedFrom?: NodeId | undefined;
  /** When its origin broadcast it, by this node's clock: its age goes in every update. */
  createdAt: number;
  commit: CommitNumber;
}

/**
 * The sender side of one channel: every live artifact holds a slot (0 <= slot < maxSlots).
 * Each change (an artifact added or withdrawn) takes the next commit number, so receivers can
 * tell newer from older updates of a slot. Freed slots are reused, lowest first.
 */
export class SlotTable {
  readonly maxSlots: number;
  readonly #slots = new Map<SlotNumber, SlotEntry>();
  readonly #byId = new Map<ArtifactId, SlotNumber>();
  /** Freed slots below #next, kept sorted descending so pop() gives the lowest. */
  #free: SlotNumber[] = [];
  #next = 0;
  #commit = 0;

  constructor(maxSlots: number) {
    this.maxSlots = maxSlots;
  }

  get size(): number {
    return this.#slots.size;
  }

  get full(): boolean {
    return this.#slots.size >= this.maxSlots;
  }

  has(id: ArtifactId): boolean {
    return this.#byId.has(id);
  }

  slotOf(id: ArtifactId): SlotNumber | undefined {
    return this.#byId.get(id);
  }

  get(slot: SlotNumber): SlotEntry | undefined {
    return this.#slots.get(slot);
  }

  /** Takes a slot for `entry`; returns it, or undefined when the table is full. */
  add(entry: Omit<SlotEntry, 'commit'>): { slot: SlotNumber; commit: CommitNumber } | undefined {
    const existing = this.#byId.get(entry.id);
    if (existing !== undefined)
      return { slot: existing, commit: this.#slots.get(existing)!.commit };
    if (this.full) return undefined;
    const slot = this.#free.length > 0 ? this.#free.pop()! : (this.#next++ as SlotNumber);
    const commit = ++this.#commit as CommitNumber;
    this.#slots.set(slot, { ...entry, commit });
    this.#byId.set(entry.id, slot);
    return { slot, commit };
  }

  /** Frees the slot of `id`; returns it and the commit of the withdrawal, or undefined. */
  remove(id: ArtifactId): { slot: SlotNumber; commit: CommitNumber } | undefined {
    const slot = this.#byId.get(id);
    if (slot === undefined) return undefined;
    this.#byId.delete(id);
    this.#slots.delete(slot);
    // Keep #free sorted descending (freed slots are few; insertion is fine).
    let i = this.#free.length;
    while (i > 0 && this.#free[i - 1]! < slot) i--;
    this.#free.splice(i, 0, slot);
    return { slot, commit: ++this.#commit as CommitNumber };
  }

  /** Slots below the highest ever used that are free now. */
  freeSlots(): readonly SlotNumber[] {
    return this.#free;
  }

  /** The latest commit number. */
  get commit(): CommitNumber {
    return this.#commit as CommitNumber;
  }

  /** Every live slot. */
  entries(): IterableIterator<[SlotNumber, SlotEntry]> {
    return this.#slots.entries();
  }
}
