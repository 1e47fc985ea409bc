/**
 * The daemon's durable acceptance, around a {@link DurableStore}: the POST path's broadcast that
 * stores the artifact durably before the API answers 201, the deletion of a record when its
 * artifact leaves its channel, and the re-broadcast of every record at start.
 * @module
 */
import { join } from 'node:path';
import { type ArtifactId, artifactId, type Channel } from '../broadcast/index.ts';
import { ArtifactExpiredError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Node } from '../node/index.ts';
import type { AcceptedRecord, DurableMetrics, DurableStore } from './durable-store.ts';
import { splitUploadBody } from './upload-body.ts';

/** Broadcasts a POST body on a channel and resolves with its id and size (see http-api.ts). */
export type AcceptBody = (
  body: AsyncGenerator<Buffer>,
  channel: Channel,
  thresholdBytes: number,
  opts: { attributes: Uint8Array | undefined; urgent: boolean },
) => Promise<{ id: ArtifactId; size: number }>;

const NO_ATTRIBUTES = new Uint8Array(0);

/**
 * The POST path's broadcast with durability: a body of at most `thresholdBytes` is read whole,
 * its record written and fsynced, and only then broadcast (a broadcast refused deletes the
 * record). A larger body is chunked by `broadcastStream`: with a chunk store on disk
 * (`chunkDir(channel)` gives its folder) the store's files of the artifact are fsynced and a
 * record without body notes its attributes and time; with a chunk store in memory the body is
 * written to the record as it passes. Resolves once the record is durable; throws
 * `DurableWriteError` (503) otherwise.
 */
export function durableAccept(
  store: DurableStore,
  chunkDir: (channel: string) => string | undefined,
): AcceptBody {
  return async (body, channel, thresholdBytes, opts) => {
    const attributes = opts.attributes ?? NO_ATTRIBUTES;
    const b = await splitUploadBody(body, thresholdBytes);
    if (b.kind === 'whole') {
      const bytes = b.bytes;
      const id = artifactId(bytes);
      await store.write(channel.name, id, 'whole', bytes, attributes);
      try {
        channel.broadcast(bytes, opts);
      } catch (err) {
        await store.remove(channel.name, id);
        throw err;
      }
      return { id, size: bytes.length };
    }
    const dir = chunkDir(channel.name);
    let id: ArtifactId;
    if (dir !== undefined) {
      id = await channel.broadcastStream(b.chunks, { attributes: opts.attributes });
      // DiskChunkStore does not fsync: the files of this artifact and their folder, now.
      const files = ['data', 'manifest', 'have'].map((ext) => join(dir, `${id}.${ext}`));
      await store.syncFiles(channel.name, files, dir);
      await store.write(channel.name, id, 'chunk-store', NO_ATTRIBUTES, attributes);
    } else {
      const record = store.streamed(channel.name, attributes);
      try {
        id = await channel.broadcastStream(record.tee(b.chunks), { attributes: opts.attributes });
      } catch (err) {
        await record.discard();
        throw err;
      }
      await record.commit(id);
    }
    // Left the channel already (evicted, aborted) while its record was being written.
    if (channel.chunked(id) === undefined) await store.remove(channel.name, id);
    return { id, size: b.size() };
  };
}

/** Deletes an artifact's record when it leaves its channel; returns the unsubscribe function. */
export function removeRecordsOnRemoval(node: Node, store: DurableStore): () => void {
  const offs = node.channels().map((name) =>
    node.channel(name).onRemoved((id) => {
      void store.remove(name, id);
    }),
  );
  return () => {
    for (const off of offs) off();
  };
}

/** What {@link restoreAccepted} did, per outcome. */
export interface RestoreSummary {
  restored: number;
  expired: number;
  corrupt: number;
  refused: number;
  missing: number;
}

/**
 * At start (after the node resumed its chunk stores): broadcasts again every artifact with a
 * record, with its age (`ageMs = now - createdAt`, so it keeps its expiry). Expired records are
 * deleted; unreadable ones set aside; a record the channel refuses (full) is kept for the next
 * start. A `chunk-store` record needs nothing more than the chunk store's own resume (which
 * re-advertises the artifact, aged from now, without its attributes); if the store lost it,
 * the record is deleted and the loss logged. Never throws for a record's content.
 */
export async function restoreAccepted(
  node: Node,
  store: DurableStore,
  opts: { logger: Logger; metrics?: DurableMetrics; now?: () => number },
): Promise<RestoreSummary> {
  const now = opts.now ?? Date.now;
  const summary: RestoreSummary = { restored: 0, expired: 0, corrupt: 0, refused: 0, missing: 0 };
  const count = (channel: string, outcome: keyof RestoreSummary) => {
    summary[outcome]++;
    if (outcome !== 'corrupt') {
      opts.metrics?.durableRestored.inc({ channel, outcome });
    }
  };
  for (const name of node.channels()) {
    const channel = node.channel(name);
    const scan = await store.scan(name, channel.stats().maxAgeMs);
    summary.expired += scan.expired;
    summary.corrupt += scan.corrupt;
    for (const record of scan.live) {
      count(name, await restoreOne(channel, store, record, now, opts.logger));
    }
  }
  opts.logger.info({ ...summary }, 'durable records restored');
  return summary;
}

async function restoreOne(
  channel: Channel,
  store: DurableStore,
  record: AcceptedRecord,
  now: () => number,
  logger: Logger,
): Promise<keyof RestoreSummary> {
  const attributes = record.attributes;
  try {
    if (record.kind === 'whole') {
      let bytes: Uint8Array;
      try {
        bytes = await store.readWhole(record);
      } catch (err) {
        await store.setAside(record, (err as Error).message);
        return 'corrupt';
      }
      channel.broadcast(bytes, { attributes, ageMs: Math.max(0, now() - record.createdAt) });
      return 'restored';
    }
    if (record.kind === 'chunked') {
      const id = await channel.broadcastStream(store.readChunked(record), {
        attributes,
        ageMs: Math.max(0, now() - record.createdAt),
      });
      if (id !== record.id) {
        // Another chunk size since: broadcast under its new id, which has no record.
        logger.warn({ channel: channel.name, was: record.id, id }, 'restored under another id');
        await store.remove(channel.name, record.id);
      }
      return 'restored';
    }
    if (channel.chunked(record.id)?.complete) return 'restored';
    logger.error(
      { channel: channel.name, id: record.id },
      'acknowledged chunked artifact missing from the chunk store: lost',
    );
    await store.remove(channel.name, record.id);
    return 'missing';
  } catch (err) {
    if (err instanceof ArtifactExpiredError) {
      await store.remove(channel.name, record.id);
      return 'expired';
    }
    logger.warn({ err, channel: channel.name, id: record.id }, 'durable record not restored');
    return 'refused';
  }
}
