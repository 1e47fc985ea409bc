import { ArtifactTooLargeError } from '../../errors.ts';
import { MAX_ATTRIBUTES_BYTES } from '../config.ts';
import { artifactId } from '../ids.ts';
import type { ArtifactId } from '../types.ts';
import type { CoreParts } from './assembly.ts';
import { artifactKey } from './channel-state.ts';
import { checkManifest } from './chunk-state.ts';

/**
 * The artifacts the application broadcasts (stage 1, `broadcast`), and those the chunk store
 * held at start: each is admitted (charged to this node), takes a slot and is advertised.
 * `touch(now)` marks the core as having work (see `BroadcastCore`).
 */

/** See `BroadcastCore.add`. */
export function addLocal(
  parts: CoreParts,
  channel: string,
  bytes: Uint8Array,
  opts: { attributes?: Uint8Array; urgent?: boolean; ageMs?: number },
  now: number,
  touch: (now: number) => void,
): ArtifactId {
  const { ctx, holdings, adverts, whole } = parts;
  const ch = ctx.channel(channel);
  const attributes = opts.attributes ?? new Uint8Array(0);
  if (bytes.length > ch.cfg.maxArtifactBytes) {
    throw new ArtifactTooLargeError(
      `artifact of ${bytes.length} bytes exceeds channel '${channel}' limit of ${ch.cfg.maxArtifactBytes}`,
    );
  }
  checkAttributes(attributes);
  ctx.now = now;
  const createdAt = holdings.createdAt(ch, opts.ageMs ?? 0);
  const id = artifactId(bytes);
  if (ch.table.has(id)) return id;
  const key = artifactKey(channel, id);
  // Broadcast again by the application: no longer dismissed.
  ctx.undismiss(key);
  const held = ch.retention.has(key);
  if (!held) holdings.admit(ch, key, id, 'self', bytes.length, attributes, createdAt);
  try {
    ch.pool.put({ channel, id, bytes, attributes });
  } catch (err) {
    if (!held) ch.retention.remove(key);
    throw err;
  }
  const inline = bytes.length <= ch.cfg.pushThresholdBytes || opts.urgent === true;
  adverts.advertise(ch, {
    id,
    size: bytes.length,
    attributes,
    inline: inline ? bytes : undefined,
    pushedBy: undefined,
  });
  // We hold it now: stop any download of it.
  whole.forget(key);
  touch(now);
  return id;
}

/** See `BroadcastCore.addChunked`. */
export function addLocalChunked(
  parts: CoreParts,
  channel: string,
  id: ArtifactId,
  manifest: Uint8Array,
  attributes: Uint8Array,
  ageMs: number,
  now: number,
  touch: (now: number) => void,
): ArtifactId {
  const { ctx, holdings, chunked, whole } = parts;
  const ch = ctx.channel(channel);
  ctx.now = now;
  const createdAt = holdings.createdAt(ch, ageMs);
  const m = checkManifest(ch, id, manifest);
  if (!m)
    throw new ArtifactTooLargeError(`manifest of ${id} is invalid or over the channel's limits`);
  checkAttributes(attributes);
  const key = artifactKey(channel, id);
  if (ch.table.has(id)) return id;
  whole.forget(key);
  ctx.undismiss(key);
  if (!ch.retention.has(key)) {
    holdings.admit(ch, key, id, 'self', m.totalBytes, attributes, createdAt);
  }
  chunked.addHeld(ch, key, id, m, manifest, attributes);
  touch(now);
  return id;
}

/** See `BroadcastCore.resume`. */
export function resumeStored(
  parts: CoreParts,
  channel: string,
  stored: readonly { id: ArtifactId; manifest: Uint8Array; chunks: readonly number[] }[],
  now: number,
  touch: (now: number) => void,
): number {
  const { ctx, holdings, chunked } = parts;
  const ch = ctx.channel(channel);
  ctx.now = now;
  // Held again, charged to this node, and aged from now (the store keeps no age).
  for (const a of stored) {
    const key = artifactKey(channel, a.id);
    const m = checkManifest(ch, a.id, a.manifest);
    if (!m || ch.retention.has(key) || chunked.has(key)) continue;
    holdings.admit(ch, key, a.id, 'self', m.totalBytes, new Uint8Array(0), now);
  }
  const n = chunked.resume(ch, stored);
  for (const a of stored) {
    const key = artifactKey(channel, a.id);
    if (!chunked.has(key)) ch.retention.remove(key);
  }
  touch(now);
  return n;
}

/** Throws ERR_ARTIFACT_TOO_LARGE if `attributes` are over the limit. */
function checkAttributes(attributes: Uint8Array): void {
  if (attributes.length > MAX_ATTRIBUTES_BYTES) {
    throw new ArtifactTooLargeError(
      `attributes of ${attributes.length} bytes exceed the limit of ${MAX_ATTRIBUTES_BYTES}`,
    );
  }
}
