/**
 * An upload's body, split at a channel's chunking threshold: read whole if it ends within it,
 * else streamed (the part read so far first), so that a large body is never held in memory.
 * @module
 */

/** A body read whole, or the stream of all of it (its size counted as it is read). */
export type UploadBody =
  | { kind: 'whole'; bytes: Buffer }
  | { kind: 'stream'; chunks: AsyncGenerator<Buffer>; size: () => number };

/**
 * Reads `body` up to `thresholdBytes`: if it ends there, it is `whole`; otherwise `chunks`
 * yields all of it, from the first byte, and `size()` tells how much was yielded.
 */
export async function splitUploadBody(
  body: AsyncGenerator<Buffer>,
  thresholdBytes: number,
): Promise<UploadBody> {
  const head: Buffer[] = [];
  let size = 0;
  let next = await body.next();
  while (!next.done && size + next.value.length <= thresholdBytes) {
    head.push(next.value);
    size += next.value.length;
    next = await body.next();
  }
  if (next.done) return { kind: 'whole', bytes: Buffer.concat(head, size) };
  const first = next.value;
  async function* all(): AsyncGenerator<Buffer> {
    yield* head;
    yield first;
    size += first.length;
    for await (const chunk of body) {
      size += chunk.length;
      yield chunk;
    }
  }
  return { kind: 'stream', chunks: all(), size: () => size };
}
